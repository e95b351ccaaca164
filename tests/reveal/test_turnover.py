"""A dropped socket is freed by reference counting alone: no cyclic garbage is left behind
for a full collection to find (``frolic/reveal/freezer.py`` counts on it)."""

from __future__ import annotations

import gc
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from frolic.reveal.hub import Hub
from tests.reveal.conftest import Server, final_for, player
from tests.reveal.test_hub import FakeSocket, settle

SOCKETS = 200
GARBAGE_PER_SOCKET = 5
"""Cyclic garbage objects a dropped socket may leave: 0 measured; ~122 before the fixes
(the writer task's cancellation ~100, uvicorn's HTTP protocol after the upgrade ~25)."""
PLAYERS = Path(__file__).with_name("players.py")


@pytest.fixture
def saving_garbage() -> Iterator[list[object]]:
    """Every object found unreachable from now on, frozen ones included, kept for a look."""
    gc.unfreeze()
    gc.collect()
    gc.garbage.clear()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield gc.garbage
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def test_dropped_sockets_leave_no_cyclic_garbage(
    server: Server, saving_garbage: list[object]
) -> None:
    hub = server.reveal.hub
    tokens = [server.token(player()) for _ in range(SOCKETS)]
    subprocess.run(
        [sys.executable, str(PLAYERS), server.url],
        input=orjson.dumps(tokens), check=True, timeout=60,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while hub.held:
        assert time.monotonic() < deadline, f"{hub.held} sockets still held"
        time.sleep(0.05)
    time.sleep(0.2)  # uvicorn's last callbacks of the dropped connections
    gc.unfreeze()  # each socket held froze everything alive then
    gc.collect()
    kinds = Counter(type(o).__qualname__ for o in saving_garbage)
    assert len(saving_garbage) < SOCKETS * GARBAGE_PER_SOCKET, kinds.most_common(12)


async def test_reveals_and_pendings_leave_no_cyclic_garbage(saving_garbage: list[object]) -> None:
    """On asyncio's own loop a fired timer keeps its callback, so the hub's callbacks must
    not hold their timers (uvloop, under the server above, drops it and would not tell)."""
    hub = Hub()
    players = [(f"ann-{n}", FakeSocket()) for n in range(SOCKETS)]
    for n, (user, socket) in enumerate(players):
        hub.connect(user, socket)
        hub.schedule(final_for(user, time.time() + 0.01))
        hub.expect(f"owed-{n}", user, time.time() + 0.01)  # its result never comes
    await settle(0.1)
    for user, socket in players:
        assert [m["type"] for _, m in socket.sent] == ["result", "pending"]
        hub.disconnect(user, socket)
    await settle()
    gc.collect()
    kinds = Counter(type(o).__qualname__ for o in saving_garbage)
    assert len(saving_garbage) < SOCKETS * GARBAGE_PER_SOCKET, kinds.most_common(12)
