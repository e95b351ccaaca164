"""Telling PostgreSQL being away from a bug: an outage is waited out or answered 503 (try
again), a bug is logged with its traceback. And telling both from a refusal: PostgreSQL
answered, and said no to the data itself, which no retry changes.

asyncpg raises ``OSError`` (refused, reset) while connecting, its own connection errors
once connected, ``CannotConnectNowError`` while the server starts or shuts down; SQLAlchemy
wraps some of these in ``DBAPIError`` and re-raises others as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from sqlalchemy import exc as sa

from frolic.errors import NotReady

_OUTAGES = (
    OSError,  # TimeoutError and ConnectionError included
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # starting up, shutting down, crashed
    asyncpg.InterfaceError,  # "connection is closed"
    sa.TimeoutError,  # no connection free in the pool within its timeout
)


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the database cannot be reached now."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, _OUTAGES):
            return True
        if isinstance(current, sa.DBAPIError) and current.connection_invalidated:
            return True
        seen.add(id(current))
        orig = getattr(current, "orig", None)  # what SQLAlchemy wrapped
        if not isinstance(orig, BaseException):
            orig = current.__cause__ or current.__context__
        current = orig
    return False


def is_refusal(exc: BaseException) -> bool:
    """Whether PostgreSQL refused the data itself (SQLSTATE class 22, data exception, or
    23, integrity constraint violation): an answer that no retry changes."""
    if not isinstance(exc, sa.DBAPIError):
        return False
    state = str(getattr(exc.orig, "sqlstate", None) or "")
    return state[:2] in ("22", "23")


@contextmanager
def not_ready_while_away(detail: str, retry_after: float = 2) -> Iterator[None]:
    """PostgreSQL away inside the block is answered ``NotReady(detail)`` (503, try again
    in ``retry_after`` seconds); any other error passes as it is."""
    try:
        yield
    except Exception as exc:
        if not is_outage(exc):
            raise
        raise NotReady(detail, retry_after=retry_after) from exc


def postgres_away(exc: Exception) -> str | None:
    """``frolic.periodic``'s ``away`` for a step that reads PostgreSQL."""
    return "PostgreSQL unavailable" if is_outage(exc) else None
