"""Rebuild a game that Redis lost (a restart without persistence, a flush) from the ledger,
before any of its plays is decided again.

Detection. A loaded game's pacing hash holds its ``epoch``, and the Redis run it was built
under; the decision script refuses a game without one, or of another run (``GameLost``), so
a missing key is never read as "no stock" or "a fresh game", and a Redis started again on
older files (its stock higher than the truth) is never trusted (``scripts``: the run).
The allocator that meets a lost game rebuilds it and then decides; a warden in every
allocator process also looks every second for scheduled, live and paused games whose Redis
epoch is missing or is not the ledger's, so a paused game is back before it resumes.

Exactly one rebuild. A rebuild runs holding the game's row ``FOR NO KEY UPDATE`` and first
checks again that Redis has not got the ledger's epoch (someone else may just have rebuilt
it); lifecycle steps (load, top-up, resume) hold the row ``FOR UPDATE`` while they change
Redis, so they wait for it, and it for them. Plays still ingest: their foreign key takes
``KEY SHARE``, which this lock lets through.

Why it is safe. Under the lock it takes a new epoch from the ``redis_epochs`` sequence,
reads what the ledger issued and decided, restores Redis (stock ``total - issued``, pacing
counters, the line's anchor from the game's row, the outcomes of the idempotency window,
and last the epoch), then commits the epoch on the row. Every decision carries the epoch it
was made under, and a recorder keeps a decision only if it is its game's current epoch, read
``FOR SHARE`` in its own transaction (``frolic.recorder.ledger``). So each outcome in the
ledger was either recorded before the snapshot (counted in it, and restored as decided, so a
replay returns it) or decided against the rebuilt state. Decisions Redis made before the
loss that were not recorded by then are dropped and their plays decided again (the
re-driver sends them): none is counted twice, so the budget cannot be overspent by the
rebuild, and no duplicate WIN is discarded after taking stock. A rebuild that dies after
Redis took the new epoch but before the commit leaves Redis on an epoch the ledger never
had: its decisions are all dropped, and the warden sees the mismatch and rebuilds again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from redis.exceptions import RedisError
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from frolic import periodic
from frolic.db.models import Game
from frolic.engine import keys
from frolic.engine.redis_store import LuaStore, OptimisticStore
from frolic.games.repository import load_game, next_epoch
from frolic.plays import repository as play_rows

log = logging.getLogger(__name__)
Store = LuaStore | OptimisticStore
WARM = ("scheduled", "live", "paused")  # the statuses whose budget is in Redis
# A rebuild holds the game's row, which recorders wait for: nothing under it may wait long.
REDIS_SECONDS = 10.0  # for the Redis calls of a rebuild; past it, it rolls back, and is retried

# Waiting for the row (another rebuild, a lifecycle step) gives up after 5 s, and is retried.
_LOCK_TIMEOUT = text("SET LOCAL lock_timeout = '5s'")
_LOCK = text("SELECT redis_epoch FROM games WHERE id = :game FOR NO KEY UPDATE")
_STOCK = text(
    "SELECT b.brand_id, b.total_coupons, "
    "(SELECT count(*) FROM coupons c WHERE c.game_id = b.game_id AND c.brand_id = b.brand_id "
    " AND c.issued_at IS NOT NULL) AS issued "
    "FROM game_brand_budgets b WHERE b.game_id = :game"
)
_WARM = text(
    "SELECT id, redis_epoch FROM games WHERE status IN ('scheduled', 'live', 'paused') ORDER BY id"
)


@dataclass(frozen=True)
class Rebuilt:
    game_id: int
    epoch: int
    stock: dict[int, int]  # brand -> coupons left, as restored
    outcomes: int  # decided plays restored, so their replays are recognised


async def rebuild_lost(
    db: AsyncEngine, store: Store, game_id: int, *, force: bool = False
) -> Rebuilt | None:
    """Rebuild the game in Redis from the ledger if Redis lost it (its epoch is missing or
    is not the ledger's), or always with ``force``; None if there was nothing to do.
    ``LookupError`` if there is no such game."""
    view = await load_game(db, game_id)
    if view is None:
        raise LookupError(f"no game {game_id}")
    async with db.begin() as conn:
        await conn.execute(_LOCK_TIMEOUT)
        epoch = (await conn.execute(_LOCK, {"game": game_id})).scalar_one()
        async with asyncio.timeout(REDIS_SECONDS):
            held = await store.loaded_epoch(game_id)
        if not force and held == epoch:
            return None
        # The rules again, under the lock: a top-up may have added a brand meanwhile.
        view = await load_game(db, game_id) or view
        epoch = await next_epoch(conn)
        brands = (await conn.execute(_STOCK, {"game": game_id})).all()
        stock = {b.brand_id: b.total_coupons - b.issued for b in brands}
        hours = store.processed_hours(store.clock())
        since = hours.start * keys.PROCESSED_BUCKET_SECONDS
        decided = {
            (keys.processed_bucket(float(r.requested)), str(r.play_id)):
                (r.brand_id or 0) if r.status == "WIN" else 0
            for r in await play_rows.decided_since(conn, game_id, since)
        }  # fmt: skip
        line_t, line_from = (
            await conn.execute(
                select(Game.pacing_line_t, Game.pacing_line_from).where(Game.id == game_id)
            )
        ).one()
        line = None if line_t is None else (line_t, line_from)
        awarded = sum(b.issued for b in brands)
        async with asyncio.timeout(REDIS_SECONDS):
            restored = await store.restore(view.rules, stock, awarded, decided, line, epoch=epoch)
        await conn.execute(
            text("UPDATE games SET redis_epoch = :epoch WHERE id = :game"),
            {"epoch": epoch, "game": game_id},
        )
    log.warning("game %d rebuilt in Redis from the ledger: epoch %d, stock %s, %d outcomes",
                game_id, epoch, stock, restored)  # fmt: skip
    return Rebuilt(game_id, epoch, stock, restored)


async def lost_games(db: AsyncEngine, store: Store) -> list[int]:
    """The scheduled, live and paused games whose Redis epoch is missing or not the
    ledger's."""
    async with db.connect() as conn:
        rows = (await conn.execute(_WARM)).all()
    held = await store.loaded_epochs([r.id for r in rows])
    return [r.id for r, epoch in zip(rows, held, strict=True) if epoch != r.redis_epoch]


async def watch(db: AsyncEngine, store: Store, stop: asyncio.Event, every: float = 1.0) -> None:
    """The warden: every ``every`` seconds, rebuild the warm games Redis lost."""

    async def sweep() -> None:
        for game_id in await lost_games(db, store):
            await rebuild_lost(db, store, game_id)

    await periodic.every(every, sweep, stop, name="Redis warden", log=log, away=_server_away)


def _server_away(exc: Exception) -> str | None:
    return type(exc).__name__ if isinstance(exc, (RedisError, OSError)) else None
