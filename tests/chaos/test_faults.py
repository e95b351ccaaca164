"""F's faults through the chaos runner, short (the CI version of ``frolic bench chaos``):
every invariant holds, and the fault really happened as its evidence shows, so a run where
the fault missed cannot pass.

Each runs on its own embedded servers (faults restart processes; the session's shared
stack must not see that)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from frolic.config import Settings
from frolic_chaos import faults
from frolic_chaos.fault import Together
from frolic_chaos.runner import SMOKE, Chaos, Plan, Row

PLAN = dataclasses.replace(SMOKE, seconds=8.0, rate=40.0, players=80)


async def run(name: str, state: Path, plan: Plan = PLAN) -> Row:
    """One fault through the runner; every invariant held and the fault happened."""
    (fault,) = faults.named([name])
    async with Chaos(fault.servers(Settings()), state, plan, progress=lambda line: None) as chaos:
        row = await chaos.run(fault)
    assert row.counts["accepted"] >= 0.95 * row.counts["sent"], row.refused
    # As text: pytest cuts a dict's repr short, and the diagnosis is what a failure needs.
    assert row.counts["finalized"] == row.counts["accepted"], json.dumps(
        row.evidence.get("stuck"), indent=1, default=str
    )
    assert (row.counts["overspent"], row.counts["duplicated"], row.counts["lost"]) == (0, 0, 0)
    assert row.counts["violations"] == []
    # Each game's decision log verifies, whatever the fault did to the pipeline.
    assert row.counts["unverified"] == 0, row.fairness
    assert row.missing == [], row.evidence
    return row


async def test_sigkill_mid_batch_loses_and_repeats_nothing(tmp_path: Path) -> None:
    row = await run("sigkill", tmp_path)
    kills = row.evidence["kills"]
    # Each victim was killed holding a batch it had not committed, and came back.
    assert {k["role"] for k in kills} == {"allocator", "recorder"}
    assert all(k["held"] > 0 for k in kills)
    assert row.evidence["restarts"] >= len(kills)


async def test_duplicate_deliveries_are_handled_again_and_change_nothing(tmp_path: Path) -> None:
    row = await run("duplicates", tmp_path)
    e = row.evidence
    assert e["play_events_again"] > 0
    assert e["decided_again"] >= 0.9 * e["play_events_again"]
    assert e["results_again"] > 0
    assert e["recorded_again"] >= 0.9 * e["results_again"]
    assert e["requests_again"] > 0


async def test_clock_skew_between_processes_breaks_no_invariant(tmp_path: Path) -> None:
    row = await run("clock_skew", tmp_path)
    # Every process's clock, as its /healthz shows it, is checked by the fault's own
    # `missing` (within 0.5 s of its configured skew). The allocators' clocks show in their
    # decisions: one decided plays about 4 s before the api stamped them, the other about
    # 4 s after.
    earliest, latest = row.evidence["decided_at_minus_t_s"]
    assert earliest < -3
    assert latest > 3
    assert row.evidence["decided_before_requested"] > 0
    offsets = row.evidence["clock_offsets_s"]
    assert {k.split("-", 1)[1] for k, v in offsets.items() if abs(v) > 3} == {
        "allocator",
        "recorder",
        "ws",
    }


def test_an_unknown_fault_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        faults.named(["no-such-fault"])


async def test_faults_together_break_no_invariant(tmp_path: Path) -> None:
    # Allocators and recorders killed mid-batch while the broker restarts twice, losing
    # its topics and the groups' offsets, and Redis twice, empty: each part's own evidence
    # says it happened (``run``).
    row = await run("sigkill+broker_restart+redis_restart", tmp_path)
    assert set(row.evidence) == {"sigkill", "broker_restart", "redis_restart"}
    assert all(k["held"] > 0 for k in row.evidence["sigkill"]["kills"])
    assert len(row.evidence["broker_restart"]["restarts"]) == 2
    # A new epoch on each game's row after each Redis restart: rebuilt each time.
    assert len(row.evidence["redis_restart"]["epoch_after_each_restart"]) == 3


def test_faults_together_are_named_with_a_plus() -> None:
    (together,) = faults.named(["sigkill+duplicates"])
    assert together.name == "sigkill+duplicates"
    assert isinstance(together, Together)
    assert [p.name for p in together.parts] == ["sigkill", "duplicates"]
    with pytest.raises(ValueError, match="unknown fault nope"):
        faults.named(["sigkill+nope"])
    with pytest.raises(ValueError, match="two or more different"):
        faults.named(["sigkill+sigkill"])
    with pytest.raises(ValueError, match="no one Redis server to restart"):
        faults.named(["redis_failover+redis_kill"])


def test_redis_restart_says_when_a_game_was_not_rebuilt() -> None:
    (fault,) = faults.named(["redis_restart"])
    restarts = [{"killed": False}, {"killed": True}]
    rebuilt = {"restarts": restarts, "epoch_after_each_restart": [{"1": 5}, {"1": 7}, {"1": 9}]}
    assert fault.missing(rebuilt) == []
    once = {"restarts": restarts, "epoch_after_each_restart": [{"1": 5}, {"1": 7}, {"1": 7}]}
    assert fault.missing(once) == ["game 1: not rebuilt after restart 2"]
