"""A Redis Cluster master killed under load, through the chaos runner (the CI version of
``frolic bench chaos --fault redis_failover``): its replica is promoted, the game it served
is rebuilt from the ledger before another of its plays is decided, the old master comes
back as the new one's replica, and every invariant holds (``run`` checks them, and that the
fault happened as its evidence says)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from frolic.config import Settings
from frolic_chaos import faults
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


def test_the_failover_says_what_did_not_happen() -> None:
    (fault,) = faults.named(["redis_failover"])
    happened = {
        "game": 2, "killed": 7001, "promoted": 7004, "epochs_before": {"1": 1, "2": 2},
        "epochs_after": {"1": 1, "2": 3}, "back_as": "slave", "back_following": 7004,
        "waited_ms": {"2": {"plays": 10, "p50": 5, "p99": 8000, "max": 8100}},
    }  # fmt: skip
    assert fault.missing(happened) == []
    not_rebuilt = {**happened, "epochs_after": {"1": 1, "2": 2}}
    assert fault.missing(not_rebuilt) == ["game 2 was not rebuilt after the failover"]
    still_master = {**happened, "back_as": "master", "back_following": None}
    assert fault.missing(still_master) == [
        "the old master did not come back as the new master's replica"
    ]
    assert "no replica was promoted" in fault.missing({**happened, "promoted": None})
    assert fault.missing({**happened, "waited_ms": {}}) == [
        "no play of game 2 was recorded around the failover"
    ]
    # A Cluster is what the fault's run starts its servers with.
    assert fault.servers(Settings()).stack_redis_cluster == "3x1"
