"""``frolic bench reveal``: how late results reach players' sockets, measured at the client.

A ``frolic serve --role ws`` process holds ``sockets`` connections; ``reveals`` final
results are published with revealAt spread over ``spread`` seconds; each socket records
when each of its results arrives. Lateness is arrival minus revealAt, on one machine clock.
"""

from __future__ import annotations

import asyncio
import gc
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import websockets
from confluent_kafka import Producer

from frolic import topics
from frolic.auth.tokens import mint_player_token
from frolic.bench.cluster import running
from frolic.config import Settings
from frolic.playlog.messages import Final, encode

LEAD_SECONDS = 2.0  # between publishing and the first revealAt


async def _measure(settings: Settings, url: str, sockets: int, reveals: int,
                   spread: float) -> dict[str, Any]:  # fmt: skip
    users = [f"bench-{i}-{uuid.uuid4().hex[:6]}" for i in range(sockets)]
    connections = []
    for user in users:
        socket = await websockets.connect(f"{url}/ws?token={mint_player_token(settings, user)}",
                                          max_queue=None)  # fmt: skip
        await socket.send("ping")
        await socket.recv()  # the pong: registered, and the listener has joined its group
        connections.append(socket)
    # The client is the instrument: a full collection of its 1000 connections would pause
    # it and count as lateness, so it collects nothing while it measures.
    gc.collect()
    gc.freeze()
    gc.disable()
    start = time.time() + LEAD_SECONDS
    finals = [
        Final(str(uuid.uuid4()), 0, users[i % sockets], start + spread * i / reveals, "WIN", 1, "B")
        for i in range(reveals)
    ]
    due = {f.play_id: f.reveal_at for f in finals}
    producer = Producer(topics.client_config(settings, **{"linger.ms": 1}))
    for final in finals:
        producer.produce(settings.final_topic, encode(final), final.user.encode())
    producer.flush(30)
    late: list[float] = []

    async def read(socket: websockets.ClientConnection, count: int) -> None:
        for _ in range(count):
            message = orjson.loads(await socket.recv())
            late.append((time.time() - due[message["playId"]]) * 1000)

    counts = [reveals // sockets + (1 if i < reveals % sockets else 0) for i in range(sockets)]
    await asyncio.wait_for(
        asyncio.gather(*(read(s, n) for s, n in zip(connections, counts, strict=True))),
        LEAD_SECONDS + spread + 30,
    )
    gc.enable()
    gc.unfreeze()
    for socket in connections:
        await socket.close()
    late.sort()

    def pct(q: float) -> float:
        return round(late[min(len(late) - 1, int(q / 100 * len(late)))], 2)

    return {
        "reveal_late_p50_ms": pct(50), "reveal_late_p99_ms": pct(99),
        "reveal_late_max_ms": round(late[-1], 2), "early": sum(1 for x in late if x < 0),
        "sockets": sockets, "reveals": reveals, "spread_s": spread,
    }  # fmt: skip


def measure(settings: Settings, state: Path, *, sockets: int, reveals: int,
            spread: float) -> dict[str, Any]:  # fmt: skip
    settings = settings.model_copy(update={"final_topic": f"bench-final-{uuid.uuid4().hex[:6]}"})
    topics.ensure_topics(topics.admin_client(settings), settings)
    with running(settings, state, [["ws"]]) as cluster:
        url = cluster.roles[0].url.replace("http://", "ws://")
        return asyncio.run(_measure(settings, url, sockets, reveals, spread))
