"""Measures a turnover of a ws process's sockets: not a test, a script (docs/performance.md).

A reveal server (the tests' app: uvicorn, uvloop, the ws role on an embedded stack) runs in
a thread here; players connect from a child process, all hold, then all leave at once.
Printed per round: objects frozen per held socket, the server thread's CPU per disconnect,
the full collection a thaw would run then (objects found, ms) and the process's RSS.

    python -m tests.reveal.turnover_measure --sockets 5000 --rounds 3
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from frolic import topics
from frolic.auth.tokens import mint_player_token
from frolic.config import Settings
from frolic.db import migrate
from frolic.stack import Stack
from tests.reveal.conftest import reveal_app
from tests.support.serving import serving

PLAYERS = """
import asyncio, resource, sys, orjson
from websockets.asyncio.client import connect
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
async def main(url, tokens):
    gate = asyncio.Semaphore(50)
    async def join(token):
        async with gate:
            ws = await connect(url, additional_headers={"Authorization": f"Bearer {token}"})
            await ws.send("ping")
            while orjson.loads(await ws.recv()) != {"type": "pong"}:
                pass
            return ws
    sockets = await asyncio.gather(*(join(t) for t in tokens))
    print("held", flush=True)
    sys.stdin.readline()
    for ws in sockets[1::2]:
        ws.transport.abort()
    await asyncio.gather(*(ws.close() for ws in sockets[::2]))
    print("left", flush=True)
url = sys.argv[1]
asyncio.run(main(url, orjson.loads(sys.stdin.readline())))
"""


def thread_cpu(native_id: int) -> float:
    fields = Path(f"/proc/self/task/{native_id}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def turnover(url: str, tokens: list[str], held: Callable[[], int], server_id: int) -> None:
    before = gc.get_freeze_count()
    players = subprocess.Popen(
        [sys.executable, "-c", PLAYERS, url],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert players.stdin is not None
    assert players.stdout is not None
    players.stdin.write(orjson.dumps(tokens).decode() + "\n")
    players.stdin.flush()
    assert players.stdout.readline().strip() == "held"
    while held() < len(tokens):
        time.sleep(0.05)
    gc.freeze()
    frozen = gc.get_freeze_count()
    cpu = thread_cpu(server_id)
    players.stdin.write("\n")
    players.stdin.flush()
    assert players.stdout.readline().strip() == "left"
    players.wait(60)
    while held():
        time.sleep(0.01)
    time.sleep(0.5)
    cpu = thread_cpu(server_id) - cpu
    gc.unfreeze()
    started = time.perf_counter()
    found = gc.collect()
    took = time.perf_counter() - started
    gc.freeze()
    n = len(tokens)
    print(
        f"{n} sockets: frozen {frozen} ({(frozen - before) / n:.0f} a socket held); "
        f"disconnect CPU {cpu * 1000 / n:.3f} ms a socket; "
        f"full collection after: {found} objects found ({found / n:.1f} a socket) "
        f"in {took * 1000:.0f} ms; RSS {rss_mb():.0f} MB",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="turnover-"))
    with Stack(Settings(state_dir=state)) as endpoints:
        migrate.upgrade(endpoints.database_url)
        settings = endpoints.apply(Settings(state_dir=state)).with_local_secrets()
        topics.ensure_topics(topics.admin_client(settings), settings)
        app = reveal_app(settings)
        with serving(app, name="reveal-server") as address:
            server = next(t for t in threading.enumerate() if t.name == "reveal-server")
            assert server.native_id is not None
            hub = app.state.reveal.hub
            for round_ in range(args.rounds):
                users = [f"player-{round_}-{n}" for n in range(args.sockets)]
                tokens = [mint_player_token(settings, user) for user in users]
                turnover(f"ws://{address}/ws", tokens, lambda: hub.held, server.native_id)


if __name__ == "__main__":
    main()
