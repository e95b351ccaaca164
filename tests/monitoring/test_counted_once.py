"""A redelivered batch (a crash before its commit, a re-driven play) goes through the
allocator and the recorder again, and its outcomes are published again, but the counters
and latency histograms count each play once."""

from __future__ import annotations

import asyncio
import time
import uuid

from frolic import metrics
from frolic.allocator.worker import Allocator
from frolic.config import Settings
from frolic.db.session import create_engine
from frolic.games.repository import GameCache
from frolic.metrics import BatchHistogram
from frolic.playlog import messages
from frolic.playlog.producer import PlayLog
from frolic.recorder.worker import Recorder
from frolic.redis_client import connect
from frolic_chaos.topic_log import read_all
from tests.recovery.test_redis_loss import PLAYER, player_id
from tests.support.factories import create_live_game, with_own_topics


def observed(histogram: BatchHistogram) -> float:
    [family] = histogram.collect()
    return next(s.value for s in family.samples if s.name.endswith("_count"))


async def test_a_redelivered_batch_is_published_again_but_counted_once(settings: Settings) -> None:
    s = with_own_topics(settings, "once")
    assert s.database_url
    assert s.redis_url
    game = await create_live_game(s, budgets=(3,), strategy="fixed_odds", odds=1)
    [brand] = game.brands
    label = str(game.game_id)
    db = create_engine(s.database_url)
    redis = connect(s.redis_url)
    playlog = PlayLog(s)
    try:
        user = await player_id(db)
        now = time.time()
        events = [messages.PlayEvent(str(uuid.uuid4()), game.game_id, user, PLAYER, now, now + 10)
                  for _ in range(5)]  # fmt: skip
        allocator = Allocator(s, redis, GameCache(db), playlog)
        recorder = Recorder(s, db, playlog)
        wins, losses = (
            metrics.DECISIONS.labels(label, "win"),
            metrics.DECISIONS.labels(label, "lose"),
        )
        winners = metrics.WINNERS.labels(label, str(brand))

        def counts() -> list[float]:
            return [
                wins._value.get(), losses._value.get(), winners._value.get(),
                observed(metrics.DECISION_LATENCY), observed(metrics.END_TO_END_LATENCY),
            ]  # fmt: skip

        before = counts()
        for _ in range(2):  # the batch, then its redelivery
            await (await allocator.decide(events))
        decided = await asyncio.to_thread(read_all, s, s.result_topic)
        assert len(decided) == 10  # published again: the recorder may have missed the first
        batch = [messages.decoder(messages.Decided).decode(raw) for raw in decided]
        for _ in range(2):
            await (await recorder.record(batch[:5]))
        await (await recorder.record(batch[5:]))
        finals = await asyncio.to_thread(read_all, s, s.final_topic)
        assert len(finals) == 15  # every delivery revealed again, for a socket that missed it

        after = counts()
        assert [a - b for a, b in zip(after, before, strict=True)] == [3, 2, 3, 5, 5]
        assert recorder.recorded == 5
    finally:
        playlog.close()
        await redis.aclose()
        await db.dispose()
