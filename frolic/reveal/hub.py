"""This process's reveal sockets, and the clock that sends each final result at its ``revealAt``.

Every ws process hears every final result (``BroadcastListener``); the hub sends those of the
players connected *here* and ignores the rest. A player may hold several sockets (tabs,
devices): each gets each result once.

A result that is not there at its ``revealAt`` is not guessed. The hub also hears each play
as it is accepted (``expect``); if the play's result has not arrived by its ``revealAt``,
its sockets get ``{"type": "pending", "playId", "retryAfter"}`` and the play is *overdue*:
its result is sent the moment it arrives, from the final topic or from PostgreSQL
(``overdue()`` lists what the reveal service looks up there, e.g. a final the broker lost).

Nothing here waits on a client. A socket has an outbox (a bounded queue) drained by its own
writer task, so a slow reader delays only itself; one that falls ``OUTBOX_SIZE`` messages
behind is closed with 1013 (try again later) and reconnects to catch up from PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import orjson

from frolic import metrics
from frolic.clock import Clock
from frolic.playlog.messages import Final, PlayEvent
from frolic.reveal.freezer import Freezer

log = logging.getLogger(__name__)

OUTBOX_SIZE = 256
"""Messages a socket may have queued before it is deemed too slow and closed."""
SEEN_PER_SOCKET = 4096
"""Play ids remembered per socket to never send one twice; the oldest are forgotten first."""
CLOSE_TIMEOUT = 5.0
TIMER_SLACK = 0.001
"""Added to every reveal timer. uvloop counts timers in whole milliseconds against a clock
read once per loop turn, so a timer may fire up to a millisecond early; re-armed for the
sub-millisecond rest, it rounds to zero and fires at once, again and again: a busy loop of
~70 turns a reveal, a whole core at 1,000 reveals a second, measured. One millisecond late
is the price of firing once."""
TRY_AGAIN_LATER = 1013
PENDING_RETRY_SECONDS = 5
"""``retryAfter`` of a pending message: when a client polling ``GET /plays/{id}`` might look
again. A socket needs not: the result follows on its own."""
OVERDUE_FORGET_SECONDS = 600.0
"""An overdue play is looked for this long after its ``revealAt`` (as long as a reconnecting
socket is sent its recent plays), then forgotten: the next connect reads it from history."""


class Socket(Protocol):
    """What the hub needs of a socket; Starlette's ``WebSocket`` is one."""

    async def send_text(self, data: str) -> None: ...

    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


class Lateness:
    """The last ``capacity`` reveal latenesses (send time minus ``revealAt``, in ms)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._samples: deque[float] = deque(maxlen=capacity)
        self.count = 0

    def record(self, ms: float) -> None:
        self._samples.append(ms)
        self.count += 1

    def percentile(self, p: float) -> float | None:
        """Nearest-rank percentile of the samples held, ``None`` before the first."""
        if not self._samples:
            return None
        ordered = sorted(self._samples)
        rank = math.ceil(p / 100 * len(ordered))
        return ordered[min(max(rank, 1), len(ordered)) - 1]

    def __len__(self) -> int:
        return len(self._samples)


class Outbox:
    """One socket's queue of messages and the task that writes them, in order."""

    def __init__(self, hub: Hub, user: str, socket: Socket) -> None:
        self.user = user
        self.socket = socket
        self.closed = False
        self._hub = hub
        self._queue: asyncio.Queue[tuple[str, float | None]] = asyncio.Queue(OUTBOX_SIZE)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._writer: asyncio.Task[None] | None = asyncio.get_running_loop().create_task(
            self._write(), name=f"reveal-writer-{user}"
        )

    def push(self, text: str, reveal_at: float | None = None) -> None:
        """Queue ``text``; ``reveal_at`` (a result's) makes its lateness be recorded."""
        if self.closed:
            return
        try:
            self._queue.put_nowait((text, reveal_at))
        except asyncio.QueueFull:
            log.warning("closing a socket of %s: %d messages behind", self.user, OUTBOX_SIZE)
            self._hub.drop(self, close_code=TRY_AGAIN_LATER, reason="too far behind")

    def has(self, play_id: str) -> bool:
        """Whether ``play_id``'s result was offered to this socket already."""
        return play_id in self._seen

    def claim(self, play_id: str) -> bool:
        """True the first time a play is offered to this socket, False ever after."""
        if play_id in self._seen:
            return False
        self._seen[play_id] = None
        if len(self._seen) > SEEN_PER_SOCKET:
            self._seen.popitem(last=False)
        return True

    def stop(self) -> None:
        self.closed = True
        # A cancelled task keeps its CancelledError, whose traceback holds ``_write``'s
        # frame, which holds this outbox: were the outbox still holding the task, the
        # socket's every object would wait for a full collection (``freezer.py``).
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.cancel()

    async def _write(self) -> None:
        while True:
            text, reveal_at = await self._queue.get()
            try:
                await self.socket.send_text(text)
            except Exception as exc:  # a socket that cannot take a send is gone
                log.info("dropping a socket of %s: send failed (%r)", self.user, exc)
                self._hub.drop(self)
                return
            self._hub.sent += 1
            if reveal_at is not None:
                late = self._hub.clock() - reveal_at
                self._hub.lateness.record(late * 1000)
                metrics.REVEAL_LATENESS.observe(late)


class Hub:
    """This process's sockets by player external id, and the reveals scheduled for them."""

    def __init__(self, freezer: Freezer | None = None, clock: Clock = time.time) -> None:
        self.clock = clock
        self.lateness = Lateness()
        self.sent = 0  # messages written to sockets, pongs included
        self.held = 0  # sockets, all players together
        self._freezer = freezer
        self._sockets: dict[str, dict[int, Outbox]] = {}
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._timer_keys = itertools.count()
        self._closing: set[asyncio.Task[None]] = set()
        self._owed: dict[str, _Owed] = {}  # plays accepted, result not here yet

    def connect(self, user: str, socket: Socket) -> Outbox:
        """Hold ``socket`` for ``user``; call from the event loop that serves it."""
        outbox = Outbox(self, user, socket)
        self._sockets.setdefault(user, {})[id(socket)] = outbox
        self.held += 1
        if self._freezer is not None:
            self._freezer.held()
        return outbox

    def disconnect(self, user: str, socket: Socket) -> None:
        outbox = self._sockets.get(user, {}).get(id(socket))
        if outbox is not None:
            self.drop(outbox)

    def drop(self, outbox: Outbox, *, close_code: int | None = None, reason: str = "") -> None:
        """Forget a socket; with ``close_code``, also close it (in the background)."""
        held = self._sockets.get(outbox.user)
        if held is not None and held.get(id(outbox.socket)) is outbox:
            del held[id(outbox.socket)]
            if not held:
                del self._sockets[outbox.user]
            self.held -= 1
            if self._freezer is not None:
                self._freezer.dropped(self.held)
        if outbox.closed:
            return
        outbox.stop()
        if close_code is not None:
            task = asyncio.get_running_loop().create_task(_close(outbox.socket, close_code, reason))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    def connected(self, user: str) -> int:
        """How many sockets ``user`` holds on this process."""
        return len(self._sockets.get(user, ()))

    def schedule_many(self, finals: Iterable[Final]) -> None:
        for final in finals:
            self.schedule(final)

    def expect_many(self, plays: Iterable[PlayEvent]) -> None:
        for play in plays:
            self.expect(play.play_id, play.user, play.reveal_at)

    def expect(self, play_id: str, user: str, reveal_at: float) -> None:
        """A play of ``user``'s was accepted: if its result is not here by ``reveal_at``,
        tell their sockets it is pending (once), and count the play overdue."""
        held = self._sockets.get(user)
        if not held or play_id in self._owed:
            return  # nobody here to tell, or expected already (a re-drive)
        if all(outbox.has(play_id) for outbox in held.values()):
            return  # its result is here already
        owed = self._owed[play_id] = _Owed(user, reveal_at)
        delay = reveal_at - self.clock()
        if delay <= 0:
            self._due(play_id)
            return

        def due() -> None:
            owed.timer = None
            self._due(play_id)

        owed.timer = self._call_later(delay + TIMER_SLACK, due)

    def overdue(self) -> list[str]:
        """Plays told pending whose player is still connected here; forgets the rest."""
        now = self.clock()
        for play_id, owed in list(self._owed.items()):
            gone = owed.user not in self._sockets
            if owed.pending and (gone or now - owed.reveal_at > OVERDUE_FORGET_SECONDS):
                del self._owed[play_id]
        return [play_id for play_id, owed in self._owed.items() if owed.pending]

    def _due(self, play_id: str) -> None:
        owed = self._owed.get(play_id)
        held = self._sockets.get(owed.user) if owed is not None else None
        if owed is None or not held:
            self._owed.pop(play_id, None)
            return
        owed.pending = True
        text = orjson.dumps(
            {"type": "pending", "playId": play_id, "retryAfter": PENDING_RETRY_SECONDS}
        ).decode()
        for outbox in list(held.values()):
            if not outbox.has(play_id):
                outbox.push(text)

    def schedule(self, final: Final, *, only: Outbox | None = None, replay: bool = False) -> None:
        """Send ``final.reveal()`` at ``final.reveal_at`` (at once if due) to the player's
        sockets here that have not had it: all of them, or ``only`` that one.

        ``replay`` marks a result fetched on reconnect: one already due then is a catch-up,
        not a late reveal, so its lateness is not recorded.
        """
        owed = self._owed.pop(final.play_id, None)
        if owed is not None and owed.timer is not None:
            self._timers.pop(owed.timer).cancel()
        held = self._sockets.get(final.user)
        if not held:
            return
        candidates = held.values() if only is None else [only] if not only.closed else []
        targets = [outbox for outbox in candidates if outbox.claim(final.play_id)]
        if not targets:
            return
        delay = final.reveal_at - self.clock()
        if delay <= 0:
            self._send(final, targets, measure=not replay)
            return
        self._call_later(delay + TIMER_SLACK, lambda: self._fire(final, targets))

    def _fire(self, final: Final, targets: list[Outbox]) -> None:
        early = final.reveal_at - self.clock()
        if early > 0:  # a coarse timer may still fire a hair early: never reveal early
            self._call_later(early + TIMER_SLACK, lambda: self._fire(final, targets))
            return
        self._send(final, targets, measure=True)

    def _call_later(self, delay: float, callback: Callable[[], None]) -> int:
        """Call ``callback`` in ``delay`` seconds unless ``close`` comes first; the timer's
        key in ``_timers``.

        The callback finds its timer by key, not by handle: a handle holding a callback
        that holds the handle is a cycle, which asyncio's own loop (uvloop does not) leaves
        for a full collection once the timer fired, with every socket the reveal targeted.
        """
        key = next(self._timer_keys)

        def fire() -> None:
            del self._timers[key]
            callback()

        # Wall clock to the loop's monotonic clock, once; the timer is immune to clock steps.
        self._timers[key] = asyncio.get_running_loop().call_later(delay, fire)
        return key

    def _send(self, final: Final, targets: list[Outbox], *, measure: bool) -> None:
        text = orjson.dumps(final.reveal()).decode()
        reveal_at = final.reveal_at if measure else None
        for outbox in targets:
            if not outbox.closed:
                outbox.push(text, reveal_at)

    async def close(self) -> None:
        """Cancel every pending reveal and writer; the sockets themselves are the server's."""
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self._owed.clear()
        for held in list(self._sockets.values()):
            for outbox in list(held.values()):
                self.drop(outbox)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


@dataclass
class _Owed:
    """A play whose result this process has not had yet."""

    user: str
    reveal_at: float
    timer: int | None = None  # its key in the hub's timers, until its revealAt
    pending: bool = False  # told pending: overdue


async def _close(socket: Socket, code: int, reason: str) -> None:
    # A client that does not read may never let the close frame out; the server's keepalive
    # ping ends that connection later, so give up here rather than wait for it.
    with contextlib.suppress(Exception):
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await socket.close(code, reason)
