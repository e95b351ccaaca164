"""Smoke runs of ``frolic bench e2e`` and ``frolic bench all``: the keys and their sense,
not the targets (a shared machine cannot promise figures)."""

from __future__ import annotations

from pathlib import Path

from frolic.stack import Endpoints
from tests.bench.run import bench


def test_bench_e2e_decides_every_play_it_publishes(endpoints: Endpoints, tmp_path: Path) -> None:
    result = bench(endpoints, tmp_path, "e2e", "--rate", "300", "--seconds", "1").result
    assert result["e2e_plays"] == 300
    assert result["e2e_stored"] == 300  # every play's result is in Redis
    assert result["e2e_undecided"] == 0
    assert result["e2e_overspent"] == 0
    assert 0 < result["e2e_rate_per_s"] <= 300
    assert 0 < result["e2e_alloc_p50_ms"] <= result["e2e_alloc_p99_ms"]
    # The allocator takes a play before its result arrives.
    assert 0 < result["e2e_picked_p50_ms"] <= result["e2e_alloc_p50_ms"]
    assert result["e2e_picked_p99_ms"] <= result["e2e_alloc_max_ms"]
    assert 0 < result["e2e_broker_floor_p99_ms"]
    ratio = result["e2e_alloc_p99_ms"] / result["e2e_broker_floor_p99_ms"]
    assert result["e2e_vs_broker_floor"] == round(ratio, 2)


def test_bench_all_smoke_ends_with_every_key(endpoints: Endpoints, tmp_path: Path) -> None:
    result = bench(endpoints, tmp_path, "all", "--smoke").result
    keys = ("ingest_rps", "ingest_p99_ms", "ingest_vs_fastapi_hello", "abuse_limits_held",
            "alloc_decisions_per_s", "alloc_vs_seed_evalsha", "e2e_alloc_p99_ms",
            "e2e_rate_per_s", "reveal_late_p99_ms", "reveal_sockets", "ws_connections")  # fmt: skip
    for key in keys:
        assert key in result, key
    assert result["alloc_overspent"] == result["e2e_overspent"] == 0
    assert result["e2e_undecided"] == 0
    assert result["reveal_early"] == 0  # never before revealAt
    assert result["reveal_late_p99_ms"] >= 0
    # Either the smoke ramp's largest step held, or it says which step did not.
    steps = result["ws_steps"]
    assert result["ws_connections"] in [0] + [s["sockets"] for s in steps]
