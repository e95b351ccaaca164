"""``bench all``'s settle: between steps, its own embedded servers emptied as if each step
ran alone (an earlier step's undecided plays re-driven by a later step's allocators made
that step's figures four times worse), and a state folder of your own never touched."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from sqlalchemy import text

from frolic.config import Settings
from frolic.db.session import create_engine
from frolic_bench.cli import _stack


def test_settle_empties_its_own_servers_and_leaves_yours_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("FROLIC_DATABASE_URL", "FROLIC_REDIS_URL", "FROLIC_KAFKA_BOOTSTRAP",
                 "FROLIC_STATE_DIR"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    with _stack() as (settings, _, settle):
        # A table, a key and a topic gone; the database new, and migrated.
        assert _settled(settings, settle) == (False, False, False, True)
    monkeypatch.setenv("FROLIC_STATE_DIR", str(tmp_path))  # a folder of your own
    with _stack() as (settings, _, settle):
        assert _settled(settings, settle) == (True, True, True, True)


def _settled(settings: Settings, settle: Callable[[], None]) -> tuple[bool, bool, bool, bool]:
    """Something left in each server, then ``settle``: whether each is still there (and
    whether the database has Frolic's tables)."""
    database, redis_url = settings.database_url, settings.redis_url
    bootstrap = settings.kafka_bootstrap
    assert database is not None
    assert redis_url is not None
    assert bootstrap is not None
    _leave_something(database, redis_url, bootstrap)
    settle()
    return _left(database, redis_url, bootstrap)


def _leave_something(database: str, redis_url: str, bootstrap: str) -> None:
    asyncio.run(_sql(database, "CREATE TABLE left_behind (n int)"))
    with redis.Redis.from_url(redis_url) as client:
        client.set("left-behind", 1)
    admin = AdminClient({"bootstrap.servers": bootstrap})  # alive until the topic is made
    admin.create_topics([NewTopic("left-behind", 1)])["left-behind"].result(10)


def _left(database: str, redis_url: str, bootstrap: str) -> tuple[bool, bool, bool, bool]:
    table = asyncio.run(_sql(database, "SELECT to_regclass('left_behind') IS NOT NULL"))
    migrated = asyncio.run(_sql(database, "SELECT to_regclass('play_events') IS NOT NULL"))
    with redis.Redis.from_url(redis_url) as client:
        key = bool(client.exists("left-behind"))
    topics = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics
    return bool(table), key, "left-behind" in topics, bool(migrated)


async def _sql(url: str, statement: str) -> object:
    db = create_engine(url)
    try:
        async with db.begin() as conn:
            result = await conn.execute(text(statement))
            return result.scalar() if result.returns_rows else None
    finally:
        await db.dispose()
