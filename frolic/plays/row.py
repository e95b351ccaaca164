"""What a play's row says, for every role that reads one: when the play is revealed, and its
``Final`` (the outcome as the player sees it). Ingestion, the re-driver, the recorder, the
play view and the reveal's history all read rows; they read them through these two."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from frolic.playlog.messages import Final, probability


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
