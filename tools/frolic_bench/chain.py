"""``frolic bench chain``: the chainer's cost. ``decisions`` recorded decisions of one game
are written straight into the ledger (as recorders leave them: each with its place and its
entry's body), then chained from scratch by ``frolic.recorder.chainer.chain_game``, a page
a transaction, as a recorder process's pass does: entries a second, and the chainer's own
CPU an entry (PostgreSQL's is on top). Only this game is chained: the database may hold
others'."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from frolic.config import Settings
from frolic.db.session import create_engine
from frolic.fairness import draws
from frolic.fairness.log_rows import Behind
from frolic.recorder.chainer import chain_game

EPOCH = 1
# A paced play's entry body as the allocator publishes it (its seq is added per row).
_BODY = {"kind": "play", "player": "0123456789abcdef0123456789abcdef", "play": 3,
         "client": "", "t": 1767225600.123456, "slot": 1234, "p": 0.012345678901234,
         "cap": 12.0, "slotCap": None, "u": 0.53456789012345, "brandU": 0.1234567890123,
         "epoch": EPOCH}  # fmt: skip


def measure(settings: Settings, *, decisions: int) -> dict[str, Any]:
    assert settings.database_url
    return asyncio.run(_measure(settings.database_url, decisions))


async def _measure(url: str, decisions: int) -> dict[str, Any]:
    db = create_engine(url)
    try:
        game, seed = await _recorded_game(db, decisions)
        behind = Behind(game, draws.commitment(seed))
        cpu, wall = time.process_time(), time.perf_counter()
        written = 0
        while more := await chain_game(db, behind):
            written += more
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        async with db.connect() as conn:
            length = await conn.scalar(
                text("SELECT length FROM decision_log_heads WHERE game_id = :g"), {"g": game}
            )
    finally:
        await db.dispose()
    return {
        "chain_entries": written, "chain_head_length": length,
        "chain_entries_per_s": round(written / wall) if wall else None,
        "chain_cpu_us_per_entry": round(cpu / written * 1e6, 1) if written else None,
        "chain_seconds": round(wall, 3),
    }  # fmt: skip


async def _recorded_game(db: AsyncEngine, decisions: int) -> tuple[int, bytes]:
    """A committed game with ``decisions`` recorded, none chained: its id and seed."""
    tag, seed = uuid.uuid4().hex[:8], draws.new_seed()
    async with db.begin() as conn:
        campaign = await conn.scalar(text(
            "INSERT INTO campaigns (name, start_time, end_time, status) "
            "VALUES (:n, now(), now() + interval '1 day', 'live') RETURNING id"),
            {"n": tag})  # fmt: skip
        game = await conn.scalar(text(
            "INSERT INTO games (campaign_id, name, start_time, end_time, total_budget, "
            "probability_type, status, fairness_seed, redis_epoch) VALUES (:c, :n, now(), "
            "now() + interval '1 hour', 100, 'paced', 'live', :s, :e) RETURNING id"),
            {"c": campaign, "n": tag, "s": seed, "e": EPOCH})  # fmt: skip
        user = await conn.scalar(text(
            "INSERT INTO users (external_id) VALUES (:n) RETURNING id"),
            {"n": f"bench-{tag}"})  # fmt: skip
        await conn.execute(text(
            "INSERT INTO play_events (play_id, user_id, game_id, status, request_time, "
            "processed_time, metadata, decision_epoch, decision_seq) "
            "SELECT gen_random_uuid(), :u, :g, 'LOSE', now(), now(), "
            "jsonb_build_object('revealAt', 1, 'brand', null, 'epoch', CAST(:e AS bigint), "
            "'entry', CAST(:body AS jsonb) || jsonb_build_object('seq', i)), CAST(:e AS bigint), i "
            "FROM generate_series(1, :n) i"),
            {"u": user, "g": game, "e": EPOCH, "n": decisions, "body": json.dumps(_BODY)},
        )  # fmt: skip
    assert game is not None
    return int(game), seed
