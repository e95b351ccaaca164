"""Several processes hammer one game on real Redis (and a real Redis Cluster): the budget
holds, every play has exactly one outcome, and replays racing across processes agree."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from frolic.engine.paced import Horizon
from frolic.engine.rules import GameRules
from frolic.stack import Endpoints
from frolic_bench.hammer import Hammer, HammerReport, StoreKind, run
from tests.engine.conftest import new_rules

STOCK = {7: 150, 8: 100}
PLAYS = 3000


def hammer(url: str, rules: GameRules, store: StoreKind = "lua") -> HammerReport:
    return run(
        Hammer(
            url, rules, STOCK, plays=PLAYS, workers=4, batch=40, replay_ratio=0.25,
            cross=True, store=store, record=True,
        )
    )  # fmt: skip


def check_invariants(report: HammerReport, budget: int) -> dict[str, int | None]:
    seen: dict[str, set[int | None]] = defaultdict(set)
    for worker in report.workers:
        for play_id, brand, _ in worker.outcomes:
            seen[play_id].add(brand)
    # One play, one outcome: whichever process decided it, and however often it was replayed.
    assert all(len(brands) == 1 for brands in seen.values())
    outcome = {play_id: brands.pop() for play_id, brands in seen.items()}
    assert set(outcome) == {f"p{n}" for n in range(PLAYS)}  # every play was decided
    wins = Counter(brand for brand in outcome.values() if brand is not None)
    # The budget is never overspent, per brand and in all; the store agrees with the plays.
    assert sum(wins.values()) == report.awarded <= budget
    for brand, stock in STOCK.items():
        assert wins[brand] == stock - report.stock_left[brand]
        assert report.stock_left[brand] >= 0
    assert report.mismatched_replays == 0
    return outcome


@pytest.mark.parametrize("where", ["redis", "cluster", "optimistic"])
def test_every_play_wants_to_win(
    where: str, endpoints: Endpoints, request: pytest.FixtureRequest
) -> None:
    url = (
        request.getfixturevalue("redis_cluster_url") if where == "cluster" else endpoints.redis_url
    )
    budget = sum(STOCK.values())
    rules = new_rules(strategy="fixed_odds", odds=1, budget=budget, end=100.0)
    report = hammer(url, rules, "optimistic" if where == "optimistic" else "lua")
    check_invariants(report, budget)
    # Every play wants a prize and there are 12x more plays than prizes: all go.
    assert report.awarded == budget
    assert report.stock_left == {7: 0, 8: 0}


def test_paced_holds_its_line_under_concurrency(endpoints: Endpoints) -> None:
    budget = sum(STOCK.values())
    rules = new_rules(budget=budget, end=100.0, slot_seconds=1.0)
    report = hammer(endpoints.redis_url, rules)
    outcome = check_invariants(report, budget)
    # Plays are spread evenly over the game; wins never run ahead of B*t/T by more than the
    # cap's lead (+1 for the coupon that crosses it), whatever order the processes decided
    # them in.
    won_at = sorted(int(play_id[1:]) / PLAYS * rules.duration
                    for play_id, brand in outcome.items() if brand is not None)  # fmt: skip
    for count, t in enumerate(won_at, start=1):
        assert count <= budget * t / rules.duration + Horizon().ahead(budget) + 1
