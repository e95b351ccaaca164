"""Redis restarted empty twice under load, through the chaos runner (the CI version of
``frolic bench chaos redis_restart``): every invariant holds, each game was rebuilt after
each restart, and the fault really happened as its evidence shows."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from frolic.chaos import faults
from frolic.chaos.runner import SMOKE, Chaos
from frolic.config import Settings

PLAN = dataclasses.replace(SMOKE, seconds=10.0, rate=40.0, players=80)


async def test_redis_restarted_empty_is_rebuilt_before_plays_resume(tmp_path: Path) -> None:
    (fault,) = faults.named(["redis_restart"])
    async with Chaos(Settings(), tmp_path, PLAN, progress=lambda line: None) as chaos:
        row = await chaos.run(fault)
    assert row.counts["accepted"] >= 0.95 * row.counts["sent"], row.refused
    assert row.counts["finalized"] == row.counts["accepted"]
    assert (row.counts["overspent"], row.counts["duplicated"], row.counts["lost"]) == (0, 0, 0)
    assert row.counts["violations"] == []
    assert row.missing == [], row.evidence
    assert [r["killed"] for r in row.evidence["restarts"]] == [False, True]
