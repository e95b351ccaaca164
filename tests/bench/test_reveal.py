"""A smoke run of the reveal benchmark's contract; its figures are not checked here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


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
