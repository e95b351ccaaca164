"""The clients a process needs, built once and handed to whatever uses them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from confluent_kafka.admin import AdminClient
from sqlalchemy.ext.asyncio import AsyncEngine

from frolic import topics
from frolic.clock import Clock, wall_clock
from frolic.config import Settings
from frolic.db.session import create_engine
from frolic.redis_client import AsyncRedis, connect


@dataclass
class Resources:
    settings: Settings
    db: AsyncEngine
    redis: AsyncRedis  # one server or a Cluster, as the URL says (frolic.redis_client)
    kafka_admin: AdminClient
    clock: Clock


@asynccontextmanager
async def open_resources(settings: Settings) -> AsyncIterator[Resources]:
    assert settings.database_url, "resolve the stack's endpoints first"
    assert settings.redis_url, "resolve the stack's endpoints first"
    db = create_engine(settings.database_url)
    client = connect(settings.redis_url)
    try:
        clock = wall_clock(settings.clock_offset_seconds)
        yield Resources(settings, db, client, topics.admin_client(settings), clock)
    finally:
        await asyncio.gather(db.dispose(), client.aclose())
