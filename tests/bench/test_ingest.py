"""A smoke run of the ingest benchmark's contract; its figures are not checked here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from frolic.stack import Endpoints

KEYS = {
    "ingest_rps", "ingest_p50_ms", "ingest_p99_ms", "ingest_errors", "hello_rps",
    "hello_p50_ms", "hello_p99_ms", "hello_errors", "ingest_vs_fastapi_hello",
    "plays_accepted", "plays_in_postgres",
}  # fmt: skip


def test_bench_ingest_prints_its_json_line(endpoints: Endpoints, tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FROLIC_")},
        "FROLIC_DATABASE_URL": endpoints.database_url,
        "FROLIC_REDIS_URL": endpoints.redis_url,
        "FROLIC_KAFKA_BOOTSTRAP": endpoints.kafka_bootstrap,
        "FROLIC_STATE_DIR": str(tmp_path),
    }
    out = subprocess.run(
        [sys.executable, "-m", "frolic.cli", "bench", "ingest", "--seconds", "1",
         "--rounds", "1", "--connections", "8", "--players", "500", "--json"],
        env=env, capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert KEYS <= result.keys()
    assert result["ingest_errors"] == result["hello_errors"] == 0, result
    assert result["ingest_rps"] > 0
    assert result["hello_rps"] > 0
    # The real work is real: every play answered 202 is a row in PostgreSQL.
    assert result["plays_accepted"] > 0
    assert result["plays_in_postgres"] == result["plays_accepted"]
    assert "warming up" in out.stderr  # the progress, on stderr
