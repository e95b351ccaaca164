"""Check that Redis and the ledger agree, per game and brand, and rebuild Redis from the
ledger after a loss (DESIGN.md §4, invariant 6).

For each game and brand: ``total = issued + remaining in Redis``, where ``issued`` counts
the codes the ledger has locked to winners. A positive difference on a live game is wins
Redis has decided and the recorders have not written yet (in flight); on a quiet game any
difference is drift. The ledger's own ``remaining_coupons`` must equal ``total - issued``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from frolic.db.models import Game
from frolic.engine import keys
from frolic.engine.redis_store import LuaStore, OptimisticStore
from frolic.games.repository import load_game

_BRANDS = text(
    "SELECT b.game_id, b.brand_id, b.total_coupons, b.remaining_coupons, "
    "(SELECT count(*) FROM coupons c WHERE c.game_id = b.game_id AND c.brand_id = b.brand_id "
    " AND c.issued_at IS NOT NULL) AS issued "
    "FROM game_brand_budgets b JOIN games g ON g.id = b.game_id "
    "WHERE (CAST(:game AS bigint) IS NULL OR b.game_id = :game) AND g.status <> 'draft' "
    "AND (NOT :live_only OR g.status = 'live') "
    # A game ended without a play (a draft called off) may never have had a budget in Redis.
    "AND NOT (g.status = 'ended' AND NOT EXISTS (SELECT 1 FROM play_events p "
    "WHERE p.game_id = g.id)) "
    "ORDER BY b.game_id, b.brand_id"
)
_DECIDED = text(
    "SELECT p.play_id, extract(epoch FROM p.request_time) AS requested, p.status, "
    "c.brand_id FROM play_events p LEFT JOIN coupons c ON c.id = p.reward_coupon_id "
    "WHERE p.game_id = :game AND p.processed_time IS NOT NULL "
    "AND p.request_time > now() - make_interval(secs => :window)"
)

Store = LuaStore | OptimisticStore


@dataclass(frozen=True)
class Balance:
    game_id: int
    brand_id: int
    total: int
    issued: int
    ledger_remaining: int
    redis_remaining: int | None  # None: Redis has no budget for it (lost, or never loaded)

    @property
    def drift(self) -> int | None:
        """``total - issued - Redis remaining``: wins in flight, or drift on a quiet game."""
        if self.redis_remaining is None:
            return None
        return self.total - self.issued - self.redis_remaining

    @property
    def ok(self) -> bool:
        return self.drift == 0 and self.ledger_remaining == self.total - self.issued


async def balances(
    db: AsyncEngine, store: Store, game_id: int | None = None, *, live_only: bool = False
) -> list[Balance]:
    """Every started game's brands (or one game's, or the live games'), as the ledger and
    Redis see them."""
    async with db.connect() as conn:
        rows = (await conn.execute(_BRANDS, {"game": game_id, "live_only": live_only})).all()
    redis_values = await store.client.mget([keys.budget(r.game_id, r.brand_id) for r in rows])
    out = []
    for r, value in zip(rows, redis_values, strict=True):
        left = None if value is None else int(value)
        out.append(Balance(r.game_id, r.brand_id, r.total_coupons, r.issued,
                           r.remaining_coupons, left))  # fmt: skip
    return out


async def rebuild(db: AsyncEngine, store: Store, game_id: int) -> int:
    """Restore a game in Redis from the ledger; the number of outcomes restored.

    Stock becomes ``total - issued`` per brand, the pacing counters the wins so far, the
    pacing line's anchor the one kept on the game's row (set by a late go-live or a
    top-up: without it a topped-up game would pace as if its total had been there from
    the start, and owe the difference at once), and the outcomes decided within the
    idempotency window go back, so a replayed play keeps its outcome. Run it with the
    game's allocators stopped (or the game paused).
    """
    view = await load_game(db, game_id)
    if view is None:
        raise LookupError(f"no game {game_id}")
    mine = await balances(db, store, game_id)
    stock = {b.brand_id: b.total - b.issued for b in mine}
    async with db.connect() as conn:
        rows = (
            await conn.execute(_DECIDED, {"game": game_id, "window": store.processed_ttl})
        ).all()
        line_t, line_from = (
            await conn.execute(
                select(Game.pacing_line_t, Game.pacing_line_from).where(Game.id == game_id)
            )
        ).one()
    decided = {}
    for r in rows:
        hour = keys.processed_bucket(float(r.requested))
        decided[(hour, str(r.play_id))] = (r.brand_id or 0) if r.status == "WIN" else 0
    line = None if line_t is None else (line_t, line_from)
    return await store.restore(view.rules, stock, sum(b.issued for b in mine), decided, line)
