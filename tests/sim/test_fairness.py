"""The fairness measures (``frolic.fairness.measures``), and the gate: ``paced`` is a fair lottery.

The gate runs the rows of issue 12's targets (plays at least twice the budget, budgets of at
least 500; 1,000 for the best timing bot) at a reduced size and pools four seeds, as the
report pools its three. The simulator is deterministic, so the gate is too; the pooled
ratios sit several standard errors inside the band, so a harmless change to the draws does
not flip it. The previous ``paced`` (eagerness 0.25, capped at the line) failed it on every
row: memory 0.02-0.50, line phase 1.50-4.78, best bot 2.65-49.
"""

from __future__ import annotations

import numpy as np
import pytest

from frolic.fairness.measures import (
    BINS,
    Fairness,
    Ratio,
    mantel_haenszel,
    ratios,
    since_last_win,
)
from frolic_report.pacing import BOT_BUDGET, FAIR_BAND, FAIR_BUDGET, Row, run
from tests.sim.test_pacing_targets import GATE as PACING_GATE

SEEDS = range(4)


def test_mantel_haenszel_compares_plays_within_each_time_bin() -> None:
    # Two bins of a 100 s game (BINS of them, only the first two used). Bin 0: S has 10
    # plays and 4 wins, the others 10 plays and 2 wins; bin 1: S 5 plays 0 wins, others 20
    # plays and 5 wins.
    width = 100.0 / BINS
    times = np.concatenate([np.full(20, 0.1 * width), np.full(25, 1.1 * width)])
    chosen = np.array([True] * 10 + [False] * 10 + [True] * 5 + [False] * 20)
    wins = np.zeros(45, dtype=bool)
    wins[[0, 1, 2, 3, 10, 11, 25, 26, 27, 28, 29]] = True
    ratio = mantel_haenszel(times, wins, chosen, 100.0)
    # num = 4*10/20 + 0*20/25 = 2; den = 2*10/20 + 5*5/25 = 2
    assert ratio == Ratio(2.0, 2.0)
    assert ratio.value == 1.0


def test_a_bin_without_five_plays_on_each_side_does_not_count() -> None:
    times = np.full(12, 1.0)
    chosen = np.array([True] * 4 + [False] * 8)
    wins = np.array([True] * 4 + [False] * 8)
    assert mantel_haenszel(times, wins, chosen, 100.0) == Ratio(0.0, 0.0)
    assert Ratio().value is None


def test_ratios_pool_over_runs_as_sums() -> None:
    pooled = Fairness.of([{"memory": Ratio(1, 2)}, {"memory": Ratio(3, 2)}])
    assert pooled.memory == 1.0
    assert pooled.best_bot == 1.0
    assert pooled.best_bot_rule == "memory"


def test_since_last_win_counts_only_earlier_plays() -> None:
    times = np.array([1.0, 2.0, 2.5, 4.0])
    wins = np.array([False, True, True, False])
    assert since_last_win(times, wins).tolist() == [np.inf, np.inf, 0.5, 1.5]


def lottery(times: np.ndarray, p: np.ndarray, seed: int) -> np.ndarray:
    result: np.ndarray = np.random.default_rng(seed).random(times.size) < p
    return result


def test_a_lottery_with_one_probability_scores_about_one() -> None:
    rng = np.random.default_rng(1)
    times = np.sort(rng.random(200_000) * 3600.0)
    # 1,000 wins a run, as a game of 1,000 coupons: tau is half their mean gap.
    runs = [ratios(times, lottery(times, np.full(times.size, 0.005), s), 1000, 3600.0, 5.0)
            for s in range(3)]  # fmt: skip
    fair = Fairness.of(runs)
    assert fair.within(0.85, 1.15, bot=False), fair
    assert fair.best_bot is not None
    assert fair.best_bot < 1.15, fair


def test_the_measures_catch_the_timing_edges_they_name() -> None:
    rng = np.random.default_rng(2)
    times = np.sort(rng.random(200_000) * 3600.0)
    step = 3600.0 / 1000
    early_in_step = np.mod(times, step) < 0.1 * step
    early_in_slot = np.mod(times, 5.0) < 1.25
    rigged = lottery(times, np.where(early_in_step | early_in_slot, 0.04, 0.01), 0)
    fair = Fairness.of([ratios(times, rigged, 1000, 3600.0, 5.0)])
    assert fair.line_phase is not None
    assert fair.line_phase > 2
    assert fair.slot_phase is not None
    assert fair.slot_phase > 2
    assert fair.best_bot is not None
    assert fair.best_bot >= fair.line_phase

    # A win that makes the next plays lose: the memory ratio falls far below 1.
    wins = np.zeros(times.size, dtype=bool)
    last = -np.inf
    draws = rng.random(times.size)
    for i, t in enumerate(times):
        wins[i] = draws[i] < (0.0 if t - last <= step / 2 else 0.01)
        last = t if wins[i] else last
    memory = Fairness.of([ratios(times, wins, 1000, 3600.0, 5.0)]).memory
    assert memory is not None
    assert memory < 0.2


DEAD = pytest.mark.xfail(
    strict=True,
    reason="the catch-up after a dead period is a burst of wins, which the memory ratio "
    "counts, at a slot's and a line step's first instant, which the phases count "
    "(docs/pacing.md, the trade-off)",
)
# The pacing gate's rows that the fairness targets judge; its diurnal row has 250 coupons,
# too few to be judged, so this one has 500.
GATE = [
    pytest.param(row, marks=DEAD if row.scenario == "dead" else ())
    for row in (*PACING_GATE, Row("diurnal", "diurnal", "diurnal", 40_000, FAIR_BUDGET))
    if row.budget >= FAIR_BUDGET
]


@pytest.mark.parametrize("row", GATE, ids=lambda row: f"{row.name}-{row.budget}")
def test_paced_is_a_fair_lottery(row: Row) -> None:
    assert row.plays >= 2 * row.budget
    assert row.budget >= FAIR_BUDGET
    fair = Fairness.of(run(row, seed, ("paced",)).ratios["paced"] for seed in SEEDS)
    low, high = FAIR_BAND
    assert fair.within(low, high, bot=row.budget >= BOT_BUDGET), f"{row.name}: {fair}"
