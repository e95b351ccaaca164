"""``/metrics`` of a process running every role, before and after plays flowed through the
real pipeline: the counters and histograms move, and the server figures describe the game."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families

from frolic.config import Settings
from frolic.db.session import create_engine
from frolic.metrics import BatchHistogram
from frolic.monitoring.scrape import ServerFigures
from frolic.redis_client import connect
from frolic.topics import ALLOCATORS, RECORDERS
from tests.monitoring.conftest import Played, Running, value


def test_counters_move_with_the_plays(played: Played) -> None:
    game = str(played.game.game_id)

    def moved(name: str, **labels: str) -> float:
        return value(played.after, name, **labels) - value(played.before, name, **labels)

    assert moved("frolic_plays_accepted_total", game=game) == played.plays
    assert moved("frolic_plays_refused_total", error="NotFound") == 1
    # odds 1: every play wins while the 6 coupons last
    assert moved("frolic_decisions_total", game=game, outcome="win") == 6
    assert moved("frolic_decisions_total", game=game, outcome="lose") == played.plays - 6
    assert (
        sum(moved("frolic_winners_total", game=game, brand=str(b)) for b in played.game.brands) == 6
    )
    for brand in played.game.brands:
        assert moved("frolic_winners_total", game=game, brand=str(brand)) == 3


def test_histograms_observe_every_play_and_the_reveal(played: Played) -> None:
    def observed(name: str) -> float:
        return value(played.after, f"{name}_count") - value(played.before, f"{name}_count")

    assert observed("frolic_decision_latency_seconds") == played.plays
    assert observed("frolic_end_to_end_latency_seconds") == played.plays
    assert observed("frolic_reveal_lateness_seconds") >= 1
    inf = value(played.after, "frolic_decision_latency_seconds_bucket", le="+Inf")
    assert inf == value(played.after, "frolic_decision_latency_seconds_count")
    assert value(played.after, "frolic_end_to_end_latency_seconds_sum") > 0


def test_server_figures_describe_lag_redis_and_the_live_budget(
    played: Played, running: Running
) -> None:
    s, found = running.settings, played.after
    for source in ("kafka", "redis", "budget"):
        assert value(found, "frolic_monitoring_source_up", source=source) == 1
    partitions = [str(p) for p in range(s.kafka_partitions)]
    for group, topic in ((ALLOCATORS, s.play_topic), (RECORDERS, s.result_topic)):
        for p in partitions:
            assert (("frolic_consumer_lag", (("group", group), ("partition", p),
                     ("topic", topic)))) in found  # fmt: skip
    # A fresh server's user time may still read 0 (the kernel samples it per tick): both.
    cpu = [value(found, "frolic_redis_cpu_seconds_total", mode=m) for m in ("user", "sys")]
    assert sum(cpu) > 0
    assert ("frolic_redis_slowlog_length", ()) in found
    assert ("frolic_redis_slow_commands_total", ()) in found

    game = str(played.game.game_id)
    for brand in played.game.brands:
        labels = {"game": game, "brand": str(brand)}
        assert value(found, "frolic_budget_total", **labels) == 3
        assert value(found, "frolic_budget_issued", **labels) == 3
        assert value(found, "frolic_budget_remaining", **labels) == 0
        assert value(found, "frolic_budget_drift", **labels) == 0
        assert value(found, "frolic_budget_missing_in_redis", **labels) == 0
        expected = value(found, "frolic_budget_expected_remaining", **labels)
        assert 0 < expected < 3  # an hour-long game a few seconds in


def test_the_scrape_parses_and_documents_every_family(played: Played) -> None:
    families = list(text_string_to_metric_families(played.exposition))
    ours = [f for f in families if f.name.startswith("frolic_")]
    assert len(ours) >= 15
    assert all(f.documentation for f in ours)
    for f in ours:
        for sample in f.samples:
            assert "user" not in sample.labels  # never a player in a label


@pytest.fixture
async def figures_for(settings: Settings) -> AsyncIterator[Callable[..., ServerFigures]]:
    """ServerFigures on clients of the test's own event loop (the app's belong to its
    server thread's loop)."""
    assert settings.database_url
    assert settings.redis_url
    db = create_engine(settings.database_url)
    redis = connect(settings.redis_url)

    def make(s: Settings = settings, **options: Any) -> ServerFigures:
        return ServerFigures(s, db, redis, **options)

    yield make
    await redis.aclose()
    await db.dispose()


async def test_a_scrape_storm_reads_the_servers_once_per_max_age(
    figures_for: Callable[..., ServerFigures],
) -> None:
    now = [1000.0]
    figures = figures_for(max_age=5.0, clock=lambda: now[0])
    reads = 0
    measure = figures._lag

    async def counted() -> list[Metric]:
        nonlocal reads
        reads += 1
        return await measure()

    figures._lag = counted  # type: ignore[method-assign]
    await asyncio.gather(*(figures.refresh() for _ in range(20)))
    assert reads == 1
    now[0] += 4.9
    await figures.refresh()
    assert reads == 1
    now[0] += 0.2
    await figures.refresh()
    assert reads == 2


async def test_a_failing_source_reports_down_and_hides_its_figures(
    settings: Settings, figures_for: Callable[..., ServerFigures]
) -> None:
    unreachable = settings.model_copy(update={"kafka_bootstrap": "127.0.0.1:1"})
    # The production timeout: the budget source reads every live game the suite has made.
    figures = figures_for(unreachable, timeout=2.0)
    await figures.refresh()
    found = {m.name: m for m in figures.collect()}
    up = {s.labels["source"]: s.value for s in found["frolic_monitoring_source_up"].samples}
    assert up == {"kafka": 0.0, "redis": 1.0, "budget": 1.0}
    assert "frolic_consumer_lag" not in found
    assert "frolic_redis_slowlog_length" in found


def test_batch_histogram_buckets_are_cumulative() -> None:
    h = BatchHistogram("h_seconds", "a test histogram", (0.1, 1.0))
    h.observe_all([0.05, 0.1, 0.5, 3.0])
    h.observe(0.2)
    [family] = list(h.collect())
    got = {(s.name, s.labels.get("le")): s.value for s in family.samples}
    assert got[("h_seconds_bucket", "0.1")] == 2  # a bound holds values equal to it
    assert got[("h_seconds_bucket", "1.0")] == 4
    assert got[("h_seconds_bucket", "+Inf")] == 5
    assert got[("h_seconds_count", None)] == 5
    assert abs(got[("h_seconds_sum", None)] - 3.85) < 1e-9
