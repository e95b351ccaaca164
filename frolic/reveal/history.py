"""A reconnecting player's recent plays, from PostgreSQL (the durable ledger).

Redis keeps a result for 20 s only; PostgreSQL keeps every outcome with its coupon code, so
a socket that (re)connects reads its player's recent plays there. A decided play becomes the
``Final`` the recorder published; an undecided one is pending, and its ``Final`` will come
from the topic like any other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from frolic.db import models
from frolic.playlog.messages import Final

RECENT_SECONDS = 600.0
"""How far back a (re)connecting socket is sent its player's results."""
MAX_RECENT = 200
"""At most this many of the latest plays are sent on connect."""
OUTCOMES = ("WIN", "LOSE")


@dataclass
class History:
    decided: list[Final] = field(default_factory=list)  # oldest first
    pending: list[str] = field(default_factory=list)  # play ids not decided yet


async def recent(db: AsyncEngine, user: str, since: float, reveal_seconds: float) -> History:
    """``user``'s plays requested at or after ``since`` (epoch seconds), the latest
    ``MAX_RECENT`` of them. ``reveal_at`` is the one ingestion stored with the play, else
    request time plus ``reveal_seconds`` (as the recorder computes it)."""
    play, coupon = models.PlayEvent, models.Coupon
    query = (
        select(
            play.play_id,
            play.game_id,
            play.status,
            play.request_time,
            play.processed_time,
            coupon.code,
            coupon.brand_id,
            play.metadata_["brand"].astext.label("meta_brand"),
            play.metadata_["revealAt"].astext.label("meta_reveal_at"),
        )
        .join(models.User, models.User.id == play.user_id)
        .outerjoin(coupon, coupon.id == play.reward_coupon_id)
        .where(
            models.User.external_id == user,
            play.request_time >= datetime.fromtimestamp(since, UTC),
        )
        .order_by(play.request_time.desc(), play.id.desc())
        .limit(MAX_RECENT)
    )
    async with db.connect() as conn:
        rows = (await conn.execute(query)).all()
    history = History()
    for row in reversed(rows):
        play_id = str(row.play_id)
        if row.processed_time is None:
            history.pending.append(play_id)
            continue
        if row.status not in OUTCOMES:
            continue  # processed, but with no outcome a player could be shown
        win = row.status == "WIN"
        history.decided.append(
            Final(
                play_id=play_id,
                game_id=row.game_id,
                user=user,
                reveal_at=_float(row.meta_reveal_at)
                or row.request_time.timestamp() + reveal_seconds,
                outcome=row.status,
                brand=(row.brand_id or _int(row.meta_brand)) if win else None,
                coupon_code=row.code if win else None,
            )
        )
    return history


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
