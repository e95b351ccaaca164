"""Alembic, driven from code: ``frolic migrate`` and ``frolic serve`` both come here.

These functions are synchronous (Alembic runs its own event loop); from async code call
them through ``asyncio.to_thread``.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncConnection

from frolic.db.session import async_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = async_url(url)
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def head() -> str:
    heads = ScriptDirectory(str(MIGRATIONS)).get_heads()
    assert len(heads) == 1, f"migrations have several heads: {heads}"
    return heads[0]


async def current(connection: AsyncConnection) -> str | None:
    """The revision the database is at, or None before the first migration."""

    def read(sync_connection: object) -> str | None:
        return MigrationContext.configure(sync_connection).get_current_revision()  # type: ignore[arg-type]

    return await connection.run_sync(read)
