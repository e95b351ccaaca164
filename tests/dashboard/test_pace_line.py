"""The dashboard's pace line, from the game's window and the anchor on its row (no servers)."""

from __future__ import annotations

import pytest

from frolic.dashboard.service import pace_line, target


def corners(budget: int, anchor: tuple[float, float] | None) -> list[tuple[float, float]]:
    return [(p.t, p.coupons) for p in pace_line(budget, 100.0, 200.0, anchor)]


def test_without_an_anchor_the_budget_spreads_over_the_window() -> None:
    line = pace_line(50, 100.0, 200.0, None)
    assert corners(50, None) == [(100.0, 0.0), (200.0, 50.0)]
    assert [target(line, t) for t in (0.0, 100.0, 150.0, 200.0, 999.0)] == [0, 0, 25, 50, 50]


def test_from_the_anchor_what_is_left_spreads_over_the_time_left() -> None:
    # Resumed at 160 with 10 awarded: 40 left over the last 40 seconds, one a second.
    line = pace_line(50, 100.0, 200.0, (160.0, 10.0))
    assert corners(50, (160.0, 10.0)) == [(100.0, 0.0), (160.0, 10.0), (200.0, 50.0)]
    assert target(line, 170.0) == pytest.approx(20.0)
    assert target(line, 130.0) == pytest.approx(5.0)  # before it, joined to the start
    assert target(line, 250.0) == 50.0


def test_an_anchor_at_the_start_or_end_is_a_corner_there() -> None:
    assert target(pace_line(50, 100.0, 200.0, (100.0, 0.0)), 150.0) == pytest.approx(25.0)
    assert target(pace_line(50, 100.0, 200.0, (200.0, 30.0)), 150.0) == pytest.approx(15.0)
    assert target(pace_line(50, 100.0, 200.0, (200.0, 30.0)), 200.0) == pytest.approx(30.0)
    # An anchor outside the window (a row written by hand) is not drawn.
    assert corners(50, (300.0, 5.0)) == [(100.0, 0.0), (200.0, 50.0)]
