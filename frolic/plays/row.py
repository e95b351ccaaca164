"""What a play's row says, for every role that reads one: when the play is revealed, and its
``Final`` (the outcome as the player sees it). Ingestion, the re-driver, the recorder, the
play view and the reveal's history all read rows; they read them through these two. And
what a play's id says: the moment it was requested (``new_play_id``, ``requested_near``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import uuid_utils

from frolic.playlog.messages import Final, probability


def new_play_id(requested: float) -> str:
    """A play's id: a UUIDv7 whose millisecond (its first 48 bits) is the play's request
    time, so that the id alone says which day's partition holds the play
    (``requested_near``)."""
    return str(uuid_utils.uuid7(nanoseconds=round(requested * 1e9)))


# The id's millisecond is the request time's, floored; the stored time is rounded to the
# microsecond, which may carry it into the next millisecond.
_NEAR = (timedelta(milliseconds=1), timedelta(milliseconds=2))


def requested_near(play_id: uuid.UUID) -> tuple[datetime, datetime] | None:
    """Where a play minted by ``new_play_id`` has its request time: a window of a few
    milliseconds. None for an id that is not a UUIDv7 (a play from elsewhere); an id minted
    otherwise (a play from before, a clock of its own) may say a time the play does not
    have, so a look-up by the window that finds nothing must look again without it."""
    if play_id.version != 7:
        return None
    minted = datetime.fromtimestamp(int.from_bytes(play_id.bytes[:6]) / 1000, UTC)
    return minted - _NEAR[0], minted + _NEAR[1]


def reveal_at(stored: object, requested: float, reveal_seconds: float) -> float:
    """When a play is revealed: the moment ingestion stored with it (``revealAt`` in its
    metadata, a number or its text), else its request time plus the reel, for a row
    written without one (by hand, or by the recorder for a play ingestion never wrote)."""
    value = _number(stored)
    return value if value else requested + reveal_seconds


def final_of(
    play_id: object, game_id: int, user: str, status: str, requested: float,
    meta: Mapping[str, Any], brand_id: int | None, code: str | None, reveal_seconds: float,
) -> Final:  # fmt: skip
    """A decided play's ``Final``. ``meta`` holds what the recorder kept of the decision
    (``revealAt``, ``brand``, ``p``); the brand of a win is its code's, else the one
    decided (a win that found no code)."""
    won = status == "WIN"
    p = meta.get("p")
    return Final(
        play_id=str(play_id),
        game_id=game_id,
        user=user,
        reveal_at=reveal_at(meta.get("revealAt"), requested, reveal_seconds),
        outcome="WIN" if won else "LOSE",
        brand=(brand_id or _whole(meta.get("brand"))) if won else None,
        coupon_code=code if won else None,
        probability=probability(_number(p) if isinstance(p, str) else p),
    )


def _number(value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _whole(value: object) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number.is_integer() else None
