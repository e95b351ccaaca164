"""Redis restarted empty twice under load, through the chaos runner (the CI version of
``frolic bench chaos redis_restart``): every invariant holds, each game was rebuilt after
each restart, and the fault really happened as its evidence shows."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tests.chaos.test_faults import PLAN as SHORT
from tests.chaos.test_faults import run

PLAN = dataclasses.replace(SHORT, seconds=10.0)


async def test_redis_restarted_empty_is_rebuilt_before_plays_resume(tmp_path: Path) -> None:
    row = await run("redis_restart", tmp_path, PLAN)
    assert [r["killed"] for r in row.evidence["restarts"]] == [False, True]


async def test_redis_killed_and_back_on_its_own_files_is_rebuilt_all_the_same(
    tmp_path: Path,
) -> None:
    """SIGKILLed, Redis comes back from its append-only file with its epochs (and maybe
    without its last second): each game is rebuilt after each restart even so (``run``
    checks the fault's evidence: a new epoch on each game's row after each restart)."""
    await run("redis_kill", tmp_path, PLAN)
