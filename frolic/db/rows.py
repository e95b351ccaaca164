"""Reading rows the way every admin domain does: by id with a 404 that names the row, a
count, and keyset pages by id, so that a page deep into a long list costs what the first
does."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from frolic.db.models import Base
from frolic.errors import NotFound


class _HasId(Protocol):
    id: int


R = TypeVar("R", bound=_HasId)


async def page_of(
    session: AsyncSession, query: Select[R], key: InstrumentedAttribute[int],
    *, limit: int, after: int,
) -> tuple[list[R], int | None]:  # fmt: skip
    """Up to ``limit`` rows with ``key`` above ``after``, by ``key``; and the cursor of the
    next page (None on the last)."""
    rows = list(await session.scalars(query.where(key > after).order_by(key).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    del rows[limit:]
    return rows, rows[-1].id


M = TypeVar("M", bound=Base)


async def found(session: AsyncSession, model: type[M], ident: int, *, lock: bool = False) -> M:
    """The row with id ``ident``, or a 404 that names it ("no game 7")."""
    row = await session.get(model, ident, with_for_update=lock)
    if row is None:
        raise NotFound(f"no {model.__tablename__.removesuffix('s')} {ident}")
    return row


async def count(session: AsyncSession, query: Select[Any]) -> int:
    return int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
