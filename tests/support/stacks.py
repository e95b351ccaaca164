"""A stack of a test package's own, for tests that stop, restart or flush its servers, which
would pull the ground from under every other test on the session's shared stack."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from frolic.config import Settings
from frolic.db import migrate
from frolic.stack import Stack


@contextmanager
def own_stack(state: Path) -> Iterator[tuple[Stack, Settings]]:
    """Servers started in ``state``, the schema migrated; the stack (for ``stop_server`` and
    ``start_server``) and settings pointing at it, with local secrets."""
    base = Settings(state_dir=state)
    stack = Stack(base)
    with stack as endpoints:
        migrate.upgrade(endpoints.database_url)
        yield stack, endpoints.apply(base).with_local_secrets()
