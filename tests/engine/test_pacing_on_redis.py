"""The production path gives the simulator's figures: the same trace through the real
``Engine`` on each store (Redis, Redis Cluster, WATCH/MULTI), with one allocator and with two
whose states go stale by each other's batches."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from frolic.engine.engine import Engine
from frolic.engine.store import BudgetStore, MemoryStore
from frolic.engine.strategy import Play
from frolic.fairness.measures import Fairness, ratios
from frolic.sim import runner
from frolic.sim.metrics import evaluate
from frolic_report.pacing import Row
from tests.engine.conftest import new_rules

# Six minutes of flat traffic, 55 plays a second, batched by half a second (fewer store
# calls; the simulator is run with the same batches).
ROW = Row("flat", "flat", "flat", 20_000, 1000, duration=360.0)
GAME = replace(ROW.game, batch_window=0.5)
SEED = 3


async def on_store(store: BudgetStore, times: NDArray[np.float64], allocators: int) -> list[bool]:
    rules = new_rules(budget=GAME.budget, end=GAME.duration, slot_seconds=GAME.slot_seconds,
                      brands=(1, 2))  # fmt: skip
    await store.load(rules, GAME.stock)
    # Allocator 0 draws as the simulator does; the others from their own sources.
    engines = [Engine(store) for _ in range(allocators)]
    sources = [random.Random(SEED + 7919 * i).random for i in range(allocators)]
    wins: list[bool] = []
    start = 0
    for n, end in enumerate(runner.batch_ends(times, GAME.batch_window, GAME.max_batch)):
        draw = sources[n % allocators]
        plays = [Play.drawn(f"{i}", float(times[i]), draw) for i in range(start, end)]
        wins += [o.win for o in await engines[n % allocators].decide(rules, plays)]
        start = end
    return wins


async def test_one_allocator_on_any_store_decides_as_the_simulator(store: BudgetStore) -> None:
    # runner.simulate's path, awaited here: Engine on a MemoryStore, the seed's draws.
    times = ROW.traffic(SEED)
    wins = await on_store(store, times, 1)
    assert wins == await on_store(MemoryStore(), times, 1)
    assert sum(wins) == GAME.budget


async def test_two_allocators_keep_the_targets(store: BudgetStore) -> None:
    times = ROW.traffic(SEED)
    wins = np.array(await on_store(store, times, 2))
    m = evaluate(times, wins, GAME.budget, GAME.duration, slot_seconds=GAME.slot_seconds)
    fair = Fairness.of([ratios(times, wins, GAME.budget, GAME.duration, GAME.slot_seconds)])
    assert m.overspend == 0
    assert m.utilization >= 0.995, m
    assert m.nrmse_vs_oracle <= 0.005, m
    assert fair.within(0.75, 1.33, bot=False), fair
