"""Many processes deciding plays of one game at once: the allocate benchmark and the
torture tests both drive this.

Play ``n`` of ``plays`` is fresh for worker ``n % workers`` and happens at game time
``n / plays * duration``. Mixed into every batch, a ``replay_ratio`` share of the plays
are replays of play ids decided earlier: by this worker (``cross=False``, where a replay
must return the outcome this worker saw), or by any worker (``cross=True``, where two
processes may race to decide the same play and must still agree on one outcome).
"""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import random
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.synchronize import Barrier
from typing import Literal

from frolic.engine.engine import Engine
from frolic.engine.redis_store import LuaStore, OptimisticStore
from frolic.engine.rules import GameRules
from frolic.engine.step import Outcome
from frolic.engine.strategy import Play
from frolic.fairness import draws
from frolic.redis_client import connect

PLAYERS = 5000  # the plays are dealt to this many players, each numbering theirs from 1

StoreKind = Literal["lua", "optimistic"]


@dataclass(frozen=True)
class Hammer:
    url: str
    rules: GameRules
    stock: dict[int, int]
    plays: int
    workers: int
    batch: int = 256
    replay_ratio: float = 0.1
    cross: bool = False
    store: StoreKind = "lua"
    record: bool = False  # return every outcome (tests); the benchmark only counts
    processed_ttl: int = 2 * 86_400  # a benchmark keeps Redis from filling up with shorter


@dataclass
class WorkerReport:
    worker: int
    decisions: int = 0
    replays: int = 0
    mismatched_replays: int = 0
    started: float = 0.0
    finished: float = 0.0
    outcomes: list[tuple[str, int | None, bool]] = field(default_factory=list)


@dataclass(frozen=True)
class HammerReport:
    workers: list[WorkerReport]
    seconds: float
    awarded: int
    stock_left: dict[int, int]

    @property
    def decisions(self) -> int:
        return sum(w.decisions for w in self.workers)

    @property
    def replays(self) -> int:
        return sum(w.replays for w in self.workers)

    @property
    def mismatched_replays(self) -> int:
        return sum(w.mismatched_replays for w in self.workers)


def run(h: Hammer) -> HammerReport:
    """Load the game, run the workers as processes, and report what they did."""
    asyncio.run(_load(h))
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(h.workers + 1)
    results: multiprocessing.Queue[WorkerReport | str] = context.Queue()
    processes = [
        context.Process(target=_work, args=(h, i, barrier, results), daemon=True)
        for i in range(h.workers)
    ]
    for process in processes:
        process.start()
    try:
        barrier.wait(timeout=120)  # every worker is connected: the clock starts now
        reports = [results.get(timeout=3600) for _ in processes]
    except threading.BrokenBarrierError:
        reports = [results.get(timeout=10)]
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    failures = [r for r in reports if isinstance(r, str)]
    if failures:
        raise RuntimeError(f"a hammer worker failed: {failures[0]}")
    done = [r for r in reports if isinstance(r, WorkerReport)]
    seconds = max(r.finished for r in done) - min(r.started for r in done)
    awarded, stock_left = asyncio.run(_final(h))
    return HammerReport(sorted(done, key=lambda r: r.worker), seconds, awarded, stock_left)


async def _load(h: Hammer) -> None:
    client = connect(h.url)
    try:
        await LuaStore(client).load(h.rules, h.stock)
    finally:
        await client.aclose()


async def _final(h: Hammer) -> tuple[int, dict[int, int]]:
    client = connect(h.url)
    try:
        store = LuaStore(client)
        return (await store.state(h.rules)).awarded, await store.stock(h.rules)
    finally:
        await client.aclose()


def _work(
    h: Hammer, worker: int, barrier: Barrier, results: multiprocessing.Queue[WorkerReport | str]
) -> None:
    try:
        results.put(asyncio.run(_worker(h, worker, barrier)))
    except BaseException as exc:
        barrier.abort()  # release the others rather than leave them waiting
        results.put(f"worker {worker}: {type(exc).__name__}: {exc}")


async def _worker(h: Hammer, worker: int, barrier: Barrier) -> WorkerReport:
    client = connect(h.url)
    kind = LuaStore if h.store == "lua" else OptimisticStore
    store = kind(client, processed_ttl=h.processed_ttl)
    engine = Engine(store)
    rng = random.Random(1000 + worker)
    report = WorkerReport(worker)
    seen: dict[str, int | None] = {}
    decided: list[int] = []
    try:
        await store.state(h.rules)  # connects, and warms the script cache
        await asyncio.to_thread(barrier.wait, 60)
        report.started = time.monotonic()
        for batch in _batches(h, worker, rng, decided):
            outcomes = await engine.decide(h.rules, batch)
            _tally(report, seen, decided, outcomes, h.record)
        report.finished = time.monotonic()
    finally:
        await client.aclose()
    return report


def _batches(
    h: Hammer, worker: int, rng: random.Random, decided: list[int]
) -> Iterator[list[Play]]:
    """This worker's batches; lazy, so a batch replays only plays decided before it. Each
    play's draws are derived from a seed by the fairness rule, as an allocator derives
    them (``frolic.fairness.draws``): play ``n`` is play number ``n // PLAYERS + 1`` of
    player ``n % PLAYERS``."""
    drawer = draws.Drawer(hashlib.sha256(b"frolic-bench-hammer").digest(), h.rules.game_id)
    fresh = range(worker, h.plays, h.workers)
    per_batch = max(1, round(h.batch * (1 - h.replay_ratio)))
    replays = h.batch - per_batch if h.replay_ratio > 0 else 0
    step = h.rules.duration / h.plays
    for i in range(0, len(fresh), per_batch):
        ids = list(fresh[i : i + per_batch])
        if h.cross:  # any play id up to this batch's game time, whoever owns it
            ids += [rng.randrange(ids[-1] + 1) for _ in range(replays)]
        elif decided:
            ids += [rng.choice(decided) for _ in range(replays)]
        # A replay is the same event again: it carries the play's own request time.
        yield [_play(drawer, n, h.rules.start + n * step) for n in ids]


def _play(drawer: draws.Drawer, n: int, t: float) -> Play:
    d = drawer.draws(drawer.player_ref(f"player-{n % PLAYERS}"), n // PLAYERS + 1)
    return Play(f"p{n}", t, d.u, d.brand_u)


def _tally(
    report: WorkerReport, seen: dict[str, int | None], decided: list[int],
    outcomes: Sequence[Outcome], record: bool,
) -> None:  # fmt: skip
    for o in outcomes:
        report.decisions += 1
        if o.play_id in seen:
            report.replays += 1
            if seen[o.play_id] != o.brand:
                report.mismatched_replays += 1
        else:
            seen[o.play_id] = o.brand
            decided.append(int(o.play_id[1:]))
        if record:
            report.outcomes.append((o.play_id, o.brand, o.replay))
