"""The freezer alone: sockets held are frozen, and a turnover of them thaws everything."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from frolic.reveal.freezer import THAW_AFTER_AT_LEAST, Freezer
from frolic.reveal.hub import Hub
from tests.reveal.test_hub import FakeSocket


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_held_socket_is_frozen_with_everything_alive() -> None:
    socket = FakeSocket()  # tracked by the collector, like every socket's objects
    Freezer().held()
    assert gc.get_freeze_count() > 0
    assert not any(o is socket for o in gc.get_objects())  # out of every collection


def test_everything_thaws_once_as_many_sockets_were_dropped_as_are_held() -> None:
    freezer = Freezer()
    held = THAW_AFTER_AT_LEAST + 10
    freezer.held()
    for _ in range(held - 1):
        freezer.dropped(still_held=held)
    assert gc.get_freeze_count() > 0
    freezer.dropped(still_held=held)
    assert gc.get_freeze_count() == 0
    assert freezer.dropped_since_thaw == 0


def test_a_few_dropped_sockets_never_thaw() -> None:
    freezer = Freezer()
    freezer.held()
    for _ in range(THAW_AFTER_AT_LEAST - 1):
        freezer.dropped(still_held=0)
    assert gc.get_freeze_count() > 0


async def test_the_hub_freezes_on_connect_and_counts_its_sockets() -> None:
    hub = Hub(Freezer())
    one, two = FakeSocket(), FakeSocket()
    hub.connect("ann", one)
    hub.connect("bob", two)
    assert gc.get_freeze_count() > 0
    assert hub.held == 2
    hub.disconnect("ann", one)
    hub.disconnect("ann", one)  # twice counts once
    assert hub.held == 1
    await hub.close()
    assert hub.held == 0
