"""A Redis Cluster master killed under load, through the chaos runner (the CI version of
``frolic bench chaos --fault redis_failover``): its replica is promoted, the game it served
is rebuilt from the ledger before another of its plays is decided, the old master comes
back as the new one's replica, and every invariant holds (``run`` checks them, and that the
fault happened as its evidence says)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tests.chaos.test_faults import PLAN as SHORT
from tests.chaos.test_faults import run

PLAN = dataclasses.replace(SHORT, seconds=10.0)


async def test_a_master_killed_mid_load_fails_over_and_loses_nothing(tmp_path: Path) -> None:
    row = await run("redis_failover", tmp_path, PLAN)
    evidence = row.evidence
    assert evidence["promoted"] != evidence["killed"]
    game = str(evidence["game"])
    assert evidence["epochs_after"][game] != evidence["epochs_before"][game]
    # The game's plays waited for the promotion (the node timeout alone is 5 s) and no longer
    # than the run's drain allows; the promotion is the part of it the cluster takes.
    waited = evidence["waited_ms"][game]
    assert waited["plays"] > 0
    assert 1000 * evidence["promoted_after_s"] * 0.5 <= waited["max"] <= 90_000
