"""Publishing to the play log from asyncio.

confluent-kafka's producer batches in its own C threads; one Python thread serves its
delivery callbacks and hands each result back to the event loop as a future. Ingestion
publishes without waiting (the play is already in PostgreSQL, and the re-driver repairs a
lost message); allocators and recorders wait for delivery before committing offsets.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from frolic.config import Settings
from frolic.topics import producer_config

log = logging.getLogger(__name__)


class PlayLog:
    def __init__(self, settings: Settings) -> None:
        self._producer = Producer(
            producer_config(
                settings,
                **{
                    "enable.idempotence": False,
                    "acks": "all",
                    "queue.buffering.max.messages": 1_000_000,
                    # A topic the broker lost waits for ``topics.keep_topics`` to create it
                    # with our partition count, rather than the broker's default.
                    "allow.auto.create.topics": False,
                },
            )
        )
        self._stopping = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="playlog-poll", daemon=True)
        self._poller.start()

    def publish(self, topic: str, key: str, value: bytes) -> None:
        """Queue a message; a failed delivery is logged (its play will be re-driven)."""
        self._produce(topic, key, value, _log_failure)

    def deliver(self, topic: str, key: str, value: bytes) -> asyncio.Future[None]:
        """Queue a message; the future resolves once the broker has it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def done(err: KafkaError | None, msg: Message) -> None:
            loop.call_soon_threadsafe(_settle, future, err)

        self._produce(topic, key, value, done)
        return future

    def _produce(self, topic: str, key: str, value: bytes, callback: Any) -> None:
        while True:
            try:
                self._producer.produce(topic, value, key.encode(), on_delivery=callback)
                return
            except BufferError:
                # The local queue is full: let librdkafka drain a little, then retry.
                self._producer.poll(0.01)

    def _poll(self) -> None:
        while not self._stopping.is_set():
            self._producer.poll(0.05)

    def close(self, timeout: float = 10.0) -> None:
        left = self._producer.flush(timeout)
        if left:
            log.warning("%d messages were not delivered before shutdown", left)
        self._stopping.set()
        self._poller.join(timeout=2)


def _settle(future: asyncio.Future[None], err: KafkaError | None) -> None:
    if future.done():
        return
    if err is None:
        future.set_result(None)
    else:
        future.set_exception(RuntimeError(f"delivery failed: {err.str()}"))


def _log_failure(err: KafkaError | None, msg: Message) -> None:
    if err is not None:
        log.warning("a play event was not delivered (%s); the re-driver will resend it", err)
