"""Every statement on ``coupons`` that another domain or a role needs: storing an import,
counting the codes a game may draw, releasing a game's reserved codes, and issuing codes
to winning plays.

A code is drawn from two pools: the codes reserved for a game (``coupons.game_id``), then
its brand's shared codes (``game_id IS NULL``). Nothing here commits: whoever opened the
transaction commits it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from frolic.db.models import Coupon
from frolic.db.rows import count

# Issuing (the recorder, for a batch's wins): the game's reserved codes first, then the
# shared ones; SKIP LOCKED, so that two recorders take different codes instead of waiting.
_CODES = text(
    "SELECT id, code FROM coupons WHERE brand_id = :brand AND issued_at IS NULL "
    "AND (game_id = :game OR game_id IS NULL) "
    "ORDER BY game_id NULLS LAST LIMIT :n FOR UPDATE SKIP LOCKED"
)
# The play is the one the code may be held by (``play_events``' foreign key to it).
_ISSUE = text(
    "UPDATE coupons SET issued_to = :user, play_id = :play, issued_at = now(), "
    "game_id = :game, updated_at = now() WHERE id = :id"
)


class Issued(NamedTuple):
    id: int
    code: str


async def issue(
    conn: AsyncConnection, game_id: int, brand_id: int, winners: Sequence[tuple[int, uuid.UUID]]
) -> list[Issued]:
    """Issue a code of the brand to each winner (a user id and the winning play's id), in
    order, for the game; the codes issued. Fewer than the winners when the brand's codes
    run out: the last winners get none."""
    found = (
        await conn.execute(_CODES, {"brand": brand_id, "game": game_id, "n": len(winners)})
    ).all()
    if found:
        await conn.execute(
            _ISSUE,
            [
                {"user": user, "play": play, "game": game_id, "id": c.id}
                for (user, play), c in zip(winners, found, strict=False)
            ],
        )
    return [Issued(c.id, c.code) for c in found]


# Importing: the rows of a file wait in a temporary table (filled by COPY) and go to
# ``coupons`` in one INSERT, in one fixed order (sorted), so that concurrent imports of
# overlapping files wait on each other instead of deadlocking.
_IMPORT = text(
    """
    WITH inserted AS (
        INSERT INTO coupons (brand_id, code, game_id)
        SELECT brand_id, code, CAST(:game_id AS BIGINT) FROM coupon_import
        ORDER BY code COLLATE "C"
        ON CONFLICT (code) DO NOTHING
        RETURNING code
    ), existing AS (
        SELECT i.line, i.code FROM coupon_import i
        WHERE NOT EXISTS (SELECT 1 FROM inserted x WHERE x.code = i.code)
    )
    SELECT (SELECT count(*) FROM inserted),
           ARRAY(SELECT line FROM existing ORDER BY line LIMIT :limit),
           ARRAY(SELECT code FROM existing ORDER BY line LIMIT :limit)
    """
)


async def insert(
    session: AsyncSession, records: list[tuple[int, int, str]], game_id: int | None,
    *, listed: int,
) -> tuple[int, list[tuple[int, str]]]:  # fmt: skip
    """Insert new codes (line, brand_id, code); how many were, and the first ``listed``
    rows whose code was stored already (line, code)."""
    if not records:
        return 0, []
    conn = await session.connection()
    await conn.execute(
        text(
            "CREATE TEMP TABLE coupon_import (line integer, brand_id bigint, code text) "
            "ON COMMIT DROP"
        )
    )
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    await driver.copy_records_to_table(
        "coupon_import", records=records, columns=["line", "brand_id", "code"]
    )
    result = await conn.execute(_IMPORT, {"game_id": game_id, "limit": listed})
    imported, lines, codes = result.one()
    return int(imported), list(zip(lines, codes, strict=True))


async def available(
    session: AsyncSession, games: Sequence[int], brands: Sequence[int]
) -> dict[int, dict[int, int]]:
    """Per game, per brand: the unissued codes it may draw, the brand's shared ones and
    those reserved for the game."""
    shared: dict[int, int] = {}
    reserved: dict[tuple[int, int], int] = {}
    if brands:
        counts = await session.execute(
            select(Coupon.brand_id, Coupon.game_id, func.count())
            .where(
                Coupon.brand_id.in_(brands),
                or_(Coupon.game_id.is_(None), Coupon.game_id.in_(games)),
                Coupon.issued_at.is_(None),
            )
            .group_by(Coupon.brand_id, Coupon.game_id)
        )
        for brand, game_id, n in counts:
            if game_id is None:
                shared[brand] = n
            else:
                reserved[(brand, game_id)] = n
    return {
        game: {b: shared.get(b, 0) + reserved.get((b, game), 0) for b in brands} for game in games
    }


async def reserved_for(session: AsyncSession, game_id: int) -> int:
    """Codes reserved for the game, issued or not."""
    return await count(session, select(Coupon.id).where(Coupon.game_id == game_id))


async def release(session: AsyncSession, game_id: int) -> None:
    """The game's reserved codes back to their brands' shared codes."""
    await session.execute(update(Coupon).where(Coupon.game_id == game_id).values(game_id=None))
