"""A batch that keeps failing: set the bad message aside, never the good ones; wait out an
outage whatever its length."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from frolic import metrics
from frolic.config import Settings
from frolic.playlog import consumer as consumer_module
from frolic.playlog.consumer import BatchConsumer


@pytest.fixture
def member(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[BatchConsumer]:
    monkeypatch.setattr(consumer_module, "RETRY_FIRST_SECONDS", 0.01)
    member = BatchConsumer(settings, f"poison-{uuid.uuid4().hex[:6]}", f"g-{uuid.uuid4().hex}")
    yield member
    member._consumer.close()


async def test_a_message_that_fails_alone_is_skipped_and_the_rest_handled(
    member: BatchConsumer,
) -> None:
    handled: list[str] = []

    async def handle(batch: list[str]) -> None:
        if "poison" in batch:
            raise AttributeError("'list' object has no attribute 'get'")
        handled.extend(batch)

    skipped = metrics.SKIPPED.labels(member.group)
    before = skipped._value.get()
    batch = ["a", "b", "poison", "c", "d", "e"]
    assert (await member._handle(asyncio.Event(), handle, batch))[0]
    assert sorted(handled) == ["a", "b", "c", "d", "e"]  # each once: good halves succeed
    assert skipped._value.get() == before + 1
    assert member.tally.skipped == 1
    assert member.tally.failed >= consumer_module.POISON_ATTEMPTS


async def test_an_outage_is_waited_out_not_split(member: BatchConsumer) -> None:
    calls: list[int] = []

    async def handle(batch: list[str]) -> None:
        calls.append(len(batch))
        raise RedisConnectionError("Connection refused")

    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.5, stop.set)
    assert not (await member._handle(stop, handle, ["a", "b", "c", "d"]))[0]
    assert len(calls) > consumer_module.POISON_ATTEMPTS
    assert set(calls) == {4}  # the whole batch every time: nothing set aside
    assert (member.tally.failed, member.tally.retried, member.tally.skipped) == (len(calls), 0, 0)


async def test_a_batch_handled_at_a_later_attempt_counts_as_retried(
    member: BatchConsumer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consumer_module, "RETRY_FIRST_SECONDS", 0.01)
    calls: list[int] = []

    async def handle(batch: list[str]) -> None:
        calls.append(len(batch))
        if len(calls) == 1:
            raise RedisConnectionError("Connection refused")

    assert (await member._handle(asyncio.Event(), handle, ["a", "b"]))[0]
    assert (member.tally.failed, member.tally.retried, member.tally.skipped) == (1, 1, 0)
    assert str(member.tally) == "0 done, 1 failed, 1 retried, 0 skipped"
