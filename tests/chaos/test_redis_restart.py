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


async def test_redis_killed_and_back_on_its_own_files_is_rebuilt_all_the_same(
    tmp_path: Path,
) -> None:
    """SIGKILLed, Redis comes back from its append-only file with its epochs (and maybe
    without its last second): each game is rebuilt after each restart even so."""
    (fault,) = faults.named(["redis_kill"])
    async with Chaos(Settings(), tmp_path, PLAN, progress=lambda line: None) as chaos:
        row = await chaos.run(fault)
    assert row.counts["finalized"] == row.counts["accepted"]
    assert (row.counts["overspent"], row.counts["duplicated"], row.counts["lost"]) == (0, 0, 0)
    assert row.counts["violations"] == []
    assert row.missing == [], row.evidence  # one more epoch per restart: rebuilt
