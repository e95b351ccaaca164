"""A smoke run of ``frolic bench e2e``, and how ``frolic bench all`` puts the benchmarks
together: the keys and their sense, not the targets (a shared machine cannot promise
figures)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from frolic.config import Settings
from frolic.stack import Endpoints
from frolic_bench import abuse, suite
from tests.bench.run import bench


def test_bench_e2e_decides_every_play_it_publishes(endpoints: Endpoints, tmp_path: Path) -> None:
    result = bench(endpoints, tmp_path, "e2e", "--rate", "300", "--seconds", "1").result
    assert result["e2e_plays"] == 300
    assert result["e2e_stored"] == 300  # every play's outcome is recorded in Redis
    assert result["e2e_undecided"] == 0
    assert result["e2e_overspent"] == 0
    assert 0 < result["e2e_rate_per_s"] <= 300
    assert 0 < result["e2e_alloc_p50_ms"] <= result["e2e_alloc_p99_ms"]
    # A play's outcome is stored before its result arrives on the results topic, and
    # recorded in PostgreSQL (its final published) after that.
    assert result["e2e_alloc_p50_ms"] <= result["e2e_result_p50_ms"]
    assert result["e2e_result_p50_ms"] <= result["e2e_final_p50_ms"]
    assert result["e2e_finals"] == 300  # every play recorded, and its final published
    assert 0 < result["e2e_broker_floor_p99_ms"]
    ratio = result["e2e_alloc_p99_ms"] / result["e2e_broker_floor_p99_ms"]
    assert result["e2e_vs_broker_floor"] == round(ratio, 2)
    # CPU per play of each part of the pipeline, its processes summed (docs/capacity.md).
    cpu = result["e2e_cpu_us"]
    assert set(cpu) == {"allocator", "recorder", "redis", "postgres", "broker", "total"}
    assert all(us > 0 for us in cpu.values()), cpu
    assert cpu["total"] == pytest.approx(sum(us for part, us in cpu.items() if part != "total"),
                                         abs=0.5)  # fmt: skip


def test_bench_all_puts_every_benchmark_in_one_line(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``bench all`` composes the benchmarks, each with its own smoke run above; here they
    answer canned figures, so the composition is checked without running them twice."""
    ramp_steps = [{"sockets": 20, "connected": 20, "reveal_late_p50_ms": 1.0,
                   "reveal_late_p99_ms": 2.0, "reveal_late_max_ms": 3.0, "reveals": 100,
                   "early": 0}]  # fmt: skip
    player = {"legit_p99_ms": 5.0}
    canned = {
        "ingest": lambda *a, **k: {"ingest_rps": 1.0, "ingest_p99_ms": 2.0,
                                   "ingest_vs_fastapi_hello": 0.5},
        "abuse.measure": lambda *a, **k: {"limits_held": True, "legit_p99_on_target": True,
                                          "baseline": player,
                                          **dict.fromkeys(abuse.SCENARIOS, player)},
        "allocate.measure": lambda *a, **k: {"decisions_per_s": 9.0, "vs_seed_evalsha": 1.1,
                                             "baseline_evalsha_per_s": 8.0, "baseline": "x",
                                             "workers": 2, "overspent": 0,
                                             "mismatched_replays": 0},
        "e2e.measure": lambda *a, **k: {"e2e_alloc_p99_ms": 40.0 + k.get("allocators", 0),
                                        "e2e_alloc_p50_ms": 9.0, "e2e_rate_per_s": 500,
                                        "e2e_overspent": 0, "e2e_undecided": 0,
                                        "e2e_broker_floor_p99_ms": 20.0, "e2e_stored": 5,
                                        "e2e_plays": 5},
        "plain_floor": lambda *a, **k: {"plain_broker_floor_p99_ms": 30.0,
                                        "broker_floors_agree_within_2x": True},
        "embedded.measure": lambda *a, **k: {"embedded_reveal_late_p99_ms": 15.0,
                                             "embedded_unrevealed": 0},
        "reveal.ramp": lambda *a, **k: {"ws_connections": 20, "ws_steps": ramp_steps},
    }  # fmt: skip
    steps: list[str] = []
    for name, fake in canned.items():
        monkeypatch.setattr(f"frolic_bench.suite.{name}", _logged(steps, name, fake))
    result = suite.run(settings, tmp_path, smoke=True, progress=lambda line: None,
                       settle=lambda: steps.append("settle"))  # fmt: skip
    # Each step that leans on the broker and Redis starts on emptied servers.
    broker_bound = {"e2e.measure", "plain_floor", "embedded.measure", "reveal.ramp"}
    assert steps.count("e2e.measure") == 3
    for before, step in zip(["start", *steps], steps, strict=False):
        if step in broker_bound:
            assert before == "settle", steps
    assert steps.count("settle") == 6
    assert json.loads(json.dumps(result)) == result  # one JSON line
    for key in ("ingest_rps", "ingest_p99_ms", "ingest_vs_fastapi_hello", "abuse_limits_held",
                "alloc_decisions_per_s", "alloc_vs_seed_evalsha", "alloc_overspent",
                "e2e_alloc_p99_ms", "e2e_rate_per_s", "reveal_late_p99_ms", "reveal_sockets",
                "reveal_early", "ws_connections", "alloc_latency_1_allocator_p99_ms",
                "alloc_latency_2_allocators_p99_ms", "alloc_latency_2_allocators_overspent",
                "plain_broker_floor_p99_ms", "broker_floors_agree_within_2x",
                "embedded_reveal_late_p99_ms"):  # fmt: skip
        assert key in result, key
    assert result["alloc_vs_seed_evalsha"] == 1.1
    assert result["alloc_latency_2_allocators_p99_ms"] == 42.0  # its own run's figure
    assert result["reveal_late_p99_ms"] == 2.0  # the ramp's first step
    assert result["ws_steps"] == [{"sockets": 20, "connected": 20, "reveal_late_p99_ms": 2.0}]
    assert result["abuse_baseline_legit_p99_ms"] == 5.0


def _logged(steps: list[str], name: str, fake: Callable[..., Any]) -> Callable[..., Any]:
    def step(*args: Any, **kwargs: Any) -> Any:
        steps.append(name)
        return fake(*args, **kwargs)

    return step
