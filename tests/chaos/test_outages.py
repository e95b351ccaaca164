"""The broker restarted and PostgreSQL taken down under load, through the chaos runner (the
CI versions of ``frolic bench chaos broker_restart postgres_down``): every invariant holds,
and the fault really happened as its evidence shows."""

from __future__ import annotations

from pathlib import Path

from frolic_chaos.faults.postgres_down import down_seconds
from tests.chaos.test_faults import PLAN, run


async def test_a_broker_restarted_empty_loses_no_play(tmp_path: Path) -> None:
    row = await run("broker_restart", tmp_path)
    e = row.evidence
    assert [r["killed"] for r in e["restarts"]] == [False, True]
    # The topics came back with the run's partition count, not the broker's default.
    assert set(e["partitions"].values()) == {e["partitions_wanted"]}


async def test_postgres_down_answers_503_tells_pending_and_loses_nothing(tmp_path: Path) -> None:
    row = await run("postgres_down", tmp_path)
    e = row.evidence
    assert e["down_s"] >= down_seconds(PLAN.seconds)  # half the short load
    assert all(a["s"] < 5 for a in e["answers_during"])  # answered, not hung
    assert e["readyz_during"]["postgres"] != "ok"
