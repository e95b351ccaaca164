"""Consumer lag against the real broker: messages nobody consumed are lag; a commit clears it."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaException, Producer

from frolic.config import Settings
from frolic.monitoring.lag import consumer_lag
from frolic.playlog.consumer import BatchConsumer
from frolic.topics import ALLOCATORS, RECORDERS, client_config
from tests.support.factories import with_own_topics


def produce(settings: Settings, topic: str, count: int) -> None:
    """One record batch per message: tansu answers a partition's end offset as its last
    batch's base offset + 1, which is the true end only when that batch holds one record."""
    producer = Producer(client_config(settings))
    for n in range(count):
        producer.produce(topic, b"x", f"user-{n}".encode())
        assert producer.flush(10) == 0


async def test_unconsumed_messages_are_lag_until_the_group_commits(settings: Settings) -> None:
    s = with_own_topics(settings, "lag")
    produce(s, s.play_topic, 25)

    before = await consumer_lag(s)
    plays = [p for p in before if p.topic == s.play_topic]
    assert {p.group for p in plays} == {ALLOCATORS}
    assert sorted(p.partition for p in plays) == list(range(s.kafka_partitions))
    assert sum(p.lag for p in plays) == 25
    assert all(p.lag == p.end - p.committed for p in plays)
    results = [p for p in before if p.topic == s.result_topic]
    assert {p.group for p in results} == {RECORDERS}
    assert sum(p.lag for p in results) == 0
    assert not any(p.topic == s.final_topic for p in before)  # the ws groups are not work

    consumer = BatchConsumer(s, s.play_topic, ALLOCATORS, batch=100, wait=0.2)
    seen = 0
    try:
        for _ in range(200):
            seen += len(await consumer.next_batch())
            if seen >= 25:
                break
        await consumer.commit()
    finally:
        await consumer.close()
    assert seen == 25

    after = [p for p in await consumer_lag(s) if p.topic == s.play_topic]
    assert sum(p.lag for p in after) == 0
    assert sum(p.end for p in after) == 25
    assert all(p.committed == p.end for p in after)


async def test_a_topic_not_yet_created_has_no_rows(settings: Settings) -> None:
    s = settings.model_copy(update={"play_topic": "lag-missing", "result_topic": "lag-none"})
    assert await consumer_lag(s) == []


async def test_an_unreachable_broker_fails_rather_than_waits(settings: Settings) -> None:
    s = settings.model_copy(update={"kafka_bootstrap": "127.0.0.1:1"})
    with pytest.raises(KafkaException):
        await consumer_lag(s, timeout=0.5)
