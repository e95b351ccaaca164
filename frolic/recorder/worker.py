"""The recorder: a consumer-group member writing decided plays to the ledger.

Per batch: record it (one transaction, ``ledger.record``), publish each play's final
outcome for the reveal and wait for the broker, then commit offsets. A crash anywhere
before the commit replays the batch, which the ledger recognises and leaves as it is. While
PostgreSQL is down the batch is retried, uncommitted, until it is recorded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from frolic import metrics
from frolic.clock import Clock
from frolic.config import Settings
from frolic.playlog import messages
from frolic.playlog.consumer import BatchConsumer
from frolic.playlog.producer import PlayLog
from frolic.recorder.ledger import record
from frolic.topics import RECORDERS

log = logging.getLogger(__name__)
_decode = messages.decoder(messages.Decided)


class Recorder:
    def __init__(
        self, settings: Settings, db: AsyncEngine, playlog: PlayLog, clock: Clock = time.time
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.db = db
        self.playlog = playlog
        self.recorded = 0

    async def run(self, stop: asyncio.Event) -> None:
        # As the allocator: a batch is what arrived while the one before was recorded, so
        # no play waits for a batch to fill, and under load the batches grow, spreading the
        # transaction's and the finals' delivery's fixed costs (measured: batches of at most
        # 500, each filled for up to 50 ms, kept up with no more than about 3,500 plays/s).
        consumer = BatchConsumer(
            self.settings, self.settings.result_topic, RECORDERS, batch=2000, fill=False
        )
        await consumer.drain(stop, _decode.decode, self.record)
        log.info("recorder stopped after %d outcomes", self.recorded)

    async def record(self, decided: list[messages.Decided]) -> asyncio.Future[Any]:
        """Record ``decided`` in the ledger and publish their finals; the future settles
        once the broker has every final (the consumer records the next batch meanwhile,
        as the allocator decides it: ``BatchConsumer.drain``)."""
        # PostgreSQL down or a transient conflict raises here: the consumer tries the batch
        # again with backoff and commits nothing meanwhile (``BatchConsumer.drain``).
        recorded = await record(self.db, decided, self.settings.reveal_seconds, self.clock)
        topic = self.settings.final_topic
        delivered = asyncio.gather(*(
            self.playlog.deliver(topic, f.user, messages.encode(f)) for f in recorded.finals
        ))  # fmt: skip
        # A redelivered outcome is revealed again (its socket may have missed it) but was
        # recorded before: counted once.
        self.recorded += len(recorded.new)
        now = self.clock()
        metrics.END_TO_END_LATENCY.observe_all([now - d.t for d in recorded.new])
        new = {d.play_id for d in recorded.new}
        metrics.count_winners(
            (f.game_id, f.brand) for f in recorded.finals if f.outcome == "WIN" and f.play_id in new
        )
        return delivered
