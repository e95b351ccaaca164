"""Is a strategy a fair lottery? Win-rate ratios of sets of plays a player could aim for.

A fair draw gives every play at the same moment the same chance, so no set of plays picked
by a rule a player can follow (play just after someone else's win, just after the pacing
line steps, early in a slot) wins more often than the plays around it. Each measure is the
*Mantel-Haenszel win-rate ratio* of a set S against the other plays (issue 12's contract;
other checks compute them the same way):

    sum_b (wins in S∩b * n_other,b / n_b) / sum_b (wins in other∩b * n_S,b / n_b)

over 50 equal time bins ``b`` of the game, counting only the bins with at least 5 plays on
each side. Within a bin both sides play at about the same time of the game, so a win rate
that merely drifts with time (a catch-up after a dead period, a quiet night) does not
count; a fair lottery scores about 1.

- **memory**: S = the plays within ``tau = T / (2B)`` after the latest earlier win;
- **line phase**: S = the plays whose ``t mod (T/B) < 0.1 * T/B``, just after the line
  ``B * t / T`` steps up a coupon;
- **slot phase**: S = the plays in the first 25% of their slot;
- **best timing bot**: the largest ratio over every timing rule in ``rules``, each one a
  player could follow from public information (the budget, the duration, the slot size,
  the clock, and a winners feed's win times).

Numerators and denominators add over runs (``Ratio.__add__``), so seeds pool exactly as
bins do: the pooled ratio is the Mantel-Haenszel ratio over every seed's bins.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

BINS = 50
MIN_PER_SIDE = 5
LINE_PHASE = 0.1  # the first tenth of each step of the line
SLOT_PHASE = 0.25  # the first quarter of each slot
WINDOWS = 10  # the bot's windows: tenths of a line step, of a slot

Mask = NDArray[np.bool_]


@dataclass(frozen=True)
class Ratio:
    """A Mantel-Haenszel ratio as its two sums; ``value`` is None where no bin counted."""

    num: float = 0.0
    den: float = 0.0

    def __add__(self, other: Ratio) -> Ratio:
        return Ratio(self.num + other.num, self.den + other.den)

    @property
    def value(self) -> float | None:
        if self.den > 0:
            return self.num / self.den
        return None if self.num == 0 else float("inf")


def mantel_haenszel(times: NDArray[np.float64], wins: Mask, chosen: Mask, duration: float) -> Ratio:
    """The ratio of the plays ``chosen`` against the rest, stratified by time bin."""
    b = np.clip((times * (BINS / duration)).astype(np.int64), 0, BINS - 1)
    n_s = np.bincount(b[chosen], minlength=BINS).astype(np.float64)
    n_o = np.bincount(b[~chosen], minlength=BINS).astype(np.float64)
    w_s = np.bincount(b[chosen & wins], minlength=BINS).astype(np.float64)
    w_o = np.bincount(b[~chosen & wins], minlength=BINS).astype(np.float64)
    counted = (n_s >= MIN_PER_SIDE) & (n_o >= MIN_PER_SIDE)
    n = np.where(counted, n_s + n_o, 1.0)
    num = float(np.sum(np.where(counted, w_s * n_o / n, 0.0)))
    den = float(np.sum(np.where(counted, w_o * n_s / n, 0.0)))
    return Ratio(num, den)


def since_last_win(times: NDArray[np.float64], wins: Mask) -> NDArray[np.float64]:
    """Seconds from the latest *earlier* play's win to each play (inf before the first)."""
    marks = np.where(wins, times, -np.inf)
    latest = np.maximum.accumulate(marks)
    earlier = np.concatenate(([-np.inf], latest[:-1]))
    return times - earlier


def rules(
    times: NDArray[np.float64], wins: Mask, budget: int, duration: float, slot_seconds: float
) -> Iterator[tuple[str, Mask]]:
    """Every timing rule the best bot may follow, named, with the plays it would make.

    The three measures' sets and their complements; each tenth of the line's step and of
    the slot; and windows after the latest win on a winners feed, in units of ``tau``.
    """
    step = duration / budget
    tau = step / 2
    line = np.mod(times, step) / step
    slot = np.mod(times, slot_seconds) / slot_seconds
    after = since_last_win(times, wins) / tau
    named = (
        ("memory", after <= 1),
        ("line phase", line < LINE_PHASE),
        ("slot phase", slot < SLOT_PHASE),
    )
    for name, chosen in named:
        yield name, chosen
        yield f"not {name}", ~chosen
    for i in range(WINDOWS):
        low, high = i / WINDOWS, (i + 1) / WINDOWS
        yield f"line step {low:.0%}-{high:.0%}", (line >= low) & (line < high)
        yield f"slot {low:.0%}-{high:.0%}", (slot >= low) & (slot < high)
    edges = (0.0, 0.5, 1.0, 2.0, 4.0, np.inf)
    for low, high in itertools.pairwise(edges):
        yield f"after a win {low:g}-{high:g} tau", (after >= low) & (after < high)


MEASURES = ("memory", "line phase", "slot phase")


def ratios(
    times: NDArray[np.float64], wins: Mask, budget: int, duration: float, slot_seconds: float
) -> dict[str, Ratio]:
    """Every rule's ratio for one run, by the rule's name (``MEASURES`` among them)."""
    t = np.asarray(times, dtype=np.float64)
    w = np.asarray(wins, dtype=np.bool_)
    return {
        name: mantel_haenszel(t, w, chosen, duration)
        for name, chosen in rules(t, w, budget, duration, slot_seconds)
    }


@dataclass(frozen=True)
class Fairness:
    memory: float | None
    line_phase: float | None
    slot_phase: float | None
    best_bot: float | None  # the largest ratio any timing rule reached
    best_bot_rule: str | None

    @classmethod
    def of(cls, runs: Iterable[dict[str, Ratio]]) -> Fairness:
        """The measures over one run's ratios, or pooled over several runs'."""
        pooled: dict[str, Ratio] = {}
        for each in runs:
            for name, ratio in each.items():
                pooled[name] = pooled.get(name, Ratio()) + ratio
        valued = [(r.value, name) for name, r in pooled.items() if r.value is not None]
        best = max(valued, default=(None, None))
        return cls(
            memory=pooled["memory"].value if "memory" in pooled else None,
            line_phase=pooled["line phase"].value if "line phase" in pooled else None,
            slot_phase=pooled["slot phase"].value if "slot phase" in pooled else None,
            best_bot=best[0],
            best_bot_rule=best[1],
        )

    def within(self, low: float, high: float, *, bot: bool) -> bool:
        """Whether every measure (and the best bot, with ``bot``) lies in ``[low, high]``;
        a measure no bin counted fails."""
        values = [self.memory, self.line_phase, self.slot_phase]
        values += [self.best_bot] if bot else []
        return all(v is not None and low <= v <= high for v in values)


def fairness(
    times: NDArray[np.float64], wins: Mask, budget: int, duration: float, slot_seconds: float
) -> Fairness:
    return Fairness.of([ratios(times, wins, budget, duration, slot_seconds)])
