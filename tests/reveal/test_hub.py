"""The hub alone, with sockets that record what they are sent."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest
import uvloop

from frolic.reveal.history import MAX_RECENT
from frolic.reveal.hub import OUTBOX_SIZE, PENDING_RETRY_SECONDS, Hub, Lateness
from tests.reveal.conftest import final_for


class FakeSocket:
    def __init__(self, *, fail: bool = False, stall: bool = False) -> None:
        self.sent: list[tuple[float, dict[str, object]]] = []
        self.closed: tuple[int, str | None] | None = None
        self.fail = fail
        self.stall = asyncio.Event() if stall else None

    async def send_text(self, data: str) -> None:
        if self.fail:
            raise ConnectionResetError("gone")
        if self.stall is not None:
            await self.stall.wait()
        self.sent.append((time.time(), orjson.loads(data)))

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed = (code, reason)


async def settle(seconds: float = 0.02) -> None:
    await asyncio.sleep(seconds)


async def test_a_result_goes_to_every_socket_of_its_player_at_reveal_at() -> None:
    hub = Hub()
    one, two, other = FakeSocket(), FakeSocket(), FakeSocket()
    hub.connect("ann", one)
    hub.connect("ann", two)
    hub.connect("bob", other)
    final = final_for("ann", time.time() + 0.1)
    hub.schedule(final)
    hub.schedule(final)  # a redelivered final
    await settle(0.05)
    assert one.sent == two.sent == []  # not before revealAt
    await settle(0.1)
    for socket in (one, two):
        [(at, message)] = socket.sent
        assert message == final.reveal()
        assert 0 <= at - final.reveal_at < 0.02
    assert other.sent == []
    assert hub.lateness.count == 2
    await hub.close()


async def test_a_replayed_result_already_due_is_sent_at_once_and_not_counted_late() -> None:
    hub = Hub()
    socket = FakeSocket()
    outbox = hub.connect("ann", socket)
    past = final_for("ann", time.time() - 60)
    hub.schedule(past, only=outbox, replay=True)
    hub.schedule(past)  # the same play from the topic: already sent to this socket
    await settle()
    assert [m for _, m in socket.sent] == [past.reveal()]
    assert hub.lateness.count == 0
    await hub.close()


async def test_results_for_players_not_here_are_ignored() -> None:
    hub = Hub()
    hub.schedule(final_for("nobody", time.time()))
    await settle()
    assert hub.sent == 0
    await hub.close()


async def test_a_socket_that_fails_a_send_is_dropped() -> None:
    hub = Hub()
    broken, fine = FakeSocket(fail=True), FakeSocket()
    hub.connect("ann", broken)
    hub.connect("ann", fine)
    hub.schedule(final_for("ann", time.time()))
    await settle()
    assert hub.connected("ann") == 1
    assert len(fine.sent) == 1
    await hub.close()


async def test_a_client_too_far_behind_is_closed_with_1013() -> None:
    hub = Hub()
    slow, fine = FakeSocket(stall=True), FakeSocket()
    hub.connect("ann", slow)
    hub.connect("ann", fine)
    now = time.time()
    for _ in range(OUTBOX_SIZE // 8 + 1):  # bursts a live reader keeps up with
        hub.schedule_many(final_for("ann", now) for _ in range(8))
        await asyncio.sleep(0)
    await settle()
    assert slow.closed == (1013, "too far behind")
    assert hub.connected("ann") == 1
    assert len(fine.sent) == (OUTBOX_SIZE // 8 + 1) * 8
    await hub.close()


async def test_disconnect_cancels_what_was_scheduled_for_the_socket() -> None:
    hub = Hub()
    socket = FakeSocket()
    hub.connect("ann", socket)
    hub.schedule(final_for("ann", time.time() + 0.05))
    hub.disconnect("ann", socket)
    hub.disconnect("ann", socket)  # twice is harmless
    await settle(0.1)
    assert socket.sent == []
    await hub.close()


def test_a_reveal_timer_fires_once_or_twice_on_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    # uvloop (what ws processes run) rounds timers to whole milliseconds and may fire one
    # early; re-armed for the sub-millisecond rest, a timer used to fire ~70 times a reveal.
    fired = 0
    fire = Hub._fire

    def counted(hub: Hub, *args: object, **kwargs: object) -> None:
        nonlocal fired
        fired += 1
        fire(hub, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Hub, "_fire", counted)
    socket = FakeSocket()
    reveals = 20
    due: dict[object, float] = {}

    async def reveal() -> None:
        hub = Hub()
        hub.connect("ann", socket)
        for i in range(reveals):
            final = final_for("ann", time.time() + 0.01 + i * 0.00037)
            due[final.play_id] = final.reveal_at
            hub.schedule(final)
        while len(socket.sent) < reveals:
            await settle()
        await hub.close()

    uvloop.run(reveal())
    assert all(at >= due[message["playId"]] for at, message in socket.sent)  # never early
    assert fired <= 2 * reveals


def test_a_reconnect_replay_fits_in_an_outbox() -> None:
    # A socket is sent up to MAX_RECENT results at once on connect; that must not be
    # mistaken for a reader too far behind.
    assert MAX_RECENT < OUTBOX_SIZE


def test_lateness_percentiles() -> None:
    lateness = Lateness(capacity=100)
    assert lateness.percentile(99) is None
    for ms in range(1, 201):
        lateness.record(float(ms))
    assert len(lateness) == 100  # bounded: the latest 100 are kept
    assert lateness.count == 200
    assert lateness.percentile(50) == 150.0
    assert lateness.percentile(99) == 199.0
    assert lateness.percentile(100) == 200.0
    assert lateness.percentile(0) == pytest.approx(101.0)


async def test_a_result_missing_at_reveal_at_is_told_pending_then_sent_once_it_comes() -> None:
    hub = Hub()
    ann, bob = FakeSocket(), FakeSocket()
    hub.connect("ann", ann)
    hub.connect("bob", bob)
    on_time = final_for("ann", time.time() + 0.05)
    late = final_for("ann", time.time() + 0.05)
    for final in (on_time, late):
        hub.expect(final.play_id, "ann", final.reveal_at)
    hub.expect(late.play_id, "ann", late.reveal_at)  # a re-driven play is expected once
    hub.schedule(on_time)  # its result comes before revealAt: no pending for it
    await settle(0.1)
    pending = {"type": "pending", "playId": late.play_id, "retryAfter": PENDING_RETRY_SECONDS}
    assert [m for _, m in ann.sent] == [on_time.reveal(), pending]
    assert hub.overdue() == [late.play_id]  # for the reveal service to look up
    hub.schedule(late)  # recorded at last
    await settle()
    assert [m for _, m in ann.sent][2:] == [late.reveal()]
    assert hub.overdue() == []
    assert bob.sent == []
    await hub.close()


async def test_a_play_already_revealed_or_of_nobody_here_is_not_told_pending() -> None:
    hub = Hub()
    ann = FakeSocket()
    hub.connect("ann", ann)
    revealed = final_for("ann", time.time() - 1)
    hub.schedule(revealed)
    hub.expect(revealed.play_id, "ann", revealed.reveal_at)  # a re-drive after its reveal
    hub.expect("elsewhere", "zoe", time.time() - 1)  # zoe holds no socket here
    await settle()
    assert [m for _, m in ann.sent] == [revealed.reveal()]
    assert hub.overdue() == []
    await hub.close()


async def test_an_overdue_play_is_forgotten_once_its_player_leaves() -> None:
    hub = Hub()
    ann = FakeSocket()
    hub.connect("ann", ann)
    hub.expect("p1", "ann", time.time() - 1)  # due already: pending at once
    await settle()
    assert [m["type"] for _, m in ann.sent] == ["pending"]
    assert hub.overdue() == ["p1"]
    hub.disconnect("ann", ann)
    assert hub.overdue() == []
    await hub.close()


async def test_the_hub_reveals_by_the_clock_it_is_given() -> None:
    """A ws process whose clock runs 60 s ahead reveals a result due in 30 s at once (early,
    as clock_skew's chaos run shows); one 60 s behind holds a result 30 s past due."""
    ahead, behind = Hub(clock=lambda: time.time() + 60), Hub(clock=lambda: time.time() - 60)
    early, held = FakeSocket(), FakeSocket()
    ahead.connect("ann", early)
    behind.connect("ann", held)
    ahead.schedule(final_for("ann", time.time() + 30))
    behind.schedule(final_for("ann", time.time() - 30))
    await settle(0.05)
    assert len(early.sent) == 1
    assert held.sent == []
    await ahead.close()
    await behind.close()
