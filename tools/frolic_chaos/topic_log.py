"""Read a whole topic as it is now: what the history checker compares with the ledger, and
what the duplicates fault picks from to deliver again.

Partitions are assigned directly, from their beginning to their end: no consumer group to
join (a join waits on the broker's rebalance), nothing committed.
"""

from __future__ import annotations

import time
from typing import Any, cast

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from frolic.config import Settings
from frolic.topics import client_config


def read_all(settings: Settings, topic: str, *, timeout: float = 60.0) -> list[bytes]:
    """Every message value of ``topic`` up to its current end, partition by partition."""
    consumer = Consumer(cast(Any, client_config(settings, **{
        "group.id": "chaos-reader", "enable.auto.commit": False,
    })))  # fmt: skip
    values: list[bytes] = []
    try:
        partitions: list[int] = []
        for _ in range(10):  # a metadata answer may come without the topic's partitions
            meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
            if meta is not None and meta.error is None and meta.partitions:
                partitions = list(meta.partitions)
                break
            time.sleep(0.5)
        if not partitions:
            raise RuntimeError(f"no partitions found for topic {topic}")
        ends: dict[int, int] = {}
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > low:
                ends[p] = high
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        # tansu answers a high watermark of its last batch's first offset + 1, not of its
        # last message (5 messages after 5 more give 6, not 10): the end is a floor. Once
        # every partition has passed it, the read goes on until nothing more comes, or for
        # a second at most while producers are still writing.
        reached: set[int] = set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(reached) == len(ends):
                deadline = min(deadline, time.monotonic() + 1.0)
            got = consumer.consume(1000, 0.2)
            for message in got:
                at, offset = message.partition(), message.offset()
                if message.error() or at not in ends or offset is None:
                    continue
                values.append(message.value() or b"")
                if offset + 1 >= ends[at]:
                    reached.add(at)
            if not got and len(reached) == len(ends):
                break
        if len(reached) < len(ends):
            missing = sorted(set(ends) - reached)
            raise TimeoutError(f"{topic}: partitions {missing} not read to their end")
    finally:
        consumer.close()
    return values
