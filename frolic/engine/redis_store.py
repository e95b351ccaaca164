"""Budget stores on Redis (single server or Cluster): the Lua store, and the seed's optional
optimistic-locking fallback (WATCH/MULTI) for deployments that cannot run scripts."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping, Sequence
from typing import Any

from redis.exceptions import WatchError

from frolic.engine import keys, ledger, scripts
from frolic.engine.ledger import Decision, Outcome
from frolic.engine.rules import GameRules, PacingState
from frolic.redis_client import AsyncRedis

STATE_FIELDS = (
    "consumed", "awarded", "slot", "slot_awarded", "slot_cap", "slot_plays", "forecast", "plays"
)  # fmt: skip
DAY = 86_400


def _num(raw: bytes | str | None) -> float | None:
    if raw is None or raw in (b"", ""):
        return None
    return float(raw)


def parse_state(values: Sequence[bytes | str | None], remaining: int) -> PacingState:
    """A ``PacingState`` from the hash fields in ``STATE_FIELDS`` order."""
    consumed, awarded, slot, slot_awarded, slot_cap, slot_plays, forecast, plays = map(_num, values)
    return PacingState(
        consumed=int(consumed or 0),
        awarded=int(awarded or 0),
        slot=None if slot is None else int(slot),
        slot_awarded=int(slot_awarded or 0),
        slot_cap=PacingState.slot_cap if slot_cap is None else slot_cap,
        slot_plays=int(slot_plays or 0),
        forecast=forecast,
        plays=int(plays or 0),
        remaining=remaining,
    )


def state_fields(state: PacingState) -> dict[str, str]:
    """The hash fields the Lua script would write for ``state``."""
    fields = {
        "consumed": str(state.consumed),
        "awarded": str(state.awarded),
        "slot_awarded": str(state.slot_awarded),
        "slot_cap": repr(state.slot_cap),
        "slot_plays": str(state.slot_plays),
        "plays": str(state.plays),
    }
    if state.slot is not None:
        fields["slot"] = str(state.slot)
    if state.forecast is not None:
        fields["forecast"] = repr(state.forecast)
    return fields


class _RedisStore:
    def __init__(
        self, client: AsyncRedis, *, result_ttl: int = 20, processed_ttl: int = 2 * DAY
    ) -> None:
        self.client = client
        self.result_ttl = result_ttl
        self.processed_ttl = processed_ttl
        self._load = client.register_script(scripts.LOAD_GAME)

    async def load(self, rules: GameRules, stock: Mapping[int, int]) -> None:
        g = rules.game_id
        await self._load(
            keys=[keys.pacing(g), *(keys.budget(g, b) for b in rules.brands)],
            args=[stock.get(b, 0) for b in rules.brands],
        )

    async def state(self, rules: GameRules) -> PacingState:
        g = rules.game_id
        values = await self.client.hmget(keys.pacing(g), list(STATE_FIELDS))
        stock = await self.stock(rules)
        return parse_state(values, sum(max(v, 0) for v in stock.values()))

    async def stock(self, rules: GameRules) -> dict[int, int]:
        g = rules.game_id
        values = await self.client.mget([keys.budget(g, b) for b in rules.brands])
        return {b: int(v or 0) for b, v in zip(rules.brands, values, strict=True)}

    async def result(self, rules: GameRules, play_id: str) -> str | None:
        raw = await self.client.get(keys.result(rules.game_id, play_id))
        return None if raw is None else raw.decode() if isinstance(raw, bytes) else str(raw)


class LuaStore(_RedisStore):
    """One EVALSHA decides a whole batch of one game (``scripts.DECIDE_BATCH``)."""

    def __init__(self, client: AsyncRedis, **ttls: int) -> None:
        super().__init__(client, **ttls)
        self._decide = client.register_script(scripts.DECIDE_BATCH)
        self._decrement = client.register_script(scripts.SEED_DECREMENT)

    async def decrement(self, game_id: int, brand_id: int, n: int = 1) -> bool:
        """The seed's one-call-per-play decrement, kept for comparison and tooling."""
        return bool(await self._decrement(keys=[keys.budget(game_id, brand_id)], args=[n]))

    async def decide(
        self, rules: GameRules, decisions: Sequence[Decision]
    ) -> tuple[PacingState, list[Outcome]]:
        g = rules.game_id
        batch_keys = [keys.pacing(g)]
        batch_keys.extend(keys.budget(g, b) for b in rules.brands)
        args: list[Any] = [len(rules.brands), *rules.brands]
        args += [self.result_ttl, self.processed_ttl, ledger.FORECAST_ALPHA,
                 int(rules.moments_void), len(decisions)]  # fmt: skip
        for d in decisions:
            batch_keys.append(keys.processed(g, d.play_id))
            batch_keys.append(keys.result(g, d.play_id))
            args += [d.slot, int(d.want), repr(d.cap), repr(d.slot_cap), repr(d.brand_draw),
                     d.meta]  # fmt: skip
        raw_state, brands, replays = await self._decide(keys=batch_keys, args=args)
        state = parse_state(raw_state[:8], int(float(raw_state[8])))
        outcomes = [
            Outcome(d.play_id, int(b) or None, replay=bool(r))
            for d, b, r in zip(decisions, brands, replays, strict=True)
        ]
        return state, outcomes


class OptimisticStore(_RedisStore):
    """WATCH the game's keys, decide in Python (``ledger.apply``), MULTI/EXEC, retry on
    conflict. Single Redis only: a Cluster transaction cannot WATCH across a pipeline."""

    max_attempts = 50

    async def decide(
        self, rules: GameRules, decisions: Sequence[Decision]
    ) -> tuple[PacingState, list[Outcome]]:
        g = rules.game_id
        pacing_key = keys.pacing(g)
        budget_keys = [keys.budget(g, b) for b in rules.brands]
        processed_keys = [keys.processed(g, d.play_id) for d in decisions]
        for attempt in range(self.max_attempts):
            async with self.client.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(pacing_key, *budget_keys, *processed_keys)
                    raw = await pipe.hmget(pacing_key, list(STATE_FIELDS))
                    stock = [int(v or 0) for v in await pipe.mget(budget_keys)]
                    prior = await pipe.mget(processed_keys)
                    decided = {
                        d.play_id: int(p) for d, p in zip(decisions, prior, strict=True) if p
                    }
                    before = parse_state(raw, sum(max(v, 0) for v in stock))
                    state, outcomes, results = ledger.apply(
                        before, stock, rules.brands, decisions, decided,
                        void=rules.moments_void,
                    )  # fmt: skip
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.hset(pacing_key, mapping=state_fields(state))  # type: ignore[arg-type]
                    for key, left in zip(budget_keys, stock, strict=True):
                        pipe.set(key, left)
                    for d in decisions:
                        if d.play_id in results:
                            pipe.set(keys.processed(g, d.play_id), decided[d.play_id],
                                     ex=self.processed_ttl)  # fmt: skip
                            pipe.set(keys.result(g, d.play_id), results[d.play_id],
                                     ex=self.result_ttl)  # fmt: skip
                    await pipe.execute()
                    return state, outcomes
                except WatchError:
                    # Another allocator changed the game first: back off a little, redo.
                    await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise RuntimeError(f"game {g}: gave up after {self.max_attempts} conflicting attempts")
