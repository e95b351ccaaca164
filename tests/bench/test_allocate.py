"""A smoke run of the allocate benchmark's contract; its figures are not checked here."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from frolic.stack import Endpoints


def test_bench_allocate_prints_its_json_line(endpoints: Endpoints) -> None:
    env = {**os.environ, "FROLIC_REDIS_URL": endpoints.redis_url}
    out = subprocess.run(
        [sys.executable, "-m", "frolic.cli", "bench", "allocate", "--plays", "3000",
         "--budget", "100", "--workers", "2", "--json"],
        env=env, capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    result = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("decisions_per_s", "awarded", "budget", "mismatched_replays",
                "baseline_evalsha_per_s", "baseline", "vs_seed_evalsha"):  # fmt: skip
        assert key in result, key
    # Each worker's first batch has nothing to replay yet; the rate counts what was decided.
    assert 0.97 * 3000 <= result["decisions"] <= 3000
    assert result["awarded"] <= result["budget"] == 100
    assert result["mismatched_replays"] == 0
    assert result["decisions_per_s"] > 0
    assert result["baseline_evalsha_per_s"] > 0
    # The shard's own cost of a decision: a few µs, not nothing, and not a whole batch's.
    assert 0 < result["redis_cpu_us_per_decision"] < 1000
    # Only its kind: a smoke run's few thousand entries are within used_memory's own noise.
    assert isinstance(result["redis_bytes_per_decided_play"], int)


def test_without_redis_benchmark_a_python_client_is_the_baseline(
    endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    from frolic_bench import allocate

    monkeypatch.setattr("frolic_bench.allocate.shutil.which", lambda name: None)
    rate, tool = allocate.seed_evalsha_rate(endpoints.redis_url, calls=2000, workers=2)
    assert tool == "python-evalsha"
    assert rate > 0
