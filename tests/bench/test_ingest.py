"""A smoke run of the ingest benchmark's contract; its figures are not checked here."""

from __future__ import annotations

from pathlib import Path

from frolic.stack import Endpoints
from frolic_bench.ingest import invalid
from tests.bench.run import bench

KEYS = {
    "ingest_rps", "ingest_p50_ms", "ingest_p99_ms", "ingest_errors", "hello_rps",
    "hello_p50_ms", "hello_p99_ms", "hello_errors", "ingest_vs_fastapi_hello",
    "plays_accepted", "plays_in_postgres", "ingest_statuses", "redis_bytes_per_accepted_play",
}  # fmt: skip


def test_bench_ingest_prints_its_json_line(endpoints: Endpoints, tmp_path: Path) -> None:
    result, stderr = bench(endpoints, tmp_path, "ingest", "--seconds", "1", "--rounds", "1",
                           "--connections", "8", "--players", "500")  # fmt: skip
    assert KEYS <= result.keys()
    assert result["ingest_errors"] == result["hello_errors"] == 0, result
    assert result["ingest_rps"] > 0
    assert result["hello_rps"] > 0
    # The real work is real: every play answered 202 is a row in PostgreSQL.
    assert result["plays_accepted"] > 0
    assert result["plays_in_postgres"] == result["plays_accepted"]
    assert "warming up" in stderr  # the progress, on stderr
    # Every process serving a play is found and measured (the servers by their URLs).
    assert result["ingest_cpu_us"].keys() == {"api", "redis", "postgres", "broker", "client",
                                              "total"}  # fmt: skip
    assert result["ingest_cpu_us"]["api"] > 0
    assert result["ingest_cpu_us"]["postgres"] > 0
    assert result["hello_cpu_us"].keys() == {"hello", "client", "total"}
    assert result["ingest_cpu_ceiling_rps"] > 0


def test_a_run_whose_plays_were_refused_is_no_measurement() -> None:
    """A server refusing every play (a schema behind its code answers 503 at once) must not
    pass for a fast one: the bench names it and exits 1 (frolic_bench.ingest.invalid)."""
    good = {"ingest_errors": 0, "ingest_statuses": {"202": 1000},
            "plays_accepted": 1000, "plays_in_postgres": 1000}  # fmt: skip
    assert invalid(good) is None
    refused = {**good, "ingest_errors": 990, "ingest_statuses": {"202": 10, "503": 990},
               "plays_accepted": 10, "plays_in_postgres": 10}  # fmt: skip
    assert "990 of 1000 plays were not accepted" in (invalid(refused) or "")
    lost = {**good, "plays_in_postgres": 999}
    assert invalid(lost) == "1000 plays accepted but 999 in PostgreSQL"
