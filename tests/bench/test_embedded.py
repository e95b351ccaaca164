"""A smoke run of ``frolic bench embedded``: every accepted play revealed on its socket, and
the keys' sense (not the targets: a shared machine cannot promise figures)."""

from __future__ import annotations

from pathlib import Path

from frolic.stack import Endpoints
from tests.bench.run import bench


def test_bench_embedded_reveals_every_accepted_play(endpoints: Endpoints, tmp_path: Path) -> None:
    result = bench(
        endpoints, tmp_path, "embedded", "--rate", "40", "--seconds", "1", "--sockets", "4"
    ).result
    assert result["embedded_statuses"] == {"202": 40}
    assert result["embedded_accepted"] == result["embedded_revealed"] == 40
    assert result["embedded_unrevealed"] == 0
    assert 0 <= result["embedded_reveal_late_p50_ms"] <= result["embedded_reveal_late_p99_ms"]
    assert result["embedded_reveal_late_p99_ms"] <= result["embedded_reveal_late_max_ms"]
    assert result["embedded_serve_cpu_per_play_us"] > 0
    # The database is the session's (other tests' plays share it): only the figure's shape.
    stored = result["embedded_ledger_bytes_per_play"]
    parts = stored["play_events"] + stored["play_keys"] + stored["decision_log"]
    assert stored["total"] == parts > 0
    assert stored["play_events"] > 0
