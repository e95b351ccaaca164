"""What every probability strategy shares: the play it plans for, the protocol it keeps,
the random source it is given, and the audit fragment and game time of a play.

Each strategy turns a batch of plays into ``step.Decision`` intents from the last known
state. The state may be a batch old, or shared with other allocators; the caps in each
intent are enforced atomically by the store, so a stale view can cost precision, never
budget.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from frolic.engine.rules import GameRules, PacingState
from frolic.engine.step import Decision

RandomSource = Callable[[], float]


@dataclass(frozen=True)
class Play:
    play_id: str
    t: float  # request time, on the rules' clock


class Strategy(Protocol):
    def plan(
        self, rules: GameRules, state: PacingState, plays: Sequence[Play]
    ) -> list[Decision]: ...

    def chance(self, rules: GameRules, state: PacingState, t: float) -> float:
        """The probability a play made at ``t`` would win with, from ``state``: the ``p``
        that ``plan`` records for such a play as the next one (the dashboard's figure)."""


def audit(p: float, draw: float) -> str:
    """The audit fragment of a result: the probability and the draw it was decided by (the
    strategy is the game's ``probability_type``)."""
    return f'"p":{p:.6g},"draw":{draw:.6g}'


def position(rules: GameRules, t: float) -> tuple[float, int]:
    """The play's time inside the game and its slot (a skewed clock is clamped)."""
    t = min(max(t, rules.start), rules.end)
    last = math.ceil(rules.duration / rules.slot_seconds) - 1
    return t, min(rules.slot_of(t), last)
