"""Coupon codes once imported: what a code's state is, redeeming it once, and exporting the
codes a game or a brand has issued.

A code goes unissued -> issued (the recorder locks it to a winning play) -> used (redeemed
here). Each step is one conditional UPDATE, so two racing requests cannot both take it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from frolic.coupons.schemas import CouponState
from frolic.db.models import Coupon, PlayRow, User
from frolic.errors import Conflict, NotFound

EXPORT_COLUMNS = [
    "code", "brand_id", "game_id", "user_external_id", "play_id", "issued_at", "is_used",
    "used_at",
]  # fmt: skip
EXPORT_BATCH = 5000  # rows fetched from the server-side cursor at a time


def _described(*columns: Any) -> Select[Any]:
    """``columns`` of codes, with who won each code and in which play."""
    return (
        select(*columns)
        .select_from(Coupon)
        .outerjoin(PlayRow, PlayRow.reward_coupon_id == Coupon.id)
        .outerjoin(User, User.id == Coupon.issued_to)
    )


_STATE = _described(
    Coupon.code, Coupon.brand_id, Coupon.game_id, Coupon.issued_at, Coupon.is_used,
    Coupon.used_at, PlayRow.play_id, User.external_id,
)  # fmt: skip


def _state(row: Any) -> CouponState:
    used = bool(row.is_used)
    return CouponState(
        code=row.code,
        brand_id=row.brand_id,
        game_id=row.game_id,
        status="used" if used else "issued" if row.issued_at is not None else "unissued",
        issued_at=row.issued_at,
        play_id=str(row.play_id) if row.play_id is not None else None,
        user_external_id=row.external_id,
        is_used=used,
        used_at=row.used_at,
    )


async def validate(session: AsyncSession, code: str) -> CouponState:
    row = (await session.execute(_STATE.where(Coupon.code == code))).one_or_none()
    if row is None:
        raise NotFound(f"no coupon code {code!r}")
    return _state(row)


_REDEEM = (
    update(Coupon)
    .where(Coupon.issued_at.is_not(None), Coupon.is_used.is_not(True))
    .values(is_used=True, used_at=func.now(), updated_at=func.now())
    .returning(Coupon.id)
)


async def redeem(session: AsyncSession, code: str) -> CouponState:
    """Mark an issued code used. Only one of any number of concurrent redeems of a code
    gets a row back from the UPDATE; the others find it used (409)."""
    redeemed = await session.scalar(_REDEEM.where(Coupon.code == code))
    state = await validate(session, code)
    if redeemed is not None:
        return state
    if state.status == "used":
        assert state.used_at is not None
        raise Conflict(f"coupon code {code!r} was already used at {state.used_at.isoformat()}")
    # Unissued when the UPDATE looked. Should it have been issued since, say so all the
    # same: the client asks again, and a second look is cheaper than a subtle answer.
    raise Conflict(f"coupon code {code!r} has not been won by anyone; it cannot be redeemed")


def export_query(*, game_id: int | None = None, brand_id: int | None = None) -> Select[Any]:
    """The issued codes of a game or of a brand, by issue order."""
    query = _described(
        Coupon.code, Coupon.brand_id, Coupon.game_id, User.external_id, PlayRow.play_id,
        Coupon.issued_at, Coupon.is_used, Coupon.used_at,
    ).where(Coupon.issued_at.is_not(None))  # fmt: skip
    if game_id is not None:
        query = query.where(Coupon.game_id == game_id)
    if brand_id is not None:
        query = query.where(Coupon.brand_id == brand_id)
    return query.order_by(Coupon.issued_at, Coupon.id)


async def export_csv(db: AsyncEngine, query: Select[Any]) -> AsyncIterator[bytes]:
    """The rows of ``query`` as CSV with a header, read through a server-side cursor a
    batch at a time, so that a million codes never sit in memory together."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    async with db.connect() as conn:
        result = await conn.stream(query.execution_options(yield_per=EXPORT_BATCH))
        async for rows in result.partitions():
            # csv writes None as an empty field: no winner, no play, not used.
            writer.writerows(
                (code, brand, game, user, play, _iso(issued), "true" if used else "false",
                 _iso(used_at))
                for code, brand, game, user, play, issued, used, used_at in rows
            )  # fmt: skip
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
    if out.tell():
        yield out.getvalue().encode()


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
