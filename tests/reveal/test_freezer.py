"""The freezer alone: sockets held are frozen; a thaw comes only for garbage they do not
explain."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from frolic.reveal import freezer as freezer_module
from frolic.reveal.freezer import (
    CHECK_AFTER_AT_LEAST,
    SOCKET_OBJECTS,
    THAW_AT_LEAST,
    Freezer,
    worth_thawing,
)
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


def test_a_thaw_is_worth_it_only_once_half_of_what_is_frozen_is_unexplained() -> None:
    held = 1000
    explained = 300_000 + held * SOCKET_OBJECTS
    assert not worth_thawing(explained, floor=300_000, held=held)
    assert not worth_thawing(2 * explained - 1, floor=300_000, held=held)
    assert worth_thawing(2 * explained, floor=300_000, held=held)
    assert not worth_thawing(THAW_AT_LEAST - 1, floor=0, held=0)  # not for so little
    assert worth_thawing(THAW_AT_LEAST, floor=0, held=0)


def test_a_turnover_of_sockets_that_left_no_garbage_never_thaws() -> None:
    freezer = Freezer()
    freezer.start()
    for _ in range(3 * CHECK_AFTER_AT_LEAST):
        freezer.held()
        freezer.dropped(still_held=0)
    assert freezer.thaws == 0
    assert gc.get_freeze_count() > 0


def test_the_frozen_count_is_looked_at_once_per_turnover_against_the_peak_held(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    looks: list[int] = []

    def worth(frozen: int, floor: int, held: int) -> bool:
        looks.append(held)
        return True

    monkeypatch.setattr(freezer_module, "worth_thawing", worth)
    freezer = Freezer()
    held = 2 * CHECK_AFTER_AT_LEAST
    for n in range(CHECK_AFTER_AT_LEAST - 1):  # a mass disconnect
        freezer.dropped(still_held=held - 1 - n)
    assert looks == []
    freezer.dropped(still_held=CHECK_AFTER_AT_LEAST)
    # The dropped sockets' objects may not be freed yet: they are counted as held.
    assert looks == [held]
    assert freezer.thaws == 1
    assert freezer.dropped_since_check == 0


def test_a_thaw_collects_frozen_garbage_and_freezes_what_lives() -> None:
    freezer = Freezer()
    freezer.start()
    cycles: list[list[object]] = [[] for _ in range(1000)]
    for cycle in cycles:
        cycle.append(cycle)
    alive = FakeSocket()
    del cycles, cycle
    freezer.held()
    assert gc.collect() == 0  # frozen: out of reach
    assert freezer.thaw(still_held=1) >= 1000
    assert freezer.thaws == 1
    assert not any(o is alive for o in gc.get_objects())  # frozen again


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
