"""Every statement on ``coupons`` that another domain or a role needs: issuing codes to
winning plays.

A code is drawn from two pools: the codes reserved for a game (``coupons.game_id``), then
its brand's shared codes (``game_id IS NULL``). Nothing here commits: whoever opened the
transaction commits it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

# Issuing (the recorder, for a batch's wins): the game's reserved codes first, then the
# shared ones; SKIP LOCKED, so that two recorders take different codes instead of waiting.
_CODES = text(
    "SELECT id, code FROM coupons WHERE brand_id = :brand AND issued_at IS NULL "
    "AND (game_id = :game OR game_id IS NULL) "
    "ORDER BY game_id NULLS LAST LIMIT :n FOR UPDATE SKIP LOCKED"
)
_ISSUE = text(
    "UPDATE coupons SET issued_to = :user, issued_at = now(), game_id = :game, "
    "updated_at = now() WHERE id = :id"
)


async def issue(
    conn: AsyncConnection, game_id: int, brand_id: int, winners: Sequence[int]
) -> list[int]:
    """Issue a code of the brand to each winner (a user id), in order, for the game; the
    codes' ids. Fewer than the winners when the brand's codes run out: the last winners
    get none."""
    found = (
        await conn.execute(_CODES, {"brand": brand_id, "game": game_id, "n": len(winners)})
    ).all()
    if found:
        await conn.execute(
            _ISSUE,
            [
                {"user": user, "game": game_id, "id": c.id}
                for user, c in zip(winners, found, strict=False)
            ],
        )
    return [c.id for c in found]
