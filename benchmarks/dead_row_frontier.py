"""The dead row's frontier, measured without the pacer: how fast must any lottery catch up?

A second, independent check of the conflict `docs/pacing.md` reports on the `dead` row
(issue 12): that no catch-up fast enough for the tracking target keeps the memory ratio
near 1. It shares only the row's play times with the simulator. The oracle, the error and
the Mantel-Haenszel ratio are computed here again, from their definitions in the issue.

The lotteries it tries have no memory of wins at all: every play's chance is a function
of the time alone, set in hindsight from the true play rate, so nothing a player does or
sees moves it except the clock. Each owes the line ``B t / T`` and pays the debt a dead
period leaves at rate ``debt / X``: a catch-up with time constant ``X`` seconds of play.
For each ``X`` it prints

- ``error bound``: the RMS gap between the lottery's *expected* cumulative awards and
  the oracle's, over the budget. The RMS is a norm, so by Jensen's inequality the expected
  error of that lottery's draws is no smaller; the target is 0.005.
- ``memory``: the Mantel-Haenszel win-rate ratio of plays within ``T/(2B)`` after the
  latest win against the other plays, 50 time bins, pooled over the seeds (target within
  0.8-1.25).
- ``after dead``: the win rate of plays in the first 10 s after a dead period ends over
  the other plays' (a player who waits out a quiet spell).

    .venv/bin/python benchmarks/dead_row_frontier.py
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from frolic.sim.scenarios import DEAD_PERIODS, SCENARIOS

PLAYS, BUDGET, SEEDS = 200_000, 1_000, (0, 1, 2)
BINS, MIN_PER_SIDE, GRID = 50, 5, 2_000
CATCH_UPS = (1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 32.0, 64.0)
AFTER_DEAD = 10.0

Floats = NDArray[np.float64]
Mask = NDArray[np.bool_]


def oracle_awards(times: Floats, budget: int, duration: float) -> Floats:
    """Cumulative awards of the rule "award iff behind the line", one play at a time."""
    awarded, after = 0, np.empty(times.size)
    for i, t in enumerate(times):
        if awarded < min(budget, budget * t / duration):
            awarded += 1
        after[i] = awarded
    return after


def chances(times: Floats, budget: int, duration: float, catch_up: float) -> Floats:
    """Each play's chance: the line's rate plus the debt over ``catch_up`` seconds of plays.

    The debt is the line less the awards expected so far, which depends on the times of
    the plays alone, never on who won.
    """
    dead = sum(end - start for start, end in DEAD_PERIODS)
    rate = times.size / (duration * (1 - dead))  # plays per second while the game is live
    line_rate = budget / duration
    debt, previous, p = 0.0, 0.0, np.empty_like(times)
    for i, t in enumerate(times):
        debt += line_rate * (t - previous)
        p[i] = min(1.0, max(0.0, (line_rate + debt / catch_up) / rate))
        debt -= p[i]
        previous = t
    return p


def rms_gap(times: Floats, expected: Floats, oracle: Floats, duration: float) -> float:
    grid = np.linspace(0.0, duration, GRID)
    at = np.searchsorted(times, grid, side="right") - 1
    e = np.where(at >= 0, expected[np.maximum(at, 0)], 0.0)
    o = np.where(at >= 0, oracle[np.maximum(at, 0)], 0.0)
    return float(np.sqrt(np.mean((e - o) ** 2)))


def mh_parts(times: Floats, wins: Mask, chosen: Mask, duration: float) -> tuple[float, float]:
    """Numerator and denominator of the stratified ratio, so seeds can be pooled."""
    num = den = 0.0
    b = np.minimum((times / duration * BINS).astype(int), BINS - 1)
    for k in range(BINS):
        here = b == k
        s, o = here & chosen, here & ~chosen
        n_s, n_o = int(s.sum()), int(o.sum())
        if n_s < MIN_PER_SIDE or n_o < MIN_PER_SIDE:
            continue
        num += (wins & s).sum() * n_o / (n_s + n_o)
        den += (wins & o).sum() * n_s / (n_s + n_o)
    return num, den


def after_latest_win(times: Floats, wins: Mask) -> Floats:
    latest, since = -np.inf, np.empty_like(times)
    for i, t in enumerate(times):
        since[i] = t - latest
        if wins[i]:
            latest = t
    return since


def main() -> None:
    scenario = SCENARIOS["dead"]
    duration = scenario.duration
    tau = duration / BUDGET / 2
    ends = [end * duration for _, end in DEAD_PERIODS]
    rows = []
    for catch_up in CATCH_UPS:
        bounds, mem, fresh = [], [0.0, 0.0], [0, 0, 0, 0]
        for seed in SEEDS:
            times = scenario.generate(PLAYS, duration, np.random.default_rng(seed))
            p = chances(times, BUDGET, duration, catch_up)
            oracle = oracle_awards(times, BUDGET, duration)
            bounds.append(rms_gap(times, np.cumsum(p), oracle, duration) / BUDGET)
            wins = np.random.default_rng(1000 + seed).random(times.size) < p
            num, den = mh_parts(times, wins, after_latest_win(times, wins) <= tau, duration)
            mem[0] += num
            mem[1] += den
            early = np.zeros_like(wins)
            for end in ends:
                early |= (times >= end) & (times < end + AFTER_DEAD)
            fresh[0] += int((wins & early).sum())
            fresh[1] += int(early.sum())
            fresh[2] += int((wins & ~early).sum())
            fresh[3] += int((~early).sum())
        ratio = (fresh[0] / fresh[1]) / (fresh[2] / fresh[3])
        rows.append((catch_up, max(bounds), mem[0] / mem[1], ratio))
        print(
            f"X {catch_up:6.1f} s  error bound (worst seed) {max(bounds):.4f}  "
            f"memory {mem[0] / mem[1]:.2f}  after dead {ratio:.1f}",
            flush=True,
        )
    both = [r for r in rows if r[1] <= 0.005 and 0.8 <= r[2] <= 1.25]
    print("meets both the tracking and the memory target:", both or "none")


if __name__ == "__main__":
    main()
