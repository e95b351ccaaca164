"""The allocator: a consumer-group member deciding plays from the play topic.

Per batch: decode, group by game, one engine call (one Redis round trip) per game, publish
every outcome to the results topic and wait until the broker has them all, then commit
offsets. A crash before the commit means the batch is consumed again; the store's
idempotency returns the same outcomes, so the replay is harmless. On stop it finishes the
batch in hand, commits and leaves the group.

A game Redis lost (a restart without persistence) is rebuilt from the ledger before its
plays are decided (``frolic.reconcile.recovery``); each outcome carries the Redis epoch it
was decided under, which the recorder checks.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from frolic import metrics
from frolic.clock import Clock
from frolic.config import Settings
from frolic.engine.engine import Engine
from frolic.engine.redis_store import store_for
from frolic.engine.step import Decision, Outcome
from frolic.engine.store import GameLost
from frolic.engine.strategy import Play
from frolic.fairness import draws, entries
from frolic.fairness.draws import Seed
from frolic.games.repository import GameCache, GameView
from frolic.playlog import messages
from frolic.playlog.consumer import BatchConsumer
from frolic.playlog.producer import PlayLog
from frolic.reconcile.recovery import rebuild_lost
from frolic.redis_client import AsyncRedis
from frolic.topics import ALLOCATORS

log = logging.getLogger(__name__)
_decode = messages.decoder(messages.PlayEvent)


class Allocator:
    def __init__(
        self,
        settings: Settings,
        redis: AsyncRedis,
        games: GameCache,
        playlog: PlayLog,
        *,
        rng: Callable[[], float] | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.games = games
        self.playlog = playlog
        self.store = store_for(settings, redis)
        self.engine = Engine(self.store)
        # For a play with no committed seed to draw from: the operating system's randomness.
        self.rng = rng or random.SystemRandom().random
        self.decided = 0
        self.batches = 0
        self._drawers: dict[int, tuple[Seed, draws.Drawer]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        # A batch wait would add to every play's time to decision: the batch is what
        # arrived while the one before was decided.
        consumer = BatchConsumer(
            self.settings, self.settings.play_topic, ALLOCATORS, wait=0.1, fill=False
        )
        await consumer.drain(stop, _decode.decode, self.decide)
        log.info("allocator stopped after %d plays in %d batches", self.decided, self.batches)

    async def decide(self, events: Sequence[messages.PlayEvent]) -> asyncio.Future[Any]:
        """Decide ``events`` (their outcomes stored in Redis when this returns) and publish
        their results; the future settles once the broker has every one. The consumer
        decides the next batch meanwhile, and commits this one's offsets after it settles:
        waiting here put the results' delivery (the producer's linger and the broker's
        answer) into the time to decision of every play of the next batch."""
        by_game: dict[int, list[messages.PlayEvent]] = defaultdict(list)
        for event in events:
            by_game[event.game_id].append(event)
        deliveries = []
        for game_id, plays in by_game.items():
            deliveries += await self._decide_game(game_id, plays)
        self.decided += len(events)
        self.batches += 1
        return asyncio.gather(*deliveries)

    async def _decide_game(
        self, game_id: int, events: list[messages.PlayEvent]
    ) -> list[asyncio.Future[None]]:
        game = await self.games.get(game_id)
        topic = self.settings.result_topic
        audited: list[tuple[int | None, dict[str, object]]]
        epoch = 0
        if game is None:
            log.error("plays of unknown game %d: recorded as losses", game_id)
            audited = [(None, {"error": "unknown game"}) for _ in events]
            replays = [False] * len(events)
        else:
            drawn = [self._draw(game, e) for e in events]
            plays = [Play(e.play_id, e.t, d.u, d.brand_u)
                     for e, (_, d) in zip(events, drawn, strict=True)]  # fmt: skip
            decided, epoch = await self._decide_loaded(game, plays)
            audited = []
            for (outcome, decision), (who, d) in zip(decided, drawn, strict=True):
                if outcome.judged is not None:
                    # A replay: planned again on a later state, but decided (and logged)
                    # as it was the first time, whose publish may have died with its
                    # allocator; the re-plan's additions to the audit are not its.
                    p, cap, slot_cap = outcome.judged
                    decision = decision._replace(p=p, cap=cap, slot_cap=slot_cap, meta="")
                # The audit: the probability and the draw it was decided by (the strategy
                # is the game's probability_type), exactly, and what the strategy adds.
                audit: dict[str, object] = {"p": decision.p, "draw": d.u}
                if decision.meta:
                    audit.update(orjson.loads("{" + decision.meta + "}"))
                if who is not None:  # the play's entry in the game's decision log
                    audit["entry"] = entries.play_body(
                        player=who[0], number=who[1], client=who[2], decision=decision,
                        p=decision.p, draws=d, epoch=epoch, seq=outcome.seq,
                    )  # fmt: skip
                audited.append((outcome.brand, audit))
            replays = [outcome.replay for outcome, _ in decided]
        done = self.clock()
        # A replay (a redelivery, a re-driven play) is no new decision: not counted again.
        new = [(e.t, brand) for e, (brand, _), replay in zip(events, audited, replays, strict=True)
               if not replay]  # fmt: skip
        metrics.DECISION_LATENCY.observe_all([done - t for t, _ in new])
        wins = sum(brand is not None for _, brand in new)
        metrics.count_decisions(game_id, wins, len(new) - wins)
        out = []
        for e, (brand, audit) in zip(events, audited, strict=True):
            result = messages.Decided(
                e.play_id, e.game_id, e.user_id, e.user, e.t, e.reveal_at, brand, done, audit, epoch
            )
            out.append(self.playlog.deliver(topic, e.user, messages.encode(result)))
        return out

    def _draw(
        self, game: GameView, e: messages.PlayEvent
    ) -> tuple[tuple[str, int, str] | None, draws.Draws]:
        """The play's draws from the game's committed seed, and who made it (pseudonym,
        play number, client seed); a play of a game without a seed, or from before play
        numbers, draws from the OS and has no entry in a decision log."""
        if game.seed is None or e.number is None:
            return None, draws.Draws(self.rng(), self.rng())
        drawer = self._drawers.get(game.game_id)
        if drawer is None or drawer[0] != game.seed:
            drawer = self._drawers[game.game_id] = (
                game.seed,
                draws.Drawer(game.seed.value, game.game_id),
            )
        ref = drawer[1].player_ref(e.user)
        return (ref, e.number, e.client_seed), drawer[1].draws(ref, e.number, e.client_seed)

    async def _decide_loaded(
        self, game: GameView, plays: list[Play]
    ) -> tuple[list[tuple[Outcome, Decision]], int]:
        """The plays decided, and the Redis epoch they were decided under. A game Redis lost
        is rebuilt from the ledger first, by this allocator or another; its plays wait
        meanwhile, none decided against a missing state."""
        while True:
            try:
                decided = await self.engine.decide_audited(game.rules, plays)
                return decided, self.engine.epoch(game.game_id)
            except GameLost:
                log.warning("game %d is not in Redis: rebuilding it first", game.game_id)
                await rebuild_lost(self.games.db, self.store, game.game_id)
