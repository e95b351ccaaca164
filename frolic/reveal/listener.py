"""A whole topic heard by every ws process (each final result, each accepted play): a
consumer group of one per process.

A player may be connected to any ws process, so each process reads the whole final topic
(its own group, ``frolic-ws-<uuid>``) from the moment it joins, and its hub keeps what
concerns its own sockets. Nothing is lost by starting at the end: a final published before
this process listened was committed to PostgreSQL first, and a socket reads PostgreSQL on
connect, once the listener is ``ready()``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import msgspec
from confluent_kafka import Consumer, Message, TopicPartition

from frolic.config import Settings
from frolic.playlog.messages import Final, PlayEvent, decoder
from frolic.topics import consumer_config

log = logging.getLogger(__name__)

BATCH = 500
POLL_SECONDS = 0.1
"""How long one poll waits for messages; also how long ``stop()`` may wait for the thread."""
OFFSETS_TIMEOUT = 5.0


class BroadcastListener:
    """Reads a topic on a thread, every partition of it; hands each batch to ``deliver`` on
    ``loop``. The final topic by default; given ``topic`` and ``kind``, another: the hub
    hears accepted plays this way too (``PlayEvent`` on the play topic), to tell a player
    whose result is late that it is pending."""

    def __init__(
        self,
        settings: Settings,
        deliver: Callable[[list[Any]], None],
        loop: asyncio.AbstractEventLoop,
        *,
        topic: str | None = None,
        kind: type[Final] | type[PlayEvent] = Final,
    ) -> None:
        self.topic = topic or settings.final_topic
        self.group = f"frolic-ws-{uuid.uuid4()}"
        self._deliver = deliver
        self._loop = loop
        self._decode = decoder(kind)
        self._assigned = threading.Event()
        self._stopping = threading.Event()
        self._consumer = Consumer(consumer_config(settings, self.group, **{
            "auto.offset.reset": "latest", "enable.auto.commit": True,
        }))  # fmt: skip
        self._thread = threading.Thread(target=self._run, name=self.group, daemon=True)

    def start(self) -> None:
        self._consumer.subscribe(
            [self.topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_revoke,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop polling, leave the group and close the consumer (blocking: call off-loop)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()
        else:
            self._consumer.close()

    @property
    def assigned(self) -> bool:
        return self._assigned.is_set()

    async def ready(self, timeout: float | None = None) -> bool:
        """Wait until the group has given this process its partitions and their start
        offsets are fixed: every final published from then on will be heard."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._assigned.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    messages = self._consumer.consume(BATCH, POLL_SECONDS)
                except Exception:
                    log.exception("the final listener could not poll; retrying")
                    self._stopping.wait(0.5)
                    continue
                finals = self._decoded(messages)
                if finals and not self._hand_over(finals):
                    return
        finally:
            self._assigned.clear()
            try:
                self._consumer.close()
            except Exception:
                log.exception("closing the final listener's consumer failed")

    def _decoded(self, messages: list[Message]) -> list[Any]:
        finals = []
        for message in messages:
            error = message.error()
            if error is not None:
                log.warning("final listener: %s", error)
                continue
            try:
                finals.append(self._decode.decode(message.value() or b""))
            except msgspec.DecodeError as exc:
                log.warning(
                    "skipping an undecodable final at %s[%s]@%s: %s",
                    message.topic(), message.partition(), message.offset(), exc,
                )  # fmt: skip
        return finals

    def _hand_over(self, finals: list[Any]) -> bool:
        try:
            self._loop.call_soon_threadsafe(self._deliver, finals)
        except RuntimeError:  # the loop is closed: the process is shutting down
            log.info("final listener: the event loop is gone; stopping")
            return False
        return True

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Fix each partition's start now (its committed offset, else its end) rather than
        let librdkafka resolve ``latest`` lazily, after ``ready()`` would have said yes."""
        try:
            committed = consumer.committed(partitions, timeout=OFFSETS_TIMEOUT)
            for partition, known in zip(partitions, committed, strict=True):
                if known.offset >= 0:
                    partition.offset = known.offset
                else:
                    _, high = consumer.get_watermark_offsets(
                        partition, timeout=OFFSETS_TIMEOUT, cached=False
                    )
                    partition.offset = high
        except Exception:
            log.exception("final listener: could not fix start offsets; starting at the end")
        consumer.assign(partitions)
        log.info("final listener %s: %d partitions of %s", self.group, len(partitions), self.topic)
        self._assigned.set()

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned.clear()
