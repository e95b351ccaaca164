"""A game's log, made the way the engine decides (the paced strategy, the atomic step, draws
from the seed), passes ``verify``; each way of tampering with it fails, named."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
from typing import Any

import pytest

from frolic.engine.paced import PacedStrategy
from frolic.engine.rules import GameRules
from frolic.engine.store import MemoryStore
from frolic.engine.strategy import Play
from frolic.fairness import chain, draws
from frolic.fairness.entries import decided, play_body, top_up_entry
from frolic.fairness.terms import Terms
from frolic.fairness.verify import (
    WINS_P_LIMIT,
    Report,
    kolmogorov_smirnov,
    verify,
    wins_tail_bound,
)

SEED = bytes(range(32))
GAME = 7
TERMS = Terms(game_id=GAME, start=0.0, end=600.0, budgets={1: 30, 2: 20}, slot_seconds=5.0)


def game_log(
    plays: int = 3000, *, top_up_at: int = 1500, lost_at: int | None = None
) -> list[dict[str, Any]]:
    """``plays`` plays by 300 players over the game, decided in batches of 20. At
    ``lost_at``, Redis is lost: the last batch but one was decided but not recorded (the
    last one was), so its decisions are dropped, the game is rebuilt from what was recorded
    under epoch 2 (as ``reconcile.recovery`` does), and those plays are decided again."""
    rules = GameRules(game_id=GAME, start=TERMS.start, end=TERMS.end, budget=50,
                      brands=(1, 2), slot_seconds=TERMS.slot_seconds)  # fmt: skip
    store, strategy = MemoryStore(), PacedStrategy()
    asyncio.run(store.load(rules, dict(TERMS.budgets), epoch=1))
    numbers: dict[str, int] = {}
    bodies: list[dict[str, Any]] = []
    issued, epoch = 0, 1
    batch: list[tuple[str, int, str, float]] = []
    placed: list[tuple[list[tuple[str, int, str, float]], int]] = []  # batch, first body
    for start in range(0, plays, 20):
        if start == top_up_at:
            asyncio.run(store.top_up(rules, 2, 10, "op", start * 0.2))
            place = asyncio.run(store.top_up_place(rules, "op"))
            assert place is not None
            bodies.append(top_up_entry(brand=2, coupons=10, t=start * 0.2, epoch=place[0],
                                       seq=place[1]))  # fmt: skip
        again: list[tuple[str, int, str, float]] = []
        if start == lost_at:
            again, first = placed[-2]
            del bodies[first : first + len(again)]
            epoch = rebuild(store, rules, bodies)
        batch = list(again)
        placed.append((batch, len(bodies)))
        for i in range(start, min(start + 20, plays)):
            player = draws.player_ref(SEED, GAME, f"user-{i * 7 % 300}")
            numbers[player] = numbers.get(player, 0) + 1
            client = "" if i % 3 else f"c{i}"
            batch.append((player, numbers[player], client, i * 0.2))
        seeded = [draws.draws(SEED, GAME, p, n, c) for p, n, c, _ in batch]
        state = asyncio.run(store.state(rules))
        batch_plays = [Play(f"{p}/{n}", t, d.u, d.brand_u)
                 for (p, n, _, t), d in zip(batch, seeded, strict=True)]  # fmt: skip
        decisions = strategy.plan(rules, state, batch_plays)
        _, outcomes = store.decide_now(rules, decisions)
        for (player, number, client, _), d, decision, outcome in zip(
            batch, seeded, decisions, outcomes, strict=True
        ):
            p = decision.p
            code = None
            if outcome.brand is not None:
                issued += 1
                code = chain.code_hash(GAME, f"CODE-{issued}")
            body = play_body(player=player, number=number, client=client, decision=decision,
                             p=p, draws=d, epoch=epoch, seq=outcome.seq)  # fmt: skip
            bodies.append(decided(body, outcome.brand, code))
    genesis = chain.Head(chain.genesis(GAME, draws.commitment(SEED)), 0)
    return list(chain.extend(genesis, bodies))


def rebuild(store: MemoryStore, rules: GameRules, recorded: list[dict[str, Any]]) -> int:
    """The game restored from ``recorded`` under epoch 2: the stock left, and the wins so far
    as awarded and consumed (``scripts.RESTORE_GAME``)."""
    stock = dict(TERMS.budgets)
    for e in recorded:
        if e["kind"] == "topUp":
            stock[e["brand"]] += e["coupons"]
        elif e["outcome"] == "WIN":
            stock[e["brand"]] -= 1
    wins = sum(e.get("outcome") == "WIN" for e in recorded)
    asyncio.run(store.load(rules, stock, epoch=2))
    game = store._games[GAME]
    game.state = dataclasses.replace(game.state, consumed=wins, awarded=wins)
    return 2


@pytest.fixture(scope="module")
def log() -> list[dict[str, Any]]:
    return game_log()


def check(log: list[dict[str, Any]], seed: bytes = SEED) -> Report:
    return verify(TERMS, draws.commitment(SEED), seed, log)


def failed(report: Report) -> dict[str, list[str]]:
    return {c.name: c.problems for c in report.checks if not c.ok}


def rehash(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The log chained again after an edit: a forger's best, which only the head shows."""
    bodies = [{k: v for k, v in e.items() if k not in ("n", "prev", "hash")} for e in log]
    return list(chain.extend(chain.Head(log[0]["prev"], 0), bodies))


def test_an_honest_log_verifies(log: list[dict[str, Any]]) -> None:
    report = check(log)
    assert report.ok, report.text()
    assert report.plays == 3000
    assert 55 <= report.wins <= 60  # 50 coupons and a top-up of 10, paced to the end
    assert "verified" in report.text()
    assert report.as_json()["ok"] is True


def first_win(log: list[dict[str, Any]]) -> int:
    return next(i for i, e in enumerate(log) if e.get("outcome") == "WIN")


def test_an_outcome_flipped_fails(log: list[dict[str, Any]]) -> None:
    tampered = copy.deepcopy(log)
    i = first_win(tampered)
    tampered[i].update(outcome="LOSE", brand=None, code=None)
    problems = failed(check(tampered))
    assert problems["chain"] == [f"entry {i + 1}: its hash does not match its content "
                                 "(it was edited)"]  # fmt: skip
    assert problems.keys() == {"chain", "outcomes"}
    [outcome] = problems["outcomes"]
    assert outcome.startswith(f"entry {i + 1}: LOSE, but the draws and caps give WIN of brand")
    # Chained again, the edit still shows in the outcomes.
    assert failed(check(rehash(tampered))).keys() == {"outcomes"}


def test_a_p_changed_fails(log: list[dict[str, Any]]) -> None:
    tampered = rehash([{**e, "p": 0.0} if e["n"] == first_win(log) + 1 else e for e in log])
    problems = failed(check(tampered))
    assert problems.keys() == {"outcomes"}
    assert problems["outcomes"][0].startswith(f"entry {first_win(log) + 1}: WIN of brand")


def test_two_entries_swapped_fail(log: list[dict[str, Any]]) -> None:
    tampered = list(log)
    tampered[10], tampered[11] = tampered[11], tampered[10]
    problems = failed(check(tampered))
    assert problems["chain"][0] == "position 11 holds entry 12: an entry removed, added or moved"


def test_an_entry_removed_fails(log: list[dict[str, Any]]) -> None:
    i = first_win(log)
    tampered = log[:i] + log[i + 1 :]
    problems = failed(check(tampered))
    assert problems["chain"][0] == f"position {i + 1} holds entry {i + 2}: an entry removed, " \
                                   "added or moved"  # fmt: skip
    # Chained again: the player's play numbers have a gap.
    again = failed(check(rehash(tampered)))
    assert "play numbers" in again


def test_a_code_hash_duplicated_fails(log: list[dict[str, Any]]) -> None:
    wins = [i for i, e in enumerate(log) if e.get("outcome") == "WIN"]
    tampered = copy.deepcopy(log)
    tampered[wins[1]]["code"] = tampered[wins[0]]["code"]
    problems = failed(check(rehash(tampered)))
    assert problems.keys() == {"codes"}
    assert problems["codes"] == [f"entry {wins[1] + 1}: code hash "
                                 f"{log[wins[0]]['code'][:12]}... was issued at entry "
                                 f"{wins[0] + 1} too"]  # fmt: skip


def test_a_different_seed_fails(log: list[dict[str, Any]]) -> None:
    problems = failed(check(log, seed=bytes(32)))
    assert problems["seed"][0].endswith("a different seed")
    assert "draws" in problems


def test_a_top_up_removed_shows_as_overspent(log: list[dict[str, Any]]) -> None:
    tampered = rehash([e for e in log if e.get("kind") != "topUp"])
    problems = failed(check(tampered))
    assert "budget" in problems or "outcomes" in problems


def test_a_top_up_moved_fails(log: list[dict[str, Any]]) -> None:
    """Earlier in the log than the store placed it, a top-up would lend the plays before
    it coupons they never had: named by the order check even if the outcomes agree."""
    i = next(i for i, e in enumerate(log) if e["kind"] == "topUp")
    moved = rehash([*log[: i - 3], log[i], *log[i - 3 : i], *log[i + 1 :]])
    problems = failed(check(moved))
    assert problems["order"][0].startswith(f"entry {i - 2}: a top-up the store placed after")


def test_draws_uniform_and_skewed() -> None:
    even = [(i + 0.5) / 1000 for i in range(1000)]
    assert kolmogorov_smirnov(even)[1] > 0.99
    squeezed = [x * 0.8 for x in even]
    assert kolmogorov_smirnov(squeezed)[1] < 1e-6


def test_wins_against_p_at_any_size() -> None:
    # 2 wins where the p sum to 0.1 (a short epoch after a Redis restart): the chance is
    # 1 - e^-0.1 (1.1) = 0.0047, which failed a CI run when judged by z 5.71 > 5.
    assert wins_tail_bound(2, 0.1, 0.1) > 1e-3
    # 12 such wins have a chance of about 1e-14: a forged log.
    assert wins_tail_bound(12, 0.1, 0.1) < WINS_P_LIMIT
    # At size the bound is the normal tail's order: z 3 passes, z 7 fails, either side.
    assert wins_tail_bound(930, 900, 100) > 1e-3
    assert wins_tail_bound(970, 900, 100) < WINS_P_LIMIT
    assert wins_tail_bound(830, 900, 100) < WINS_P_LIMIT
    assert wins_tail_bound(900, 900, 100) == 1.0
    # Never below the exact chance: Poisson(0.1) gives 3 or more wins with 1.5e-4.
    assert wins_tail_bound(3, 0.1, 0.1) >= 1.5e-4


def test_the_pacing_fairness_measures_are_reported(log: list[dict[str, Any]]) -> None:
    report = check(log)
    for name in ("memory", "line phase", "slot phase", "best timing rule"):
        assert f"win-rate ratio, {name}" in report.stats
    assert json.loads(json.dumps(report.as_json(), allow_nan=False))["ok"] is True


def test_a_rebuild_after_a_redis_loss_verifies_and_a_gap_at_the_end_fails() -> None:
    """Decisions a lost Redis made and the ledger never recorded leave a gap in their
    epoch's seqs; the plays are decided again under the next epoch, whose state is what the
    rebuild restored. That verifies; the same gap in the last epoch is entries removed."""
    log = game_log(lost_at=2000)
    report = check(log)
    assert report.ok, report.text()
    assert report.plays == 3000
    assert report.stats["decisions dropped at Redis losses (seq gaps)"] == 20
    assert {e["epoch"] for e in log if e["kind"] == "play"} == {1, 2}
    assert report.stats["plays after a gap, checked by u < p only"] == 20
    last = [i for i, e in enumerate(log) if e.get("epoch") == 2]
    cut = rehash([e for i, e in enumerate(log) if i not in last[100:110]])
    problems = failed(check(cut))
    assert problems["order"] == [
        f"before entry {last[110] - 9}: seq 101 to 110 of the last epoch are missing "
        "(entries removed)"
    ]
