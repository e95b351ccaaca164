"""The recorder builds a batch's finals from what it writes rather than reading the batch
back (``frolic.recorder.ledger``): they must be what the ledger would give, code and
probability included, and a redelivered batch gets the ledger's own word."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from frolic.config import Settings
from frolic.playlog.messages import Decided
from frolic.plays import repository as play_rows
from frolic.recorder.ledger import record
from tests.support.factories import create_live_game

REVEAL = 10.0


async def player_and_epoch(db: AsyncEngine, game_id: int, prefix: str) -> tuple[str, int, int]:
    """A new player (external id, id) and the game's current Redis epoch."""
    user = f"{prefix}-{uuid.uuid4().hex[:6]}"
    async with db.begin() as conn:
        user_id = (await conn.execute(text(
            "INSERT INTO users (external_id) VALUES (:u) RETURNING id"), {"u": user},
        )).scalar_one()  # fmt: skip
        epoch = (await conn.execute(text("SELECT redis_epoch FROM games WHERE id = :g"),
                                    {"g": game_id})).scalar_one()  # fmt: skip
    return user, user_id, epoch


async def test_the_finals_built_are_the_finals_the_ledger_reads(
    settings: Settings, db: AsyncEngine
) -> None:
    game = await create_live_game(settings, budgets=(2, 1))
    first, second = game.brands
    user, user_id, epoch = await player_and_epoch(db, game.game_id, "finals")
    now = time.time()
    brands = (first, None, second, first, None)
    batch = [
        Decided(str(uuid.uuid4()), game.game_id, user_id, user, now - i, now - i + 10, brand,
                now, {"p": 0.125 * (i + 1), "u": 0.01}, epoch)
        for i, brand in enumerate(brands)
    ]  # fmt: skip

    recorded = await record(db, batch, REVEAL)

    assert {d.play_id for d in recorded.new} == {d.play_id for d in batch}
    async with db.connect() as conn:
        read = await play_rows.finals(conn, [uuid.UUID(d.play_id) for d in batch], REVEAL)
    built = sorted(recorded.finals, key=lambda f: f.play_id)
    assert built == sorted(read, key=lambda f: f.play_id)
    wins = [f for f in built if f.outcome == "WIN"]
    assert len(wins) == 3
    assert {f.coupon_code for f in wins} <= game.codes
    assert len({f.coupon_code for f in wins}) == 3
    assert sorted(f.probability or 0 for f in built) == [0.125, 0.25, 0.375, 0.5, 0.625]

    # Delivered again: nothing new, and the same finals, from the ledger.
    again = await record(db, batch, REVEAL)
    assert again.new == []
    assert sorted(again.finals, key=lambda f: f.play_id) == built


async def test_rows_ingestion_never_wrote_are_written_beside_those_it_did(
    settings: Settings, db: AsyncEngine
) -> None:
    """The recorder locks the rows first and writes only those missing (a restored
    database lost them): a batch of both is recorded whole."""
    game = await create_live_game(settings, budgets=(1,))
    user, user_id, epoch = await player_and_epoch(db, game.game_id, "missing")
    now = time.time()
    batch = [
        Decided(str(uuid.uuid4()), game.game_id, user_id, user, now, now + 10, None, now,
                {"p": 0.5}, epoch)
        for _ in range(6)
    ]  # fmt: skip
    async with db.begin() as conn:
        await play_rows.insert_missing(conn, batch[::2])  # as ingestion wrote them
    recorded = await record(db, batch, REVEAL)
    assert len(recorded.new) == len(recorded.finals) == 6
    async with db.connect() as conn:
        statuses = (await conn.execute(text(
            "SELECT status FROM play_events WHERE play_id = ANY(:ids)"),
            {"ids": [uuid.UUID(d.play_id) for d in batch]},
        )).scalars().all()  # fmt: skip
    assert sorted(statuses) == ["LOSE"] * 6
