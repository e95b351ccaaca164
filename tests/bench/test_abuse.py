"""A smoke run of ``frolic bench abuse``: its keys, and every limit held; latency figures are
not checked here."""

from __future__ import annotations

from pathlib import Path

from frolic.stack import Endpoints
from frolic_bench.abuse import SCENARIOS
from tests.bench.run import bench

PLAYER_KEYS = {"legit_p50_ms", "legit_p99_ms", "legit_sent", "legit_accepted", "legit_statuses"}
ABUSE_KEYS = {
    "abuse_sent", "abuse_rps", "abuse_statuses", "abuse_accepted", "abuse_allowed_at_most",
    "abuse_429_without_retry_after", "limit_held",
}  # fmt: skip


def test_bench_abuse_smoke_holds_every_limit(endpoints: Endpoints, tmp_path: Path) -> None:
    result, stderr = bench(endpoints, tmp_path, "abuse", "--smoke")
    assert PLAYER_KEYS <= result["baseline"].keys()
    for name in SCENARIOS:
        assert PLAYER_KEYS | ABUSE_KEYS <= result[name].keys(), name
        assert result[name]["limit_held"], result[name]
        assert result[name]["abuse_sent"] > 0
    assert result["no_token"]["abuse_statuses"] == {"401": result["no_token"]["abuse_sent"]}
    assert result["expired"]["abuse_statuses"] == {"401": result["expired"]["abuse_sent"]}
    assert set(result["one_user_100x"]["abuse_statuses"]) == {"202", "429"}
    assert result["limits_held"]
    assert result["plays_in_postgres"] == result["plays_accepted"] > 0
    assert {"legit_p99_on_target", "load_average", "limits"} <= result.keys()
    assert "expired" in stderr  # the progress, on stderr
