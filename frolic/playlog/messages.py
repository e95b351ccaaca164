"""The messages on Frolic's topics, and their JSON form (orjson, compact).

    play-events    PlayEvent   ingestion -> allocators          key: the player's external id
    play-results   Decided     allocators -> recorders          key: the player's external id
    play-final     Final       recorders -> every ws process    key: the player's external id

Times are epoch seconds (floats). ``t`` is when the play was requested: it fixes the play's
slot, its Redis buckets, and ``reveal_at`` (``t`` + the reel).
"""

from __future__ import annotations

import math
from typing import Any

import msgspec


class PlayEvent(msgspec.Struct, frozen=True):
    play_id: str
    game_id: int
    user_id: int  # users.id
    user: str  # users.external_id: the JWT's sub, and the message key
    t: float
    reveal_at: float
    device: dict[str, Any] | None = None
    # What binds the play's draw (docs/fairness.md): its number in the game for its player,
    # and the client seed it was sent with. None for a play written before numbers existed.
    number: int | None = None
    client_seed: str = ""


class Decided(msgspec.Struct, frozen=True):
    play_id: str
    game_id: int
    user_id: int
    user: str
    t: float
    reveal_at: float
    brand: int | None  # the brand won, or None for a loss
    decided_at: float  # when the allocator's store call that decided it returned
    audit: dict[str, Any] = {}  # the strategy's probability and draw, as stored in Redis
    epoch: int = 0  # the game's Redis epoch it was decided under (PacingState.epoch)


class Final(msgspec.Struct, frozen=True):
    """A play's outcome as the player will see it, coupon code included."""

    play_id: str
    game_id: int
    user: str
    reveal_at: float
    outcome: str  # "WIN" or "LOSE"
    brand: int | None
    coupon_code: str | None
    probability: float | None = None  # the p it was decided with (``probability``)

    def reveal(self) -> dict[str, Any]:
        """The WebSocket message of DESIGN.md §7."""
        return {
            "type": "result",
            "playId": self.play_id,
            "outcome": self.outcome,
            "brand": self.brand,
            "couponCode": self.coupon_code,
            "probability": self.probability,
        }


def probability(p: object) -> float | None:
    """A play's odds as its player is told them (``GET /plays/{id}``, the reveal): the ``p``
    its audit records (``Decided.audit``, kept in the ledger's metadata), the probability
    the strategy decided it with, within [0, 1]. A winning_moments play's is 1 where it
    claimed a due instant and 0 otherwise: that is the chance it had. None where the audit
    has none (a play of an unknown game, or recorded before audits carried it)."""
    if isinstance(p, bool) or not isinstance(p, int | float) or math.isnan(p):
        return None
    return min(1.0, max(0.0, float(p)))


_encoder = msgspec.json.Encoder()


def encode(message: PlayEvent | Decided | Final) -> bytes:
    return _encoder.encode(message)


def decoder(kind: type[PlayEvent] | type[Decided] | type[Final]) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(kind)
