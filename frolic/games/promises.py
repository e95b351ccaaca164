"""Coupon codes promised to games: a game goes live (or grows) only with codes for it.

A game draws its codes from two pools: the codes reserved for it (``coupons.game_id``),
then the brand's shared codes (``game_id IS NULL``). Every scheduled, live or paused game
holds a promise on the shared pool: what its remaining budget needs beyond its own
reserved codes. A game may go live, be scheduled or be topped up only if, for each of its
brands, its reserved codes plus the shared codes that no other game is promised cover its
remaining budget.

Two games checking the same brand at once could each see the codes free and together
promise more than exist; so the check holds a transaction-scoped advisory lock per brand,
taken in one order (brand id) so that two checks over overlapping brands cannot deadlock.
The game changes its status (or budget) in the same transaction, before the lock goes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import BigInteger, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from frolic.brands import repository as brands
from frolic.errors import Conflict

LOCK = 0x434F4445  # "CODE": the advisory lock class of a brand's codes
PROMISING = ("scheduled", "live", "paused")

_LOCK = text("SELECT pg_advisory_xact_lock(:ns, CAST(:brand % 2147483647 AS integer))")
_SUPPLY = text(
    """
    SELECT b.brand_id,
      (SELECT count(*) FROM coupons c WHERE c.brand_id = b.brand_id AND c.issued_at IS NULL
         AND c.game_id = :game) AS reserved,
      (SELECT count(*) FROM coupons c WHERE c.brand_id = b.brand_id AND c.issued_at IS NULL
         AND c.game_id IS NULL) AS shared,
      (SELECT coalesce(sum(greatest(o.remaining_coupons - (
          SELECT count(*) FROM coupons c WHERE c.brand_id = o.brand_id
            AND c.game_id = o.game_id AND c.issued_at IS NULL), 0)), 0)
         FROM game_brand_budgets o JOIN games g ON g.id = o.game_id
         WHERE o.brand_id = b.brand_id AND o.game_id <> :game
           AND g.status IN ('scheduled', 'live', 'paused')) AS promised
    FROM unnest(:brands) AS b(brand_id)
    """
).bindparams(bindparam("brands", type_=ARRAY(BigInteger)))


@dataclass(frozen=True)
class Supply:
    """A brand's unissued codes as one game sees them."""

    reserved: int  # reserved for this game
    shared: int  # in the brand's shared pool
    promised: int  # of the shared pool, promised to other games

    @property
    def available(self) -> int:
        return self.reserved + max(self.shared - self.promised, 0)


async def lock_brands(session: AsyncSession, brands: list[int]) -> None:
    """Serialise promise checks on these brands until the transaction ends."""
    for brand in sorted(set(brands), key=lambda b: b % 2147483647):
        await session.execute(_LOCK, {"ns": LOCK, "brand": brand})


async def supply(session: AsyncSession, game_id: int, brands: list[int]) -> dict[int, Supply]:
    rows = await session.execute(_SUPPLY, {"game": game_id, "brands": sorted(set(brands))})
    return {r.brand_id: Supply(r.reserved, r.shared, int(r.promised)) for r in rows}


async def ensure_codes(
    session: AsyncSession, game_id: int, needs: Mapping[int, int], doing: str
) -> None:
    """Lock the brands of ``needs`` (brand -> the game's remaining budget) and refuse with
    a ``Conflict`` naming every brand short of codes; ``doing`` says what was refused."""
    await lock_brands(session, list(needs))
    found = await supply(session, game_id, list(needs))
    short = {b: s for b, s in found.items() if s.available < needs[b]}
    if not short:
        return
    names = await brands.names(session, list(short))
    parts = []
    for brand, s in sorted(short.items()):
        part = (
            f"brand {brand} ({names.get(brand, '?')}) has {s.available} codes for a "
            f"remaining budget of {needs[brand]}: {needs[brand] - s.available} short"
        )
        if s.promised:
            part += (
                f" ({min(s.promised, s.shared)} of its shared codes are promised to other games)"
            )
        parts.append(part)
    raise Conflict(
        f"game {game_id} cannot {doing}: not enough unissued coupon codes. "
        + "; ".join(parts)
        + ". Import codes with POST /admin/coupons/import."
    )
