"""Budget stores on Redis (single server or Cluster): the Lua store, and the seed's optional
optimistic-locking fallback (WATCH/MULTI) for deployments that cannot run scripts."""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import redis.asyncio.cluster
from redis.exceptions import WatchError

from frolic.config import Settings
from frolic.engine import keys, scripts, step
from frolic.engine.redis_state import (
    STATE_FIELDS,
    Buckets,
    anchor_arg,
    cap_arg,
    check_run,
    parse_processed,
    parse_state,
    parse_top_up,
    state_fields,
)
from frolic.engine.rules import NO_CAP, GameRules, PacingState
from frolic.engine.step import Decision, Outcome, Stored
from frolic.engine.store import GameLost
from frolic.redis_client import AsyncRedis

DAY = 86_400
RESTORE_CHUNK = 2000  # outcomes per HSET when restoring a game's processed hashes


async def this_run(client: Any) -> str:
    """The run_id of the Redis server behind ``client`` (a WATCHing pipeline: its
    connection's), which ``scripts._THIS_RUN`` records with a game's epoch."""
    return str((await client.info("server"))["run_id"])


class _RedisStore:
    def __init__(
        self,
        client: AsyncRedis,
        *,
        processed_ttl: int = 2 * DAY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.processed_ttl = processed_ttl
        self.clock = clock
        self._load = client.register_script(scripts.LOAD_GAME)
        self._restore = client.register_script(scripts.RESTORE_GAME)
        self._top_up = client.register_script(scripts.TOP_UP)
        self._resume = client.register_script(scripts.RESUME)
        self._loaded = client.register_script(scripts.LOADED_EPOCH)

    async def load(
        self, rules: GameRules, stock: Mapping[int, int], t: float | None = None, epoch: int = 0
    ) -> None:
        g = rules.game_id
        await self._load(
            keys=[keys.pacing(g), *(keys.budget(g, b) for b in rules.brands)],
            args=[*anchor_arg(step.line_at_load(rules.start, rules.end, t)), epoch,
                  *(stock.get(b, 0) for b in rules.brands)],
        )  # fmt: skip

    async def loaded_epoch(self, game_id: int) -> int | None:
        """The epoch of the game's state in Redis; None if Redis does not hold the game, or
        holds it from another run: from before its last restart (``scripts.LOADED_EPOCH``)."""
        epoch = await self._loaded(keys=[keys.pacing(game_id)])
        return None if epoch is None else int(epoch)

    async def loaded_epochs(self, game_ids: Sequence[int]) -> list[int | None]:
        """``loaded_epoch`` of each game, in one round trip on one server."""
        if isinstance(self.client, redis.asyncio.cluster.RedisCluster) or not game_ids:
            # A cluster pipeline runs no scripts, nor INFO: a call per game, on its node.
            return [await self.loaded_epoch(g) for g in game_ids]
        # One connection, so one server: a restart in between would fail the pipeline.
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.info("server")
            for g in game_ids:
                pipe.hmget(keys.pacing(g), ["epoch", "run"])
            info, *found = await pipe.execute()
        run = str(info["run_id"]).encode()
        return [None if e is None or r != run else int(e) for e, r in found]

    def processed_hours(self, now: float) -> range:
        """The hours whose processed hashes may still live at ``now`` (each lives until its
        hour's end plus ``processed_ttl``), and the next one for a request clock ahead."""
        return range(
            keys.processed_bucket(now - self.processed_ttl) - 1, keys.processed_bucket(now) + 2
        )

    async def restore(
        self,
        rules: GameRules,
        stock: Mapping[int, int],
        awarded: int,
        decided: Mapping[tuple[int, str], int],
        line: tuple[float, float] | None = None,
        *,
        epoch: int = 0,
    ) -> int:
        """Rebuild a game lost from Redis, from the ledger: stock, pacing counters, the
        line's anchor ``(line_t, line_from)`` (None: none), the outcomes decided
        (``(request hour, playId) -> brand``, 0 for a loss; those of ``processed_hours``),
        and last the ``epoch`` that marks the game loaded again. The number of outcomes.

        The game's pacing hash and processed hashes are cleared first, so whatever was
        there (a partial state, outcomes the ledger does not hold) is gone, and nothing is
        decided until the epoch is back: the outcomes can go in chunks, not one huge call.
        """
        g = rules.game_id
        now = self.clock()
        await self.client.delete(
            keys.pacing(g), *(keys.processed(g, h) for h in self.processed_hours(now))
        )
        hours: dict[int, list[Any]] = {}
        for (hour, play_id), brand in decided.items():
            hours.setdefault(hour, []).extend((play_id, brand))
        async with self.client.pipeline(transaction=False) as pipe:
            for hour, pairs in hours.items():
                key = keys.processed(g, hour)
                for i in range(0, len(pairs), 2 * RESTORE_CHUNK):
                    pipe.hset(key, items=pairs[i : i + 2 * RESTORE_CHUNK])
                ends = (hour + 1) * keys.PROCESSED_BUCKET_SECONDS
                pipe.expire(key, max(0, math.ceil(ends - now)) + self.processed_ttl)
            await pipe.execute()
        await self._restore(
            keys=[keys.pacing(g), *(keys.budget(g, b) for b in rules.brands)],
            args=[awarded, *anchor_arg(line), epoch, *(stock.get(b, 0) for b in rules.brands)],
        )
        return len(decided)

    async def top_up(
        self, rules: GameRules, brand_id: int, coupons: int, operation: str, t: float
    ) -> bool:
        """Add ``coupons`` to a brand's stock and re-anchor the pacing line at ``t``
        (``scripts.TOP_UP``); False if ``operation`` was applied before. ``rules.brands``
        must hold the brand."""
        g = rules.game_id
        applied = await self._top_up(
            keys=[keys.pacing(g), keys.top_ups(g), *(keys.budget(g, b) for b in rules.brands)],
            args=[operation, rules.brands.index(brand_id) + 1, coupons, rules.start, rules.end, t],
        )
        if int(applied) < 0:
            raise GameLost(g)
        return bool(applied)

    async def top_up_place(self, rules: GameRules, operation: str) -> tuple[int, int] | None:
        return parse_top_up(await self.client.hget(keys.top_ups(rules.game_id), operation))

    async def resume(self, rules: GameRules, t: float) -> tuple[float, float]:
        """Re-anchor the pacing line at ``t`` at the coupons awarded (``scripts.RESUME``)."""
        anchor = await self._resume(
            keys=[keys.pacing(rules.game_id)], args=[rules.start, rules.end, t]
        )
        if not anchor:
            raise GameLost(rules.game_id)
        line_t, line_from = anchor
        return float(line_t), float(line_from)

    async def state(self, rules: GameRules) -> PacingState:
        g = rules.game_id
        values = await self.client.hmget(keys.pacing(g), list(STATE_FIELDS))
        stock = await self.stock(rules)
        return parse_state(values, sum(max(v, 0) for v in stock.values()), g)

    async def stock(self, rules: GameRules) -> dict[int, int]:
        g = rules.game_id
        values = await self.client.mget([keys.budget(g, b) for b in rules.brands])
        return {b: int(v or 0) for b, v in zip(rules.brands, values, strict=True)}


class LuaStore(_RedisStore):
    """One EVALSHA decides a whole batch of one game (``scripts.DECIDE_BATCH``)."""

    def __init__(self, client: AsyncRedis, **options: Any) -> None:
        super().__init__(client, **options)
        self._decide = client.register_script(scripts.DECIDE_BATCH)

    async def decide(
        self, rules: GameRules, decisions: Sequence[Decision]
    ) -> tuple[PacingState, list[Outcome]]:
        if len(decisions) > scripts.MAX_BATCH:
            state: PacingState | None = None
            outcomes: list[Outcome] = []
            for i in range(0, len(decisions), scripts.MAX_BATCH):
                state, more = await self.decide(rules, decisions[i : i + scripts.MAX_BATCH])
                outcomes += more
            assert state is not None
            return state, outcomes
        g = rules.game_id
        buckets = Buckets(g, decisions)
        batch_keys = [keys.pacing(g), *(keys.budget(g, b) for b in rules.brands),
                      *buckets.processed_keys]  # fmt: skip
        args: list[Any] = [
            len(rules.brands), *rules.brands, len(buckets.processed), rules.forecast_alpha,
            1 if rules.moments_void else 0, len(decisions),
            *buckets.ttls(self.clock(), self.processed_ttl),
        ]  # fmt: skip
        for d, b in zip(decisions, buckets.of, strict=True):
            # Every argument costs packing here and a Lua string there: "no cap" goes as an
            # empty string, and a play that does not want to win sends no brand draw, which
            # is how the script knows it does not (no flag of its own).
            args += (d.play_id, b, d.slot, cap_arg(d.cap), cap_arg(d.slot_cap),
                     d.brand_draw if d.want else b"", d.p)  # fmt: skip
        answer = await self._decide(keys=batch_keys, args=args)
        if not answer:
            raise GameLost(g)
        raw_state, brands, flat = answer
        state = parse_state([*raw_state[:10], raw_state[11]], int(float(raw_state[10])), g)
        priors = {
            int(i) - 1: parse_processed(v) for i, v in zip(flat[::2], flat[1::2], strict=True)
        }
        seq = state.plays - (len(decisions) - len(priors))  # the last seq before the batch
        outcomes = []
        for i, (d, b) in enumerate(zip(decisions, brands, strict=True)):
            prior = priors.get(i)
            if prior is None:
                seq += 1
                outcomes.append(Outcome(d.play_id, int(b) or None, False, seq))
            else:
                outcomes.append(Outcome(d.play_id, prior[0] or None, True, prior[1], prior[2]))
        return state, outcomes


class OptimisticStore(_RedisStore):
    """WATCH the game's keys, decide in Python (``step.apply``), MULTI/EXEC, retry on
    conflict. Single Redis only: a Cluster transaction cannot WATCH across a pipeline.
    Each attempt also asks the server its run (INFO, on the WATCHing connection, which a
    restart would have closed), as the scripts do."""

    max_attempts = 50

    async def decide(
        self, rules: GameRules, decisions: Sequence[Decision]
    ) -> tuple[PacingState, list[Outcome]]:
        g = rules.game_id
        pacing_key = keys.pacing(g)
        budget_keys = [keys.budget(g, b) for b in rules.brands]
        buckets = Buckets(g, decisions)
        for attempt in range(self.max_attempts):
            async with self.client.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(pacing_key, *budget_keys, *buckets.processed_keys)
                    *raw, run = await pipe.hmget(pacing_key, [*STATE_FIELDS, "run"])
                    stock = [int(v or 0) for v in await pipe.mget(budget_keys)]
                    decided: dict[str, Stored] = {}
                    for key, ids in buckets.play_ids(decisions).items():
                        found = await pipe.hmget(key, ids)
                        decided.update(
                            (i, parse_processed(v)) for i, v in zip(ids, found, strict=True) if v
                        )
                    before = parse_state(raw, sum(max(v, 0) for v in stock), g)
                    check_run(g, run, await this_run(pipe))
                    state, outcomes = step.apply(
                        before, stock, rules.brands, decisions, decided,
                        void=rules.moments_void, alpha=rules.forecast_alpha,
                    )  # fmt: skip
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.hset(pacing_key, mapping=state_fields(state))  # type: ignore[arg-type]
                    for key, left in zip(budget_keys, stock, strict=True):
                        pipe.set(key, left)
                    self._write(pipe, decisions, buckets, outcomes)
                    await pipe.execute()
                    return state, outcomes
                except WatchError:
                    # Another allocator changed the game first: back off a little, redo.
                    await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise RuntimeError(f"game {g}: gave up after {self.max_attempts} conflicting attempts")

    async def top_up(
        self, rules: GameRules, brand_id: int, coupons: int, operation: str, t: float
    ) -> bool:
        """``scripts.TOP_UP`` as a WATCH/MULTI transaction, with ``step``'s arithmetic."""
        if brand_id not in rules.brands:
            raise ValueError(f"brand {brand_id} is not among the game's {rules.brands}")
        g = rules.game_id
        pacing_key, top_ups_key = keys.pacing(g), keys.top_ups(g)
        budget_keys = [keys.budget(g, b) for b in rules.brands]
        for attempt in range(self.max_attempts):
            async with self.client.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(pacing_key, top_ups_key, *budget_keys)
                    if await pipe.hexists(top_ups_key, operation):
                        return False
                    *raw, run = await pipe.hmget(pacing_key, [*STATE_FIELDS, "run"])
                    stock = [int(v or 0) for v in await pipe.mget(budget_keys)]
                    before = parse_state(raw, sum(max(v, 0) for v in stock), g)
                    check_run(g, run, await this_run(pipe))
                    line_t, line_from = step.line_after_top_up(before, rules.start, rules.end, t)
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.hset(pacing_key, mapping={"line_t": repr(line_t),
                                                   "line_from": repr(line_from)})  # fmt: skip
                    pipe.incrby(keys.budget(g, brand_id), coupons)
                    pipe.hset(top_ups_key, operation, f"{coupons}:{before.epoch}:{before.plays}")
                    await pipe.execute()
                    return True
                except WatchError:
                    await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise RuntimeError(f"game {g}: gave up topping up after {self.max_attempts} conflicts")

    async def resume(self, rules: GameRules, t: float) -> tuple[float, float]:
        """``scripts.RESUME`` as a WATCH/MULTI transaction, with ``step``'s arithmetic."""
        pacing_key = keys.pacing(rules.game_id)
        for attempt in range(self.max_attempts):
            async with self.client.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(pacing_key)
                    *raw, run = await pipe.hmget(pacing_key, [*STATE_FIELDS, "run"])
                    before = parse_state(raw, 0, rules.game_id)
                    check_run(rules.game_id, run, await this_run(pipe))
                    line = step.line_at_resume(before, rules.start, rules.end, t)
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.hset(pacing_key, mapping={"line_t": repr(line[0]),
                                                   "line_from": repr(line[1])})  # fmt: skip
                    await pipe.execute()
                    return line
                except WatchError:
                    await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise RuntimeError(
            f"game {rules.game_id}: gave up resuming after {self.max_attempts} conflicts"
        )

    def _write(
        self, pipe: Any, decisions: Sequence[Decision], buckets: Buckets,
        outcomes: Sequence[Outcome],
    ) -> None:  # fmt: skip
        """Record each new play's outcome in its hour's processed hash (a replay has one)."""
        processed: dict[str, dict[str, str]] = {}
        for d, b, outcome in zip(decisions, buckets.of, outcomes, strict=True):
            if not outcome.replay:
                processed.setdefault(buckets.processed_keys[b - 1], {})[d.play_id] = (
                    f"{outcome.brand or 0}:{outcome.seq}:{d.p!r}:{_cap_text(d.cap)}:"
                    f"{_cap_text(d.slot_cap)}"
                )
        ttls = dict(zip(buckets.processed_keys, buckets.ttls(self.clock(), self.processed_ttl),
                        strict=True))  # fmt: skip
        for key, mapping in processed.items():
            pipe.hset(key, mapping=mapping)
            pipe.expire(key, ttls[key])


def _cap_text(cap: float) -> str:
    """A cap as the script writes it in a processed hash: its argument as sent."""
    return "" if cap >= NO_CAP else repr(cap)


def store_for(settings: Settings, client: AsyncRedis) -> LuaStore | OptimisticStore:
    """The budget store the settings ask for."""
    kind = LuaStore if settings.budget_store == "lua" else OptimisticStore
    return kind(client, processed_ttl=settings.processed_ttl_seconds)
