"""A batch's tail (its results' delivery): the next batch is handled while it settles, and a
batch's offsets are committed only once its tail has settled; a tail that fails has its
batch handled again. Against the real broker: the committed offsets are the group's."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from frolic import topics
from frolic.config import Settings
from frolic.playlog.consumer import BatchConsumer
from tests.support.factories import with_own_topics


def _publish(settings: Settings, topic: str, values: list[str]) -> None:
    producer = Producer(topics.producer_config(settings))
    for value in values:
        producer.produce(topic, value.encode(), key=b"k")  # one partition: one order
    assert producer.flush(15) == 0


def _committed(settings: Settings, topic: str, group: str) -> int:
    """The group's committed offsets, summed over the topic's partitions."""
    probe = Consumer(topics.consumer_config(settings, group))
    try:
        wanted = [TopicPartition(topic, p) for p in range(settings.kafka_partitions)]
        return sum(max(0, tp.offset) for tp in probe.committed(wanted, timeout=10))
    finally:
        probe.close()


async def _wait(predicate: Any, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_the_next_batch_is_handled_while_a_tail_settles_and_commits_wait_for_it(
    settings: Settings,
) -> None:
    s = with_own_topics(settings, "tail")
    group = f"g-{uuid.uuid4().hex}"
    member = BatchConsumer(s, s.play_topic, group, batch=1, fill=False)
    tails: list[asyncio.Future[None]] = []
    handled: list[str] = []

    async def handle(batch: list[bytes]) -> asyncio.Future[None]:
        handled.extend(b.decode() for b in batch)
        tails.append(asyncio.get_running_loop().create_future())
        return tails[-1]

    stop = asyncio.Event()
    _publish(s, s.play_topic, ["a", "b", "c"])
    draining = asyncio.create_task(member.drain(stop, bytes, handle))
    try:
        # "b" is handled although "a"'s tail has not settled...
        await _wait(lambda: len(handled) >= 2)
        assert handled[:2] == ["a", "b"]
        # ...but not "c": a batch's tail settles before the next batch's commit.
        await asyncio.sleep(0.3)
        assert handled == ["a", "b"]
        assert await asyncio.to_thread(_committed, s, s.play_topic, group) == 0
        tails[0].set_result(None)  # "a" delivered: "a" committed, and "c" handled
        await _wait(lambda: len(handled) == 3)
        await _wait(lambda: _committed(s, s.play_topic, group) == 1)
        tails[1].set_result(None)
        await _wait(lambda: _committed(s, s.play_topic, group) == 2)
    finally:
        for tail in tails:
            if not tail.done():
                tail.set_result(None)
        stop.set()
        await draining
    assert await asyncio.to_thread(_committed, s, s.play_topic, group) == 3
    assert member.tally.done == 3


async def test_a_batch_whose_tail_fails_is_handled_again_before_its_commit(
    settings: Settings,
) -> None:
    s = with_own_topics(settings, "tail")
    group = f"g-{uuid.uuid4().hex}"
    member = BatchConsumer(s, s.play_topic, group, batch=1, fill=False)
    handled: list[str] = []

    async def handle(batch: list[bytes]) -> asyncio.Future[None]:
        handled.extend(b.decode() for b in batch)
        tail = asyncio.get_running_loop().create_future()
        if handled.count("a") == 1 and batch == [b"a"]:
            tail.set_exception(RuntimeError("delivery failed: broker away"))
        else:
            tail.set_result(None)
        return tail

    stop = asyncio.Event()
    _publish(s, s.play_topic, ["a", "b"])
    draining = asyncio.create_task(member.drain(stop, bytes, handle))
    try:
        await _wait(lambda: _committed(s, s.play_topic, group) == 2)
    finally:
        stop.set()
        await draining
    assert handled == ["a", "b", "a"]  # "a" again, once its first delivery failed
    assert (member.tally.done, member.tally.failed) == (2, 1)
