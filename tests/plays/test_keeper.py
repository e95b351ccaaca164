"""The partition keeper: ``play_events`` by day, made a week ahead and, past retention,
dropped once every play of the day is decided and chained; a day's keys and numbers go
with it, the audit stays. On a database of its own: it drops tables."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from frolic.config import Settings
from frolic.db import migrate, partitions
from frolic.db.session import create_engine
from frolic.playlog.messages import Decided
from frolic.plays import keeper
from frolic.plays import repository as play_rows
from frolic.recorder.ledger import record
from tests.support.factories import create_live_game

TODAY = date(2026, 12, 6)


def days(*offsets: int) -> list[date]:
    return [TODAY + timedelta(days=k) for k in offsets]


def test_the_plan_makes_a_week_ahead_and_drops_only_past_retention() -> None:
    held = days(-12, -4, -3, 0, 1)
    kept = keeper.plan(TODAY, held, retention_days=0)
    assert kept.create == days(2, 3, 4, 5, 6, 7)
    assert kept.expired == []  # 0 keeps every day
    dropping = keeper.plan(TODAY, held, retention_days=3)
    # Day -4 ended three days ago at midnight: out. Day -3 ends in less than three days.
    assert dropping.expired == days(-12, -4)


def test_partitions_are_named_by_their_day() -> None:
    assert partitions.name_of(TODAY) == "play_events_20261206"
    assert partitions.day_of("play_events_20261206") == TODAY
    assert partitions.day_of("play_events_2026120") is None
    assert partitions.is_partition("play_events_default")
    assert not partitions.is_partition("play_events")
    assert not partitions.is_partition("play_keys")
    start, end = partitions.bounds(TODAY)
    assert (start.isoformat(), end - start) == ("2026-12-06T00:00:00+00:00", timedelta(days=1))


@pytest.fixture
async def db(empty_database: str) -> AsyncIterator[AsyncEngine]:
    await asyncio.to_thread(migrate.upgrade, empty_database)
    engine = create_engine(empty_database)
    yield engine
    await engine.dispose()


async def add_play(
    db: AsyncEngine, game: int, at: datetime, *, decided: bool = True,
    seq: int | None = None, key: str | None = None,
) -> uuid.UUID:  # fmt: skip
    play = uuid.uuid4()
    async with db.begin() as conn:
        await conn.execute(text(
            "INSERT INTO play_events (play_id, user_id, game_id, status, request_time, "
            "processed_time, idempotency_key, decision_epoch, decision_seq) "
            "VALUES (:p, 1, :g, :s, :t, :done, :k, :e, :q)"), {
            "p": play, "g": game, "s": "LOSE" if decided else "QUEUED", "t": at,
            "done": at if decided else None, "k": key, "e": 1 if seq else None, "q": seq,
        })  # fmt: skip
        await conn.execute(text("INSERT INTO play_numbers (play_id, number) VALUES (:p, 1)"),
                           {"p": play})  # fmt: skip
        if key is not None:
            await conn.execute(text(
                "INSERT INTO play_keys (user_id, idempotency_key, play_id, request_time) "
                "VALUES (1, :k, :p, :t)"), {"k": key, "p": play, "t": at})  # fmt: skip
    return play


async def count(db: AsyncEngine, sql: str) -> int:
    async with db.connect() as conn:
        return int((await conn.execute(text(sql))).scalar_one())


async def test_old_settled_days_are_dropped_with_their_keys_and_never_written_again(
    db: AsyncEngine, empty_database: str, settings: Settings,
) -> None:  # fmt: skip
    own = settings.model_copy(update={"database_url": empty_database})
    game = (await create_live_game(own, budgets=(1,), seed=b"k" * 32)).game_id
    now = datetime.now(UTC)
    today = now.date()
    # Ten days ago, the keeper made that day's partition and the week after it.
    ten_days_ago = now - timedelta(days=10)
    made = await keeper.keep(db, clock=ten_days_ago.timestamp, retention_days=0)
    assert made.created == [today - timedelta(days=10 - k) for k in range(8)]
    settled = [await add_play(db, game, ten_days_ago, key=f"old-{i}") for i in range(3)]
    settled.append(await add_play(db, game, ten_days_ago, seq=3))  # chained (the head is at 3)
    async with db.begin() as conn:
        await conn.execute(text("INSERT INTO decision_log_heads (game_id, length, hash, epoch, "
                                "seq) VALUES (:g, 3, 'h', 1, 3)"), {"g": game})  # fmt: skip
    await add_play(db, game, now - timedelta(days=9), seq=5)  # decided, not yet chained
    await add_play(db, game, now - timedelta(days=8), decided=False)  # never decided
    kept = await add_play(db, game, now - timedelta(days=2), key="recent")

    done = await keeper.keep(db, clock=now.timestamp, retention_days=3)

    # Oldest first, and none past a day that must stay.
    assert done.dropped == [today - timedelta(days=10)]
    assert done.held == [today - timedelta(days=k) for k in range(9, 3, -1)]
    async with db.connect() as conn:
        left = await keeper.days(conn)
        floor = (await conn.execute(text("SELECT kept_from FROM play_retention"))).scalar_one()
    assert min(left) == today - timedelta(days=9)
    assert max(left) == today + timedelta(days=partitions.AHEAD_DAYS)
    assert floor == partitions.bounds(today - timedelta(days=10))[1]
    # The dropped day's keys and numbers went with it; the others stay.
    assert await count(db, "SELECT count(*) FROM play_keys") == 1
    ids = ", ".join(f"'{p}'" for p in settled)
    assert await count(db, f"SELECT count(*) FROM play_numbers WHERE play_id IN ({ids})") == 0
    assert await count(db, f"SELECT count(*) FROM play_numbers WHERE play_id = '{kept}'") == 1
    assert await count(db, "SELECT count(*) FROM play_events") == 3

    # A decision of a dropped play read again (a consumer group back at an old offset) is
    # neither written nor recorded: it would win a second code.
    async with db.connect() as conn:
        epoch = (await conn.execute(text("SELECT redis_epoch FROM games WHERE id = :g"),
                                    {"g": game})).scalar_one()  # fmt: skip
    again = Decided(str(settled[0]), game, 1, "p-1", ten_days_ago.timestamp(),
                    ten_days_ago.timestamp() + 10, None, ten_days_ago.timestamp(), {"p": 1.0},
                    epoch)  # fmt: skip
    recorded = await record(db, [again], 10.0)
    assert (recorded.new, recorded.finals) == ([], [])
    assert await count(db, "SELECT count(*) FROM play_events") == 3
    # Nor is a retry of one, with its claim's old time.
    async with db.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        [retried] = await play_rows.insert_queued(driver, [play_rows.NewPlay(
            settled[0], "p-1", game, ten_days_ago, "{}", key="old-0")], timeout=5)  # fmt: skip
    assert not retried["new"]
    assert await count(db, "SELECT count(*) FROM play_events") == 3


async def test_a_day_with_plays_in_the_default_partition_is_left_there(
    db: AsyncEngine, empty_database: str, settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """A play whose day had no partition went to ``play_events_default``: the day cannot get
    one without moving it, so the keeper says so and goes on with the other days."""
    own = settings.model_copy(update={"database_url": empty_database})
    game = (await create_live_game(own, budgets=(1,))).game_id
    later = datetime.now(UTC) + timedelta(days=20)
    await add_play(db, game, later)
    assert await count(db, "SELECT count(*) FROM play_events_default") == 1
    with caplog.at_level(logging.WARNING, logger=keeper.__name__):
        done = await keeper.keep(db, clock=(later - timedelta(days=3)).timestamp,
                                 retention_days=0)  # fmt: skip
    assert later.date() not in done.created
    assert len(done.created) == partitions.AHEAD_DAYS  # the rest of the week
    assert "1 plays of" in caplog.text


async def test_a_busy_table_holds_the_drop_back_rather_than_queue_writes_behind_it(
    db: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    now = datetime.now(UTC)
    await keeper.keep(db, clock=(now - timedelta(days=10)).timestamp, retention_days=0)
    async with db.connect() as reader:
        await reader.execute(text("SELECT count(*) FROM play_events"))  # holds its lock
        with caplog.at_level(logging.WARNING, logger=keeper.__name__):
            done = await keeper.keep(db, clock=now.timestamp, retention_days=3)
        await reader.rollback()
    assert done.dropped == []
    assert len(done.held) == 7
    assert "was busy" in caplog.text
    after = await keeper.keep(db, clock=now.timestamp, retention_days=3)
    assert len(after.dropped) == 7
