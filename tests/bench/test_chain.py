"""A smoke run of the chainer's benchmark: every decision chained, its figures present."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from frolic.config import Settings


def test_bench_chain_chains_every_decision(settings: Settings) -> None:
    assert settings.database_url
    env = {**os.environ, "FROLIC_DATABASE_URL": settings.database_url}
    out = subprocess.run(
        [sys.executable, "-m", "frolic.cli", "bench", "chain", "--decisions", "500", "--json"],
        env=env, capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["chain_entries"] == result["chain_head_length"] == 500
    assert result["chain_entries_per_s"] > 0
    assert result["chain_cpu_us_per_entry"] > 0
