"""What every probability strategy shares: the play it plans for (with its two draws), the
protocol it keeps, and the game time of a play.

Each strategy turns a batch of plays into ``step.Decision`` intents from the last known
state. The state may be a batch old, or shared with other allocators; the caps in each
intent are enforced atomically by the store, so a stale view can cost precision, never
budget.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

from frolic.engine.rules import GameRules, PacingState
from frolic.engine.step import Decision

RandomSource = Callable[[], float]


class Play(NamedTuple):
    """A play to decide, with its draws: it wins if ``u < p`` (and the caps allow), and
    ``brand_u`` picks its brand. The caller makes the draws (the allocator from the game's
    committed seed, ``frolic.fairness.draws``), so a strategy is a function of its input.

    A NamedTuple: an allocator builds one per play, and a frozen dataclass pays
    ``object.__setattr__`` for every field."""

    play_id: str
    t: float  # request time, on the rules' clock
    u: float  # in [0, 1)
    brand_u: float  # in [0, 1)

    @classmethod
    def drawn(cls, play_id: str, t: float, rng: RandomSource) -> Play:
        """A play whose draws come from ``rng`` (the win draw first): for a game without a
        committed seed, the simulator and tests."""
        return cls(play_id, t, rng(), rng())


class Strategy(Protocol):
    def plan(
        self, rules: GameRules, state: PacingState, plays: Sequence[Play]
    ) -> list[Decision]: ...

    def chance(self, rules: GameRules, state: PacingState, t: float) -> float:
        """The probability a play made at ``t`` would win with, from ``state``: the ``p``
        that ``plan`` records for such a play as the next one (the dashboard's figure)."""


def position(rules: GameRules, t: float) -> tuple[float, int]:
    """The play's time inside the game and its slot (a skewed clock is clamped)."""
    t = min(max(t, rules.start), rules.end)
    last = math.ceil(rules.duration / rules.slot_seconds) - 1
    return t, min(rules.slot_of(t), last)
