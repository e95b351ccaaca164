"""What a strategy needs to know about a game, and the state a store shares about it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

StrategyName = Literal["slot", "paced", "winning_moments", "fixed_odds"]
STRATEGIES: tuple[StrategyName, ...] = ("paced", "slot", "winning_moments", "fixed_odds")

# "No cap" crosses into Lua as a number; 1e300 parses there and compares as expected.
NO_CAP = 1e300
# The forecast of plays per slot is an EWMA over closed slots (``step.next_forecast``). It
# remembers about the time the pacing line takes to climb FORECAST_COUPONS coupons, and
# never less than a few slots: a game of 500 coupons over three days needs the last hour's
# plays to judge its nights, a game of 1,000 over an hour the last few seconds'.
MAX_FORECAST_ALPHA = 0.3
FORECAST_COUPONS = 3.0


@dataclass(frozen=True)
class GameRules:
    game_id: int
    start: float  # epoch seconds (0 in the simulator)
    end: float
    budget: int  # total coupons the game may award
    brands: tuple[int, ...]
    strategy: StrategyName = "paced"
    slot_seconds: float = 5.0
    odds: int = 100  # fixed_odds: one win in `odds` plays
    moments_seed: int = 0  # winning_moments: secret seed of the pre-drawn instants
    moments_void: bool = False  # winning_moments: an unclaimed instant dies at the next one

    def __post_init__(self) -> None:
        if not self.end > self.start:
            raise ValueError("a game must end after it starts")
        if not 1 <= self.slot_seconds <= 5:
            raise ValueError("slot_seconds must be between 1 and 5")
        if self.budget < 0 or self.odds < 1 or not self.brands:
            raise ValueError("budget >= 0, odds >= 1 and at least one brand")

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def forecast_alpha(self) -> float:
        """The forecast's weight on each closed slot, the same in every store and plan."""
        if self.budget <= 0:
            return MAX_FORECAST_ALPHA
        memory = FORECAST_COUPONS * self.duration / self.budget
        return min(MAX_FORECAST_ALPHA, self.slot_seconds / memory)

    def slot_of(self, t: float) -> int:
        return math.floor((t - self.start) / self.slot_seconds)

    def slot_start(self, slot: int) -> float:
        return self.start + slot * self.slot_seconds

    def slot_end(self, slot: int) -> float:
        return min(self.end, self.start + (slot + 1) * self.slot_seconds)


@dataclass(frozen=True)
class PacingState:
    """What the store knows of a game after its last atomic step.

    ``consumed`` counts what the caps are compared with: awards, plus the winning
    moments voided when a game voids unclaimed moments. ``forecast`` is the learned
    number of plays per slot (an EWMA over closed slots), shared by every allocator.

    ``line_t`` and ``line_from`` anchor the pacing line: it runs from ``line_from`` coupons
    at ``line_t`` to the game's total at its end. A game loaded before its start and never
    topped up has no anchor (``None``: the line starts at 0 at the game's start); one
    loaded after its start is anchored at 0 at the load; a top-up re-anchors it at the
    line's value at that moment, a resume at the coupons awarded. Either way the coupons
    not yet due spread over the time left instead of being owed at once
    (docs/decisions.md).

    ``epoch`` names the load (or rebuild after a Redis loss) that this state descends from;
    it is also on the game's row in PostgreSQL, and a recorder keeps only the decisions
    made under the game's current epoch (``frolic.reconcile.recovery``).
    """

    consumed: int = 0
    awarded: int = 0
    slot: int | None = None
    slot_awarded: int = 0
    slot_cap: float = NO_CAP
    slot_plays: int = 0
    forecast: float | None = None
    plays: int = 0
    line_t: float | None = None
    line_from: float = 0.0
    remaining: int = 0
    epoch: int = 0

    def line_origin(self, start: float) -> float:
        return start if self.line_t is None else self.line_t
