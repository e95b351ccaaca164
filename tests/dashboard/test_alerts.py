"""The dashboard's alerts, from figures alone (no servers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from frolic.dashboard.alerts import IN_FLIGHT, LAG_CRITICAL, LAG_WARNING, alerts
from frolic.dashboard.schemas import BrandStock, GameStats, Lag

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def brand(**fields: Any) -> BrandStock:
    figures: dict[str, Any] = {
        "brand_id": 1, "name": "Acme", "total": 100, "remaining": 50, "redis_remaining": 50,
        "codes_available": 500,
    }  # fmt: skip
    figures.update(fields)
    return BrandStock(**figures)


def game(
    *, elapsed: float = 0.5, brands: list[BrandStock] | None = None, **fields: Any
) -> GameStats:
    """A game of one hour, ``elapsed`` of it behind us, on pace unless told otherwise."""
    start = NOW - timedelta(hours=elapsed)
    figures: dict[str, Any] = {
        "id": 7, "name": "Spring", "status": "live", "phase": "running", "strategy": "paced",
        "start_time": start, "end_time": start + timedelta(hours=1), "budget": 100,
        "awarded": round(100 * elapsed), "target": 100 * elapsed,
        "pace_line": [], "brands": brands or [brand()], "series": [], "minutes": [],
    }  # fmt: skip
    figures.update(fields)
    return GameStats(**figures)


def lag(behind: int) -> Lag:
    return Lag(group="frolic-allocators", topic="play-events", lag=behind,
               worst_partition=behind, partitions=8)  # fmt: skip


def kinds(games: list[GameStats], lags: list[Lag] | None = None) -> list[tuple[str, str]]:
    found = alerts(games, [] if lags is None else lags, NOW.timestamp())
    return [(a.level, a.kind) for a in found]


def test_a_quiet_game_on_pace_raises_nothing() -> None:
    assert kinds([game()], [lag(LAG_WARNING - 1)]) == []


def test_lag_warns_then_turns_critical_and_an_unknown_lag_warns() -> None:
    assert kinds([], [lag(LAG_WARNING)]) == [("warning", "lag")]
    assert kinds([], [lag(LAG_CRITICAL)]) == [("critical", "lag")]
    assert [(a.level, a.kind) for a in alerts([], None, NOW.timestamp())] == [("warning", "lag")]


@pytest.mark.parametrize("awarded", [30, 70])
def test_awarded_far_from_the_pace_line_warns(awarded: int) -> None:
    assert kinds([game(awarded=awarded)]) == [("warning", "pace")]


def test_pace_is_not_judged_early_nor_for_fixed_odds_nor_when_not_running() -> None:
    assert kinds([game(elapsed=0.01, awarded=6, target=1)]) == []
    assert kinds([game(strategy="fixed_odds", awarded=90)]) == []
    assert kinds([game(phase="over", awarded=10)]) == []


def test_fewer_codes_than_coupons_left_is_critical() -> None:
    assert kinds([game(brands=[brand(codes_available=49)])]) == [("critical", "codes")]


def test_a_brand_nearly_out_early_in_the_game_warns() -> None:
    low = brand(remaining=10, redis_remaining=10)
    assert kinds([game(elapsed=0.5, brands=[low])]) == [("warning", "stock")]
    assert kinds([game(elapsed=0.9, brands=[low], awarded=90, target=90)]) == []


def test_redis_against_the_ledger() -> None:
    assert kinds([game(brands=[brand(redis_remaining=50 - IN_FLIGHT)])]) == []  # in flight
    assert kinds([game(brands=[brand(redis_remaining=50 - IN_FLIGHT - 1)])]) == [
        ("warning", "drift")
    ]
    assert kinds([game(brands=[brand(redis_remaining=51)])]) == [("critical", "drift")]
    assert kinds([game(brands=[brand(redis_remaining=None)])]) == [("critical", "drift")]
    # A draft or ended game holds no budget in Redis: nothing to compare.
    assert kinds([game(status="ended", phase="ended", brands=[brand(redis_remaining=None)])]) == []


def test_critical_alerts_come_first() -> None:
    found = kinds([game(awarded=10, brands=[brand(codes_available=0)])], [lag(LAG_WARNING)])
    assert found[0] == ("critical", "codes")
    assert sorted(found[1:]) == [("warning", "lag"), ("warning", "pace")]
