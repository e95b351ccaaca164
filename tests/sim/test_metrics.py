from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frolic.sim.metrics import cumulative, evaluate, oracle_wins


def oracle_by_the_rule(times: list[float], budget: int, duration: float) -> list[bool]:
    """The oracle's definition, one play at a time."""
    awarded = 0
    wins = []
    for t in times:
        win = awarded < budget * t / duration and awarded < budget
        awarded += win
        wins.append(win)
    return wins


@st.composite
def games(draw: st.DrawFn) -> tuple[list[float], int, float]:
    duration = draw(st.floats(min_value=0.5, max_value=5000.0))
    # A few distinct instants make ties and bursts likely; some plays run past the end.
    instants = draw(
        st.lists(st.floats(min_value=0.0, max_value=1.2 * duration), min_size=1, max_size=8)
    )
    times = sorted(draw(st.lists(st.sampled_from(instants), max_size=60)))
    times += sorted(draw(st.lists(st.floats(0.0, 1.2 * duration), max_size=60)))
    return sorted(times), draw(st.integers(min_value=0, max_value=40)), duration


@settings(max_examples=300, deadline=None)
@given(games())
def test_the_oracle_matches_its_definition(game: tuple[list[float], int, float]) -> None:
    times, budget, duration = game
    assert oracle_wins(np.array(times), budget, duration).tolist() == oracle_by_the_rule(
        times, budget, duration
    )


def test_the_oracle_on_busy_traffic_matches_its_definition() -> None:
    rng = np.random.default_rng(4)
    times = np.sort(rng.random(20_000) ** 3 * 100.0)  # bunched at the start
    for budget in (1, 7, 500, 30_000):
        expected = oracle_by_the_rule(times.tolist(), budget, 90.0)
        assert oracle_wins(times, budget, 90.0).tolist() == expected


@settings(max_examples=100, deadline=None)
@given(games(), st.data())
def test_cumulative_counts_wins_up_to_each_time(
    game: tuple[list[float], int, float], data: st.DataObject
) -> None:
    times, _, duration = game
    wins = data.draw(st.lists(st.booleans(), min_size=len(times), max_size=len(times)))
    grid = np.linspace(0, duration, 17).tolist() + times
    expected = [sum(w for t, w in zip(times, wins, strict=True) if t <= g) for g in grid]
    assert cumulative(np.array(times), np.array(wins), np.array(grid)).tolist() == expected


# Four plays over a 4 s game with a budget of 2: the oracle wins the first and the third.
TIMES = np.array([0.5, 1.5, 2.5, 3.5])
ORACLE = np.array([True, False, True, False])


def test_the_small_game_oracle() -> None:
    assert oracle_wins(TIMES, 2, 4.0).tolist() == ORACLE.tolist()


def test_a_strategy_that_is_the_oracle() -> None:
    metrics = evaluate(TIMES, ORACLE, budget=2, duration=4.0, slot_seconds=1.0, grid_points=5)
    assert metrics.as_dict() == {
        "awarded": 2,
        "budget": 2,
        "overspend": 0,
        "utilization": 1.0,
        "exhaustion_time": 2.5 / 4,
        "nrmse_vs_oracle": 0.0,
        # Grid 0..4: awarded 0,1,1,2,2 against the target 0,.5,1,1.5,2.
        "nrmse_vs_target": round(math.sqrt(0.5 / 5) / 2, 6),
        # Just after each win: 1 against 0.25 on the line, and 2 against 1.25.
        "max_gap_vs_target": 0.75 / 2,
        # Four plays: no time bin holds five on each side (tests/sim/test_fairness.py).
        "memory": None, "line_phase": None, "slot_phase": None,
        "best_bot": None, "best_bot_rule": None,
    }  # fmt: skip


def test_awarding_nothing() -> None:
    metrics = evaluate(
        TIMES, np.zeros(4, dtype=bool), budget=2, duration=4.0, slot_seconds=1.0, grid_points=3
    )
    assert (metrics.awarded, metrics.overspend, metrics.utilization) == (0, 0, 0.0)
    assert metrics.exhaustion_time is None
    # The whole budget behind at the end of the game.
    assert metrics.max_gap_vs_target == 1.0
    # Grid 0, 2, 4: the target is 0, 1, 2 coupons.
    assert metrics.nrmse_vs_target == pytest.approx(math.sqrt((0 + 1 + 4) / 3) / 2)
    # The oracle has 0, 1, 2 on the same grid.
    assert metrics.nrmse_vs_oracle == pytest.approx(math.sqrt((0 + 1 + 4) / 3) / 2)


def test_awarding_everything_overspends() -> None:
    metrics = evaluate(TIMES, np.ones(4, dtype=bool), budget=2, duration=4.0, slot_seconds=1.0)
    assert (metrics.awarded, metrics.overspend, metrics.utilization) == (4, 2, 2.0)
    assert metrics.exhaustion_time == 1.5 / 4  # the second coupon ran the budget out
    # Furthest ahead just after the last win: 4 awarded against 1.75 on the line.
    assert metrics.max_gap_vs_target == pytest.approx(2.25 / 2)


def test_the_max_gap_is_not_limited_to_the_grid() -> None:
    # A two-point grid sees no gap at all; just after the win, it is 0.99 of a coupon.
    metrics = evaluate([0.1], [True], budget=1, duration=10.0, slot_seconds=1.0, grid_points=2)
    assert metrics.max_gap_vs_target == pytest.approx(0.99)


def test_as_dict_is_json_with_six_decimals() -> None:
    metrics = evaluate(TIMES, ORACLE, budget=3, duration=4.0, slot_seconds=1.0, grid_points=7)
    fields = metrics.as_dict()
    assert fields["exhaustion_time"] is None
    assert fields["awarded"] == 2
    assert isinstance(fields["awarded"], int)
    assert fields["utilization"] == 0.666667
    assert json.loads(json.dumps(fields)) == fields


@pytest.mark.parametrize(
    ("times", "wins", "budget", "duration", "message"),
    [
        ([2.0, 1.0], [True, False], 1, 4.0, "non-decreasing"),
        ([1.0, 2.0], [True], 1, 4.0, "2 plays but 1 decisions"),
        ([1.0], [True], 0, 4.0, "at least 1"),
        ([1.0], [True], 1, 0.0, "positive number of seconds"),
    ],
)
def test_evaluate_rejects_what_it_cannot_judge(
    times: list[float], wins: list[bool], budget: int, duration: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate(times, wins, budget, duration, slot_seconds=1.0)
