"""A consumer-group member used from asyncio: every call to the confluent consumer runs on
one dedicated thread (librdkafka wants a consumer used from one thread), batch by batch.
Offsets are committed only when the caller says its batch is done (at-least-once).

Between batches the commit is sent without waiting for the broker's answer: a synchronous
commit put one more broker round trip between every batch and the next fetch, which every
play arriving meanwhile waited out. A commit that is lost (a crash, a rebalance) means a
batch is consumed again, which handlers must already tolerate. Leaving, the last commit is
waited for."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from frolic import metrics
from frolic.config import Settings
from frolic.db.outage import is_outage, is_refusal
from frolic.errors import NotReady
from frolic.topics import consumer_config

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 5.0
"""A failing batch is tried again after 0.5 s, 1 s, 2 s... up to this: after an outage the
worker resumes within this long, and meanwhile it does not hammer the server."""
POISON_ATTEMPTS = 3
"""A batch that fails this many times for a reason other than a server being away (at
once, if PostgreSQL refused its data) is split in halves, each handled on its own, until
the message that fails is alone: that one is skipped (logged and counted) and the rest go
on. Skipping loses nothing: its play is still QUEUED in PostgreSQL, and the re-driver
publishes it again (a decided play gets its decision back). Without this, one bad message
held up every play behind it for good."""


Handler = Callable[[list[T]], Awaitable[Awaitable[Any] | None]]
"""Handles a batch; may return the batch's tail (see ``BatchConsumer.drain``)."""


@dataclass
class _InFlight(Generic[T]):
    """A handled batch whose offsets wait for its tail to settle."""

    tail: Awaitable[Any] | None
    batch: list[T]
    offsets: list[TopicPartition]
    size: int  # its messages, undecodable ones too


def _positions(messages: list[Message]) -> list[TopicPartition]:
    """The offsets to commit once ``messages`` are handled: past the last of each
    partition."""
    last: dict[tuple[str, int], int] = {}
    for m in messages:
        key = (m.topic() or "", m.partition() or 0)
        last[key] = max(last.get(key, -1), m.offset() or 0)
    return [TopicPartition(topic, part, offset + 1) for (topic, part), offset in last.items()]


@dataclass
class Tally:
    """What a consumer did, logged when it stops: messages handled and committed (``done``),
    failed attempts at a batch (``failed``), batches handled only on a later attempt
    (``retried``) and messages skipped as poison (``skipped``)."""

    done: int = 0
    failed: int = 0
    retried: int = 0
    skipped: int = 0

    def __str__(self) -> str:
        return (f"{self.done} done, {self.failed} failed, {self.retried} retried, "
                f"{self.skipped} skipped")  # fmt: skip


class BatchConsumer:
    def __init__(
        self, settings: Settings, topic: str, group: str, *, batch: int = 1000,
        wait: float = 0.05, fill: bool = True, **extra: Any,
    ) -> None:  # fmt: skip
        """``fill``: wait up to ``wait`` for a full batch, which spreads a handler's fixed
        cost over more messages. Otherwise a batch is handed over as soon as one message is
        there, with whatever else has arrived: every message in it waited only for the
        handling of the batch before, and batches still grow under load."""
        self.batch_size = batch
        self.group = group
        self.wait = wait
        self.fill = fill
        self.tally = Tally()
        config = consumer_config(settings, group, **{
            "enable.auto.commit": False, "auto.offset.reset": "earliest", **extra,
        })  # fmt: skip
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"consumer-{group}")
        self._consumer = Consumer(config)
        self._consumer.subscribe([topic], on_revoke=self._on_revoke)

    async def next_batch(self) -> list[Message]:
        """The next messages (possibly none), errors logged and dropped."""
        messages: list[Message] = await self._run(
            self._consumer.consume if self.fill else self._arrived, self.batch_size, self.wait
        )
        good = []
        for message in messages:
            if message.error():
                log.warning("consumer error: %s", message.error())
            else:
                good.append(message)
        return good

    async def drain(
        self, stop: asyncio.Event, decode: Callable[[bytes], T], handle: Handler[T]
    ) -> None:
        """Batch after batch until ``stop``: decode each message (one that does not decode
        is logged and skipped), hand the batch over, and commit once it is handled. A
        handler may return the batch's tail, what must still settle before its offsets
        are committed (its results' delivery): the next batch is handled meanwhile, and
        the tail settles before that one's commit. Leaves the group at the end, after the
        batch in hand."""
        in_hand = metrics.UNCOMMITTED.labels(self.group)
        metrics.SKIPPED.labels(self.group)  # served as 0 until a message is skipped
        flying: _InFlight[T] | None = None
        try:
            while not stop.is_set():
                batch = await self.next_batch()
                if not batch:
                    if flying is not None and not await self._settle(stop, handle, flying):
                        return
                    flying = None
                    in_hand.set(0)
                    continue
                decoded = []
                for message in batch:
                    try:
                        decoded.append(decode(message.value() or b""))
                    except Exception:
                        where = (message.topic(), message.partition(), message.offset())
                        log.warning("skipping an undecodable message at %s[%s]@%s", *where)
                in_hand.set(len(batch) + (flying.size if flying else 0))
                handled, tail = await self._handle(stop, handle, decoded, keep_tail=True)
                # Stopped mid-retry: the batches in hand stay uncommitted, for the next owner.
                if not handled or (flying is not None and
                                   not await self._settle(stop, handle, flying)):  # fmt: skip
                    return
                flying = _InFlight(tail, decoded, _positions(batch), len(batch))
                if tail is None:
                    await self._settle(stop, handle, flying)
                    flying = None
                    in_hand.set(0)
            # A tail still failing when stop came leaves its batch uncommitted: commit
            # nothing past it.
            if flying is not None and not await self._settle(stop, handle, flying):
                return
            await self.commit()
        finally:
            await self.close()
            log.info("%s stopped: %s", self.group, self.tally)

    async def _settle(self, stop: asyncio.Event, handle: Handler[T], flying: _InFlight[T]) -> bool:
        """Wait for a handled batch's tail and commit the batch; a tail that fails has its
        batch handled again, tail and all. False if ``stop`` comes first."""
        if flying.tail is not None:
            try:
                await flying.tail
            except Exception:
                self.tally.failed += 1
                log.exception("a batch of %d was handled but its tail failed; handling it "
                              "again", len(flying.batch))  # fmt: skip
                handled, _ = await self._handle(stop, handle, flying.batch)
                if not handled:
                    return False
        await self.commit(flying.offsets, wait=False)
        self.tally.done += flying.size
        return True

    async def _handle(
        self, stop: asyncio.Event, handle: Handler[T], batch: list[T], *, keep_tail: bool = False
    ) -> tuple[bool, Awaitable[Any] | None]:
        """Hand ``batch`` over until it is handled, waiting longer after each failure: a
        server that is down (PostgreSQL, Redis, the broker) holds the batch, uncommitted,
        rather than end the worker. False if ``stop`` comes first. With ``keep_tail``, the
        first attempt's tail is returned unsettled; a retry's is waited for."""
        delay = RETRY_FIRST_SECONDS
        attempt = 0
        while True:
            attempt += 1
            try:
                tail = await handle(batch)
                if tail is not None and not (keep_tail and attempt == 1):
                    await tail
                    tail = None
            except Exception as exc:
                self.tally.failed += 1
                if not _unavailable(exc) and (attempt >= POISON_ATTEMPTS or is_refusal(exc)):
                    return await self._isolate(stop, handle, batch, exc), None
                if attempt == 1:
                    log.exception("handling a batch of %d failed; retrying", len(batch))
                else:
                    log.warning(
                        "a batch of %d still fails (attempt %d: %s: %s); retrying in %.1f s",
                        len(batch), attempt, type(exc).__name__, exc, delay,
                    )  # fmt: skip
            else:
                if attempt > 1:
                    self.tally.retried += 1
                    log.warning("a batch of %d handled at attempt %d", len(batch), attempt)
                return True, tail
            try:
                await asyncio.wait_for(stop.wait(), delay)
                return False, None
            except TimeoutError:
                delay = min(2 * delay, RETRY_MAX_SECONDS)

    async def _isolate(
        self, stop: asyncio.Event, handle: Handler[T], batch: list[T], exc: Exception
    ) -> bool:
        """Handle the halves of a batch that keeps failing on its own, down to the message
        that fails alone, which is skipped. False if ``stop`` comes first."""
        if len(batch) == 1:
            log.error("skipping a message that fails on its own: %.300r; the re-driver "
                      "brings its play round again", batch[0], exc_info=exc)  # fmt: skip
            metrics.SKIPPED.labels(self.group).inc()
            self.tally.skipped += 1
            return True
        half = len(batch) // 2
        for part in (batch[:half], batch[half:]):
            if not (await self._handle(stop, handle, part))[0]:
                return False
        return True

    async def commit(self, offsets: list[TopicPartition] | None = None, *,
                     wait: bool = True) -> None:  # fmt: skip
        """Commit ``offsets``, or the positions of everything consumed so far; ``wait``
        for the broker."""
        try:
            await self._run(self._consumer.commit, None, offsets, not wait)
        except Exception as exc:  # nothing consumed since the last commit, or a rebalance
            if "NO_OFFSET" not in str(exc):
                raise

    async def close(self) -> None:
        await self._run(self._consumer.close)
        self._thread.shutdown(wait=True)

    def _arrived(self, size: int, wait: float) -> list[Message]:
        first = self._consumer.poll(wait)
        if first is None or size == 1:
            return [] if first is None else [first]
        return [first, *self._consumer.consume(size - 1, 0)]

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    def _on_revoke(self, consumer: Consumer, partitions: list[Any]) -> None:
        # Called inside consume(), between batches. A batch whose tail is still settling is
        # committed after this: the commit may be refused, or land on a partition another
        # member has now; it names only handled messages, so at worst some are consumed
        # again, which handlers tolerate.
        log.info("partitions revoked: %s", [p.partition for p in partitions])


def _unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says a server is away (PostgreSQL, Redis, the broker): the batch is
    fine and waits for it, however long."""
    return is_outage(exc) or isinstance(exc, (RedisConnectionError, RedisTimeoutError,
                                              KafkaException, NotReady))  # fmt: skip
