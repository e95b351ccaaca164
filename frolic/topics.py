"""The play log's topics, and the client settings every Kafka client of ours shares."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from frolic import periodic
from frolic.config import Settings
from frolic.errors import NotReady

ALLOCATORS = "frolic-allocators"
"""The consumer group deciding plays from the play topic."""
RECORDERS = "frolic-recorders"
"""The consumer group recording decided plays from the results topic."""

log = logging.getLogger(__name__)
# librdkafka's own log lines, through Python logging rather than straight to stderr.
_client_log = logging.getLogger("frolic.kafka")


def client_config(settings: Settings, **extra: Any) -> dict[str, Any]:
    assert settings.kafka_bootstrap, "resolve the stack's endpoints first"
    return {"bootstrap.servers": settings.kafka_bootstrap, "logger": _client_log, **extra}


def producer_config(settings: Settings, **extra: Any) -> dict[str, Any]:
    """A producer's settings: batching as ``kafka_linger_ms`` and ``kafka_batch_bytes`` say."""
    return client_config(settings, **{
        "linger.ms": settings.kafka_linger_ms, "batch.size": settings.kafka_batch_bytes,
        **extra,
    })  # fmt: skip


def consumer_config(settings: Settings, group: str, **extra: Any) -> dict[str, Any]:
    """A group member's settings: fetches as ``kafka_fetch_wait_ms`` and
    ``kafka_fetch_min_bytes`` say, and a session short enough that a (re)join is quick."""
    return client_config(settings, **{
        "group.id": group,
        "fetch.wait.max.ms": settings.kafka_fetch_wait_ms,
        "fetch.min.bytes": settings.kafka_fetch_min_bytes,
        "session.timeout.ms": settings.kafka_session_timeout_ms,
        "heartbeat.interval.ms": max(500, settings.kafka_session_timeout_ms // 6),
        **extra,
    })  # fmt: skip


def admin_client(settings: Settings) -> AdminClient:
    return AdminClient(cast(Any, client_config(settings)))


def ensure_topics(admin: AdminClient, settings: Settings, timeout: float = 15.0) -> None:
    """Create the play and result topics if missing; an existing topic is left as it is."""
    wanted = [settings.play_topic, settings.result_topic, settings.final_topic]
    futures = admin.create_topics(
        [NewTopic(name, settings.kafka_partitions, 1) for name in wanted],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    for name, future in futures.items():
        try:
            future.result(timeout)
            log.info("created topic %s with %d partitions", name, settings.kafka_partitions)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise NotReady(f"cannot create topic {name}: {exc.args[0].str()}") from exc
    existing = partition_counts(admin, timeout)
    for name in wanted:
        if existing.get(name, 0) < settings.kafka_partitions:
            log.warning(
                "topic %s has %d partitions, fewer than FROLIC_KAFKA_PARTITIONS=%d; "
                "consumers beyond that count will sit idle",
                name, existing.get(name, 0), settings.kafka_partitions,
            )  # fmt: skip


def partition_counts(admin: AdminClient, timeout: float) -> dict[str, int]:
    metadata = admin.list_topics(timeout=timeout)
    return {name: len(topic.partitions) for name, topic in metadata.topics.items()}


KEEP_SECONDS = 2.0
"""How often ``keep_topics`` looks for the play log's topics."""


async def keep_topics(admin: AdminClient, settings: Settings, stop: asyncio.Event) -> None:
    """Create the topics again whenever the broker has lost them, with our partition count.

    The embedded memory broker forgets its topics when it restarts. Our producers do not let
    a publish create a topic (it would get the broker's default partition count, and a
    consumer group could use no more members than that): their messages wait in the
    producer until this puts the topics back, within ``KEEP_SECONDS``."""
    wanted = (settings.play_topic, settings.result_topic, settings.final_topic)

    async def check() -> None:
        counts = await asyncio.to_thread(partition_counts, admin, KEEP_SECONDS)
        missing = [name for name in wanted if name not in counts]
        if missing:
            log.warning("topics %s are gone (a broker restart?); creating them", missing)
            await asyncio.to_thread(ensure_topics, admin, settings)

    # A failure is the broker being down (this watches for exactly that): quietly retried.
    await periodic.every(KEEP_SECONDS, check, stop, name="topic check", log=log,
                         away=lambda exc: "the broker away", level=logging.DEBUG)  # fmt: skip
