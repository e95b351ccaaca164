"""Every Redis key the engine uses. Each carries the game's hash tag ``{<gameId>}``, so one
Lua call may touch all of a game's keys on Redis Cluster (they share one hash slot)."""

from __future__ import annotations


def tag(game_id: int) -> str:
    return f"{{{game_id}}}"


def budget(game_id: int, brand_id: int) -> str:
    """The seed's ``budget:game:{gameId}:brand:{brandId}``: remaining coupons, an integer."""
    return f"budget:game:{{{game_id}}}:brand:{brand_id}"


def pacing(game_id: int) -> str:
    """A hash of the game's pacing state (``rules.PacingState``'s fields)."""
    return f"pacing:game:{{{game_id}}}"


def result(game_id: int, play_id: str) -> str:
    """The seed's ``result:{playId}`` (JSON, short TTL), tagged with the game."""
    return f"result:{{{game_id}}}:{play_id}"


def processed(game_id: int, play_id: str) -> str:
    """The seed's ``play_processed:{playId}``: the brand won (0 for a loss), kept for replays."""
    return f"play_processed:{{{game_id}}}:{play_id}"
