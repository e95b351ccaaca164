"""Check that Redis and the ledger agree, per game and brand, and rebuild Redis from the
ledger after a loss (DESIGN.md §4, invariant 6).

For each game and brand: ``total = issued + remaining in Redis``, where ``issued`` counts
the codes the ledger has locked to winners. A positive difference on a live game is wins
Redis has decided and the recorders have not written yet (in flight); on a quiet game any
difference is drift. The ledger's own ``remaining_coupons`` must equal ``total - issued``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio.cluster import RedisCluster
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from frolic.engine import keys
from frolic.reconcile.recovery import Store, rebuild_lost

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
    budget_keys = [keys.budget(r.game_id, r.brand_id) for r in rows]
    client = store.client
    if not budget_keys:
        redis_values: list[Any] = []
    elif isinstance(client, RedisCluster):
        # A game's keys share its hash tag; the games' are on different nodes.
        redis_values = await client.mget_nonatomic(budget_keys)
    else:
        redis_values = await client.mget(budget_keys)
    out = []
    for r, value in zip(rows, redis_values, strict=True):
        left = None if value is None else int(value)
        out.append(Balance(r.game_id, r.brand_id, r.total_coupons, r.issued,
                           r.remaining_coupons, left))  # fmt: skip
    return out


async def rebuild(db: AsyncEngine, store: Store, game_id: int) -> int:
    """Restore a game in Redis from the ledger, whatever Redis holds; the number of
    outcomes restored.

    Stock becomes ``total - issued`` per brand, the pacing counters the wins so far, the
    pacing line's anchor the one kept on the game's row (set by a late go-live or a
    top-up: without it a topped-up game would pace as if its total had been there from
    the start, and owe the difference at once), and the outcomes decided within the
    idempotency window go back, so a replayed play keeps its outcome. It takes a new epoch
    (``recovery.rebuild_lost``), so decisions Redis made before it and the ledger has not
    recorded are dropped and decided again: safe with the game's allocators running.
    """
    rebuilt = await rebuild_lost(db, store, game_id, force=True)
    assert rebuilt is not None
    return rebuilt.outcomes
