"""How well a pacing strategy spent its budget, judged against two yardsticks.

The *target* is the straight line ``B * t / T``: the budget spread evenly over the game.
The *oracle* knows nothing of the future either, but plays the target as tightly as plays
allow: it awards a play at time ``t`` iff the count awarded so far is below ``B * t / T``
and below ``B``. Real traffic has gaps, so even the oracle trails the line; comparing a
strategy with the oracle separates its own pacing error from what the traffic made
unavoidable.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from frolic.fairness.measures import fairness

DEFAULT_GRID_POINTS = 2000


def oracle_wins(times: ArrayLike, budget: int, duration: float) -> NDArray[np.bool_]:
    """The oracle's decision for each play; ``times`` must be non-decreasing.

    Sequential as the rule is, it has a closed form. With ``A_i`` awarded before play ``i``
    and ``c_i = clip(ceil(B * t_i / T), 0, B)`` (for an integer ``A``, ``A < x`` iff
    ``A < ceil(x)``), play ``i`` wins iff ``A_i < c_i``. Because ``c`` never decreases,
    ``A_i <= c_i`` always holds, so ``A_{i+1} = min(A_i + 1, c_i)``, which unrolls to
    ``A_{i+1} = min(i + 1, i + min_{j<=i}(c_j - j))``: a running minimum, no Python loop.
    """
    t = _play_times(times)
    _check_game(budget, duration)
    if t.size == 0:
        return np.zeros(0, dtype=np.bool_)
    # Same float expression as the rule's B * t / T, so ceil sees the value the rule compares.
    ceiling = np.clip(np.ceil(budget * t / duration), 0, budget).astype(np.int64)
    index = np.arange(t.size, dtype=np.int64)
    awarded_after = np.minimum(index + 1, index + np.minimum.accumulate(ceiling - index))
    wins: NDArray[np.bool_] = np.diff(awarded_after, prepend=0) == 1
    return wins


def cumulative(times: ArrayLike, wins: ArrayLike, grid: ArrayLike) -> NDArray[np.int64]:
    """Coupons awarded at or before each grid time; ``times`` must be non-decreasing."""
    t = _play_times(times)
    flags = _decisions(wins, t)
    awarded = np.concatenate(([0], np.cumsum(flags, dtype=np.int64)))
    return awarded[np.searchsorted(t, np.asarray(grid, dtype=np.float64), side="right")]


@dataclass(frozen=True)
class Metrics:
    awarded: int
    budget: int
    overspend: int
    utilization: float
    # Fraction of the game elapsed when the budget-th coupon went; None if it never did.
    exhaustion_time: float | None
    # Root-mean-square gap of the cumulative curves on a uniform grid, in budgets.
    nrmse_vs_oracle: float
    nrmse_vs_target: float
    # Largest gap to the target line over the whole game, in budgets.
    max_gap_vs_target: float
    # Fairness (``fairness.measures``): win-rate ratios, about 1 for a fair lottery; None where
    # no time bin had enough plays on both sides.
    memory: float | None
    line_phase: float | None
    slot_phase: float | None
    best_bot: float | None
    best_bot_rule: str | None

    def as_dict(self) -> dict[str, int | float | None]:
        return {
            key: round(value, 6) if isinstance(value, float) else value
            for key, value in asdict(self).items()
        }


def evaluate(
    times: ArrayLike,
    wins: ArrayLike,
    budget: int,
    duration: float,
    *,
    slot_seconds: float,
    grid_points: int = DEFAULT_GRID_POINTS,
) -> Metrics:
    t = _play_times(times)
    flags = _decisions(wins, t)
    _check_game(budget, duration)
    if budget < 1:
        raise ValueError("metrics are relative to the budget, which must be at least 1")
    if grid_points < 2:
        raise ValueError("the grid needs at least 2 points")

    win_times = t[flags]
    awarded = int(win_times.size)
    grid = np.linspace(0.0, duration, grid_points)
    curve = cumulative(t, flags, grid)
    oracle = cumulative(t, oracle_wins(t, budget, duration), grid)
    target = budget * grid / duration
    fair = fairness(t, flags, budget, duration, slot_seconds)
    return Metrics(
        awarded=awarded,
        budget=budget,
        overspend=max(0, awarded - budget),
        utilization=awarded / budget,
        exhaustion_time=(float(win_times[budget - 1] / duration) if awarded >= budget else None),
        nrmse_vs_oracle=_rms(curve - oracle) / budget,
        nrmse_vs_target=_rms(curve - target) / budget,
        max_gap_vs_target=_max_gap(win_times, budget, duration) / budget,
        memory=fair.memory,
        line_phase=fair.line_phase,
        slot_phase=fair.slot_phase,
        best_bot=fair.best_bot,
        best_bot_rule=fair.best_bot_rule,
    )


def _max_gap(win_times: NDArray[np.float64], budget: int, duration: float) -> float:
    """``max |A(t) - B t / T|`` over ``[0, T]``, exactly rather than on the grid.

    ``A`` is a step function and the target a rising line, so the curve is furthest ahead
    just after a win and furthest behind just before one (or at the end of the game).
    """
    within = win_times[win_times <= duration]
    at_end = abs(within.size - budget)
    if within.size == 0:
        return float(at_end)
    line = budget * within / duration
    after = np.searchsorted(within, within, side="right")
    before = np.searchsorted(within, within, side="left")
    ahead = float(np.max(after - line))
    behind = float(np.max(line - before))
    return max(ahead, behind, float(at_end))


def _rms(gap: NDArray[np.float64] | NDArray[np.int64]) -> float:
    return float(np.sqrt(np.mean(np.square(gap, dtype=np.float64))))


def _play_times(times: ArrayLike) -> NDArray[np.float64]:
    t = np.asarray(times, dtype=np.float64)
    if t.ndim != 1:
        raise ValueError("play times must be a 1-D array")
    if t.size > 1 and bool(np.any(np.diff(t) < 0)):
        raise ValueError("play times must be non-decreasing")
    return t


def _decisions(wins: ArrayLike, times: NDArray[np.float64]) -> NDArray[np.bool_]:
    flags = np.asarray(wins, dtype=np.bool_)
    if flags.shape != times.shape:
        raise ValueError(f"{times.size} plays but {flags.size} decisions")
    return flags


def _check_game(budget: int, duration: float) -> None:
    if budget < 0:
        raise ValueError("the budget cannot be negative")
    if not duration > 0:
        raise ValueError("the game must last a positive number of seconds")
