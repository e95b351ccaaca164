"""Consumer lag of Frolic's consumer groups: how many messages each partition's group has
yet to commit.

Only the allocators (on the play topic) and the recorders (on the result topic) are
measured. Each ws process reads the final topic in a group of its own that starts at the
end and auto-commits; its lag says nothing about a backlog of work, and the groups come and
go with the processes, so listing them would only grow the label set.

The embedded broker (tansu) answers a partition's end offset as the base offset of its
last record batch + 1, so there the lag is short by up to a batch's size less one; Kafka's
answer is exact. A group that has committed past that end counts as no lag.

This runs at scrape time: a handful of admin requests (metadata, then the end offsets and
the committed offsets of every partition, concurrently), each with a timeout, on a thread.
"""

from __future__ import annotations

import asyncio
from typing import Any, NamedTuple, cast

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._listoffsets import OffsetSpec  # not re-exported for typing

from frolic.config import Settings
from frolic.topics import ALLOCATORS, RECORDERS, client_config

TIMEOUT_SECONDS = 2.0


class PartitionLag(NamedTuple):
    group: str
    topic: str
    partition: int
    committed: int
    """The group's committed offset; where it has none, the partition's first offset, where
    the group would start (it reads from the earliest)."""
    end: int
    lag: int


def measured_groups(settings: Settings) -> list[tuple[str, str]]:
    """(group, topic) pairs whose lag is work waiting to be done."""
    return [(ALLOCATORS, settings.play_topic), (RECORDERS, settings.result_topic)]


async def consumer_lag(
    settings: Settings, *, timeout: float = TIMEOUT_SECONDS
) -> list[PartitionLag]:
    """Every partition of the allocators' and the recorders' topics with the group's lag.

    Raises ``KafkaException`` (or ``TimeoutError``) when the broker does not answer in time.
    """
    return await asyncio.to_thread(_measure, settings, timeout)


def _measure(settings: Settings, timeout: float) -> list[PartitionLag]:
    admin = AdminClient(cast(Any, client_config(settings, **{"socket.timeout.ms": 1000})))
    groups = measured_groups(settings)
    metadata = admin.list_topics(timeout=timeout)
    by_group = {
        group: [
            TopicPartition(topic, p)
            for p in sorted(metadata.topics[topic].partitions)
        ]
        for group, topic in groups
        if topic in metadata.topics
    }  # fmt: skip
    every = [tp for tps in by_group.values() for tp in tps]
    if not every:
        return []
    latest, earliest = OffsetSpec.latest(), OffsetSpec.earliest()  # type: ignore[no-untyped-call]
    ends = admin.list_offsets({tp: latest for tp in every}, request_timeout=timeout)
    starts = admin.list_offsets({tp: earliest for tp in every}, request_timeout=timeout)
    # The admin API asks for one group per request; the requests still run concurrently.
    committed_futures = {
        group: admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group, tps)], request_timeout=timeout
        )[group]
        for group, tps in by_group.items()
    }
    out = []
    for group, tps in by_group.items():
        answer = committed_futures[group].result(timeout)
        committed = {(tp.topic, tp.partition): tp.offset for tp in answer.topic_partitions or []}
        for tp in tps:
            end = ends[tp].result(timeout).offset
            offset = committed.get((tp.topic, tp.partition), -1)
            if offset < 0:
                offset = starts[tp].result(timeout).offset
            out.append(
                PartitionLag(group, tp.topic, tp.partition, offset, end, max(0, end - offset))
            )
    return out
