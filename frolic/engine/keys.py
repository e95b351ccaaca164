"""Every Redis key the engine uses. Each carries the game's hash tag ``{<gameId>}``, so one
Lua call may touch all of a game's keys on Redis Cluster (they share one hash slot).

Outcomes live in hashes bucketed by the play's request time, not in a key per play (the
seed's ``play_processed:{playId}``): a key per play costs Redis a key and an expiry entry
each, which made it the bottleneck (figures in docs/decisions.md). A replay is the same
event with the same request time, so it finds its bucket. The seed's ``result:{playId}``
is not kept at all: nothing read it (docs/decisions.md, "No result documents in Redis").
"""

from __future__ import annotations

import math

PROCESSED_BUCKET_SECONDS = 3600


def budget(game_id: int, brand_id: int) -> str:
    """The seed's ``budget:game:{gameId}:brand:{brandId}``: remaining coupons, an integer."""
    return f"budget:game:{{{game_id}}}:brand:{brand_id}"


def pacing(game_id: int) -> str:
    """A hash of the game's pacing state (``rules.PacingState``'s fields)."""
    return f"pacing:game:{{{game_id}}}"


def processed_bucket(t: float) -> int:
    return math.floor(t / PROCESSED_BUCKET_SECONDS)


def processed(game_id: int, bucket: int) -> str:
    """The seed's idempotency record, one hash an hour: playId -> brand won (0: a loss)."""
    return f"processed:game:{{{game_id}}}:{bucket}"


def top_ups(game_id: int) -> str:
    """A hash of the top-ups applied to the game's stock: operation id -> coupons, so a
    retried top-up is applied once."""
    return f"top_ups:game:{{{game_id}}}"
