"""``frolic bench reveal``: how late results reach players' sockets, measured at the client.

A ``frolic serve --role ws`` process holds ``sockets`` connections; ``reveals`` final
results are published with revealAt spread over ``spread`` seconds; each socket records
when each of its results arrives. Lateness is arrival minus revealAt, on one machine clock.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import time
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import orjson
import psutil
import websockets
from confluent_kafka import Producer
from prometheus_client.parser import text_string_to_metric_families

from frolic import topics
from frolic.auth.tokens import mint_player_token
from frolic.config import Settings
from frolic.playlog.messages import Final, encode
from frolic.reveal.service import open_files_up_to_the_hard_limit
from frolic_bench.cluster import Role, running
from frolic_bench.cpu import CpuMeter, CpuTally

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


# ``frolic bench ws``: how many sockets one ws process holds while reveals stay on time.
# Sockets are held by several client processes (one Python process reading 10k+ sockets
# on a shared core would measure its own backlog), each returning when each of its results
# arrived; lateness is computed here, against the revealAt it published.

TARGET_P99_MS = 20.0
CONNECTING_AT_ONCE = 100


def ramp(
    settings: Settings, state: Path, *, steps: Sequence[int], reveals: int, spread: float,
    clients: int = 2, progress: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:  # fmt: skip
    """Run ``steps`` socket counts in order against one ws process, stopping after the
    first whose reveal p99 is ``TARGET_P99_MS`` or more (or whose sockets did not all
    connect); ``ws_connections`` is the largest count that stayed on time."""
    settings = settings.model_copy(update={"final_topic": f"bench-final-{uuid.uuid4().hex[:6]}"})
    topics.ensure_topics(topics.admin_client(settings), settings)
    held = 0
    done: list[dict[str, Any]] = []
    with running(settings, state, [["ws"]]) as cluster:
        for sockets in steps:
            step = _step(settings, cluster.roles[0], sockets=sockets, reveals=reveals,
                         spread=spread, clients=clients)  # fmt: skip
            done.append(step)
            progress(f"{sockets:,} sockets: {step}")
            if step["connected"] < sockets or step["reveal_late_p99_ms"] >= TARGET_P99_MS:
                break
            held = sockets
    return {
        "ws_connections": held, "ws_target_p99_ms": TARGET_P99_MS,
        "ws_reveals_per_step": reveals, "ws_spread_s": spread, "ws_client_processes": clients,
        "ws_steps": done,
    }  # fmt: skip


def _step(settings: Settings, server: Role, *, sockets: int, reveals: int, spread: float,
          clients: int) -> dict[str, Any]:  # fmt: skip
    """One step of the ramp. Beside the clients' lateness, the figures that say where it
    comes from: the ws process's CPU and memory and its own count of sends more than
    ``TARGET_P99_MS`` late (from its /metrics), and the clients' CPU, over the reveals."""
    url = server.url.replace("http://", "ws://")
    tag = uuid.uuid4().hex[:6]
    users = [f"ws-{tag}-{i}" for i in range(sockets)]
    counts = [reveals // sockets + (1 if i < reveals % sockets else 0) for i in range(sockets)]
    context = multiprocessing.get_context("spawn")
    ready: multiprocessing.Queue[int] = context.Queue()
    results: multiprocessing.Queue[list[tuple[str, float]]] = context.Queue()
    # Every client holds its sockets until all have their results: a client that left as
    # soon as its own share arrived would drop thousands of sockets at once while the
    # others' reveals were due, and the ws process's work on those drops counted as lateness.
    release = context.Event()
    processes = []
    # Every ``clients``-th socket to each client: the results, published in socket order,
    # reach all clients alike (in halves, one client read them all at 10,000 sockets).
    for first in range(min(clients, sockets)):
        mine = [(mint_player_token(settings, users[i]), counts[i])
                for i in range(first, sockets, clients)]  # fmt: skip
        processes.append(context.Process(target=_hold, args=(url, mine, ready, results, release)))
    meter = CpuMeter()
    meter.add("ws", server.process.pid)
    for i, process in enumerate(processes):
        process.start()
        meter.add(f"client-{i}", process.pid)
    spent: dict[str, float] = {}
    sent = (0, 0)
    try:
        connected = sum(ready.get(timeout=600) for _ in processes)
        arrivals: list[tuple[str, float]] = []
        due: dict[str, float] = {}
        if connected == sockets:
            before, sent_before = meter.read(), _sent_late(server.url)
            due = _publish(settings, users, reveals, spread)
            for _ in processes:
                arrivals += results.get(timeout=LEAD_SECONDS + spread + 120)
            tally = CpuTally(frozenset(meter.processes))
            tally.add(before, meter.read(), reveals)
            spent = tally.seconds
            sent_after = _sent_late(server.url)
            sent = (sent_after[0] - sent_before[0], sent_after[1] - sent_before[1])
        rss = psutil.Process(server.process.pid).memory_info().rss
    finally:
        release.set()
        for process in processes:
            process.join(30)
            if process.is_alive():
                process.kill()
    late = sorted((at - due[play]) * 1000 for play, at in arrivals)

    def pct(q: float) -> float:
        return round(late[min(len(late) - 1, int(q / 100 * len(late)))], 2) if late else -1.0

    return {
        "sockets": sockets, "connected": connected, "reveals": reveals,
        "received": len(late), "early": sum(1 for x in late if x < 0),
        "reveal_late_p50_ms": pct(50), "reveal_late_p99_ms": pct(99),
        "reveal_late_max_ms": round(late[-1], 2) if late else -1.0,
        "ws_sent": sent[0], "ws_sent_late": sent[1], "ws_rss_mb": round(rss / 2**20),
        "ws_cpu_ms": round(spent.get("ws", 0) * 1000),
        "clients_cpu_ms": round(sum(v for k, v in spent.items() if k != "ws") * 1000),
    }  # fmt: skip


def _sent_late(url: str) -> tuple[int, int]:
    """The ws process's reveal sends so far, and how many of them were more than
    ``TARGET_P99_MS`` after revealAt (its ``frolic_reveal_lateness_seconds``)."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as answer:
        exposition = answer.read().decode()
    total = on_time = 0.0
    for family in text_string_to_metric_families(exposition):
        if family.name != "frolic_reveal_lateness_seconds":
            continue
        for sample in family.samples:
            if sample.name.endswith("_count"):
                total = sample.value
            elif sample.name.endswith("_bucket") and sample.labels.get("le") == str(
                TARGET_P99_MS / 1000
            ):
                on_time = sample.value
    return int(total), int(total - on_time)


def _publish(settings: Settings, users: list[str], reveals: int, spread: float) -> dict[str, float]:
    start = time.time() + LEAD_SECONDS
    finals = [
        Final(str(uuid.uuid4()), 0, users[i % len(users)], start + spread * i / reveals,
              "WIN", 1, "B")
        for i in range(reveals)
    ]  # fmt: skip
    producer = Producer(topics.client_config(settings, **{"linger.ms": 1}))
    for final in finals:
        producer.produce(settings.final_topic, encode(final), final.user.encode())
    producer.flush(30)
    return {f.play_id: f.reveal_at for f in finals}


def _hold(
    url: str, sockets: list[tuple[str, int]], ready: multiprocessing.Queue[int],
    results: multiprocessing.Queue[list[tuple[str, float]]], release: Event,
) -> None:  # fmt: skip
    """A client process: connect its sockets, say how many did, note each result's arrival
    until every socket has its share, then hold them all until ``release``."""
    open_files_up_to_the_hard_limit()
    asyncio.run(_hold_sockets(url, sockets, ready, results, release))


async def _hold_sockets(
    url: str, sockets: list[tuple[str, int]], ready: multiprocessing.Queue[int],
    results: multiprocessing.Queue[list[tuple[str, float]]], release: Event,
) -> None:  # fmt: skip
    gate = asyncio.Semaphore(CONNECTING_AT_ONCE)

    async def connect(token: str) -> websockets.ClientConnection | None:
        async with gate:
            try:
                socket = await websockets.connect(f"{url}/ws?token={token}", max_queue=None,
                                                  ping_interval=None, open_timeout=60)  # fmt: skip
                await socket.send("ping")
                await socket.recv()  # the pong: the socket is registered
                return socket
            except (OSError, websockets.WebSocketException, TimeoutError):
                return None

    opened = await asyncio.gather(*(connect(token) for token, _ in sockets))
    held = [(s, n) for s, (_, n) in zip(opened, sockets, strict=True) if s is not None]
    ready.put(len(held))
    if len(held) < len(sockets):
        return
    gc.collect()
    gc.freeze()
    gc.disable()
    arrivals: list[tuple[str, float]] = []

    async def read(socket: websockets.ClientConnection, count: int) -> None:
        for _ in range(count):
            message = orjson.loads(await socket.recv())
            arrivals.append((message["playId"], time.time()))

    try:
        await asyncio.wait_for(asyncio.gather(*(read(s, n) for s, n in held if n)), 600)
    finally:
        results.put(arrivals)
    # Held (this loop still answers the server's pings) until every client is done.
    await asyncio.to_thread(release.wait, 600)
    # Leaving drops every socket at once; closing 10k handshakes one by one would take
    # longer than the step.
