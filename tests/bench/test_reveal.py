"""A smoke run of the reveal benchmark's contract; its figures are not checked here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from frolic.stack import Endpoints
from tests.bench.run import bench


def test_bench_reveal_prints_its_json_line(tmp_path: Path) -> None:
    env = {**os.environ, "FROLIC_STATE_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "frolic.cli", "bench", "reveal", "--sockets", "20",
         "--reveals", "100", "--spread", "1", "--json"],
        env=env, capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["reveals"] == 100
    assert result["early"] == 0  # never before revealAt
    assert result["reveal_late_p50_ms"] >= 0
    assert result["reveal_late_p99_ms"] >= result["reveal_late_p50_ms"]


def test_bench_ws_ramps_and_says_where_each_steps_lateness_comes_from(
    endpoints: Endpoints, tmp_path: Path
) -> None:
    result = bench(endpoints, tmp_path, "ws", "--steps", "20,50", "--reveals", "100",
                   "--spread", "1").result  # fmt: skip
    steps = result["ws_steps"]
    assert [s["sockets"] for s in steps][:1] == [20]
    # Either a step held, or the ramp says which one did not.
    assert result["ws_connections"] in [0] + [s["sockets"] for s in steps]
    for step in steps:
        assert step["early"] == 0  # never before revealAt
        assert step["reveal_late_p99_ms"] >= 0
        assert {"ws_sent_late", "ws_cpu_ms", "clients_cpu_ms", "ws_rss_mb"} <= step.keys()
