"""The recorder's statements take each batch's ids as an array. Prepared once and run again
on the same connection, PostgreSQL may keep a generic plan for them, made from the
statistics of the moment: on a ``play_events`` that was nearly empty, a sequential scan.
In a campaign's first minute the table grows by thousands of rows a second long before
autovacuum analyses it, and the kept plan then read the whole table for every batch (the
recorder's lock took 0.2-0.5 s a batch at 5,000 plays/s, ``frolic bench e2e``). The
recorder plans its statements for each batch instead."""

from __future__ import annotations

import asyncio
import time
import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from frolic.config import Settings
from frolic.db import migrate, partitions
from frolic.db.session import create_engine
from frolic.playlog.messages import Decided
from frolic.plays import keeper
from frolic.recorder.ledger import record
from tests.support.factories import create_live_game


async def seq_scans(db: AsyncEngine) -> int:
    async with db.connect() as conn:
        await conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        found = (await conn.execute(text(
            "SELECT sum(seq_scan) FROM pg_stat_user_tables WHERE relname LIKE 'play_events_%'"
        ))).scalar_one()  # fmt: skip
    return int(found)


async def test_a_batch_is_not_recorded_by_a_plan_made_for_an_empty_table(
    settings: Settings, empty_database: str
) -> None:
    await asyncio.to_thread(migrate.upgrade, empty_database)
    own = settings.model_copy(update={"database_url": empty_database})
    game = await create_live_game(own, budgets=(1,))
    # One connection, so each batch reuses the statements the first ones prepared.
    db = create_engine(empty_database, pool_size=1)
    try:
        async with db.begin() as conn:
            # No analysis in the middle of the test to replace a kept plan.
            for day in await keeper.days(conn):  # each day's partition: they are the tables
                await conn.execute(
                    text(f"ALTER TABLE {partitions.name_of(day)} SET (autovacuum_enabled = false)")
                )
            user = (await conn.execute(text(
                "INSERT INTO users (external_id) VALUES ('planned') RETURNING id"),
            )).scalar_one()  # fmt: skip
            epoch = (await conn.execute(text("SELECT redis_epoch FROM games WHERE id = :g"),
                                        {"g": game.game_id})).scalar_one()  # fmt: skip

        def batch(n: int) -> list[Decided]:
            now = time.time()
            return [Decided(str(uuid.uuid4()), game.game_id, user, "planned", now, now + 10,
                            None, now, {"p": 0.0}, epoch) for _ in range(n)]  # fmt: skip

        for _ in range(8):  # past the 5 runs after which PostgreSQL may keep a generic plan
            assert len((await record(db, batch(10), 10.0)).new) == 10
        async with db.begin() as conn:  # the campaign's first minute
            await conn.execute(text(
                "INSERT INTO play_events (play_id, user_id, game_id, status, request_time) "
                "SELECT gen_random_uuid(), :u, :g, 'QUEUED', now() "
                "FROM generate_series(1, 50000)"), {"u": user, "g": game.game_id},
            )  # fmt: skip
        async with db.connect() as conn:
            await conn.execute(text("SELECT pg_stat_force_next_flush()"))
        await asyncio.sleep(0.1)
        before = await seq_scans(db)
        for _ in range(3):
            assert len((await record(db, batch(10), 10.0)).new) == 10
        async with db.connect() as conn:
            await conn.execute(text("SELECT pg_stat_force_next_flush()"))
        await asyncio.sleep(0.1)
        assert await seq_scans(db) == before
    finally:
        await db.dispose()
