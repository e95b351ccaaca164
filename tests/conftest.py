"""Session fixtures: one real embedded stack (PostgreSQL, Redis, tansu) for the whole run."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from frolic.config import Settings
from frolic.db import migrate
from frolic.db.session import async_url, create_engine
from frolic.stack import Endpoints, Stack

pytest_plugins = ["tests.plugins.redis_cluster"]

# Tests are hermetic: a developer's own FROLIC_* settings must not leak in.
for _name in [n for n in os.environ if n.startswith("FROLIC_")]:
    del os.environ[_name]


@pytest.fixture(scope="session")
def stack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="session")
def endpoints(stack_dir: Path) -> Iterator[Endpoints]:
    with Stack(Settings(state_dir=stack_dir)) as started:
        migrate.upgrade(started.database_url)
        yield started


@pytest.fixture(scope="session")
def settings(endpoints: Endpoints, stack_dir: Path) -> Settings:
    return endpoints.apply(Settings(state_dir=stack_dir)).with_local_secrets()


async def create_database(server_url: str) -> str:
    """A new, empty database on the same server; its URL."""
    url = make_url(server_url)
    name = f"t_{uuid.uuid4().hex[:12]}"
    server = create_async_engine(
        async_url(url.set(database="postgres").render_as_string(hide_password=False)),
        isolation_level="AUTOCOMMIT",
    )
    try:
        async with server.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await server.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture
async def empty_database(endpoints: Endpoints) -> str:
    return await create_database(endpoints.database_url)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """An engine on the session's database (folders with their own settings define theirs)."""
    assert settings.database_url
    engine = create_engine(settings.database_url)
    yield engine
    await engine.dispose()
