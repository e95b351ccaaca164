"""Run a strategy over a trace on a virtual clock, through the production decision path.

The plays go through ``engine.Engine`` and a ``MemoryStore`` exactly as an allocator sends
them through a Redis store: batched (plays arriving within ``batch_window`` seconds, at most
``max_batch``), each batch planned from the state the previous one left.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
from numpy.typing import NDArray

from frolic.engine.engine import Engine
from frolic.engine.paced import DEFAULT_HORIZON, Horizon
from frolic.engine.rules import GameRules, StrategyName
from frolic.engine.store import MemoryStore
from frolic.engine.strategies import make_strategy
from frolic.engine.strategy import Play
from frolic.sim.audit import FairDraws

Progress = Callable[[int], None]  # called with the number of plays just decided


@dataclass(frozen=True)
class Game:
    """The simulated game: one budget split over two brands, as a campaign would be."""

    budget: int
    duration: float
    slot_seconds: float = 5.0
    odds: int = 100
    moments_void: bool = False
    batch_window: float = 0.05
    max_batch: int = 500

    def rules(self, strategy: StrategyName, seed: int) -> GameRules:
        return GameRules(
            game_id=1, start=0.0, end=self.duration, budget=self.budget, brands=(1, 2),
            strategy=strategy, slot_seconds=self.slot_seconds, odds=self.odds,
            moments_seed=seed, moments_void=self.moments_void,
        )  # fmt: skip

    @property
    def stock(self) -> dict[int, int]:
        return {1: self.budget // 2, 2: self.budget - self.budget // 2}


def simulate(
    times: NDArray[np.float64],
    game: Game,
    strategy: StrategyName,
    *,
    seed: int = 0,
    progress: Progress | None = None,
    horizon: Horizon = DEFAULT_HORIZON,
    fair: FairDraws | None = None,
) -> NDArray[np.bool_]:
    """Win (True) or lose for each play of ``times`` (sorted seconds since the start);
    ``horizon`` sets ``paced``'s knobs (the report's trade-off curves). With ``fair``,
    the draws follow the fairness rule and ``fair`` keeps the decision log."""
    return asyncio.run(_simulate(times, game, strategy, seed, progress, horizon, fair))


async def _simulate(
    times: NDArray[np.float64],
    game: Game,
    strategy: StrategyName,
    seed: int,
    progress: Progress | None,
    horizon: Horizon,
    fair: FairDraws | None = None,
) -> NDArray[np.bool_]:
    rules = game.rules(strategy, seed)
    store = MemoryStore()
    await store.load(rules, game.stock)
    engine = Engine(store, partial(make_strategy, horizon=horizon))
    rng = random.Random(seed).random
    wins = np.zeros(len(times), dtype=np.bool_)
    ends = batch_ends(times, game.batch_window, game.max_batch)
    start = 0
    values = times.tolist()
    for end in ends:
        if fair is None:
            plays = [Play.drawn(str(i), values[i], rng) for i in range(start, end)]
            outcomes = await engine.decide(rules, plays)
        else:
            pairs = [fair.play(i, values[i]) for i in range(start, end)]
            plays, made_by = [p for p, _ in pairs], [who for _, who in pairs]
            decided = await engine.decide_audited(rules, plays)
            fair.record(plays, made_by, decided)
            outcomes = [outcome for outcome, _ in decided]
        wins[start:end] = [o.brand is not None for o in outcomes]
        if progress is not None:
            progress(end - start)
        start = end
    return wins


def batch_ends(times: NDArray[np.float64], window: float, max_batch: int) -> list[int]:
    """Exclusive end index of each batch: plays within ``window`` of the batch's first."""
    limits = np.searchsorted(times, times + window, side="left")
    ends = []
    i, n = 0, len(times)
    while i < n:
        j = min(int(limits[i]), i + max_batch)
        ends.append(max(j, i + 1))
        i = ends[-1]
    return ends
