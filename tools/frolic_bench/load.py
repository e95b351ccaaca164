"""An HTTP/1.1 load client for the ingest benchmark, run as a process of its own.

httpx spends more CPU per request than the server it measures; this client keeps
``connections`` keep-alive sockets, each with one request in flight, writes requests built
ahead of time (a per-request ``Idempotency-Key`` is the only part made on the fly), and
parses just the status line and ``Content-Length``. It runs for a fixed time, then
reports status counts and latencies. The same client measures every endpoint it is
compared on, so its own cost weighs on both sides.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, cast

import uvloop


@dataclass(frozen=True)
class Load:
    host: str
    port: int
    path: str
    bodies: list[bytes]  # one per simulated player, e.g. {"gameId": 7}
    headers: list[str]  # the matching Authorization header values
    connections: int
    seconds: float
    tag: str  # makes Idempotency-Keys unique across runs; "" sends none


@dataclass
class LoadReport:
    statuses: Counter[int] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    failed_connections: int = 0
    cpu_seconds: float = 0.0  # the client's own, while it ran

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    def merge(self, other: LoadReport) -> None:
        self.statuses.update(other.statuses)
        self.latencies_ms.extend(other.latencies_ms)
        self.seconds += other.seconds
        self.failed_connections += other.failed_connections
        self.cpu_seconds += other.cpu_seconds

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_ms) or [0.0]

        def pct(q: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))], 2)

        ok = sum(n for status, n in self.statuses.items() if 200 <= status < 300)
        return {
            "rps": round(self.requests / self.seconds) if self.seconds else 0,
            "p50_ms": pct(50), "p99_ms": pct(99), "requests": self.requests, "ok": ok,
            "errors": self.requests - ok + self.failed_connections,
        }  # fmt: skip


class _Connection(asyncio.Protocol):
    """One keep-alive socket; sends the next request as soon as an answer is whole."""

    def __init__(self, load: Load, number: int, report: LoadReport, stop_at: float) -> None:
        self.load = load
        self.number = number
        self.report = report
        self.stop_at = stop_at
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.buffer = bytearray()
        self.sent_at = 0.0
        self.count = 0
        self.transport: asyncio.Transport | None = None
        self.head = f"POST {load.path} HTTP/1.1\r\nHost: {load.host}\r\n".encode()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self._send()

    def _send(self) -> None:
        load, n = self.load, self.number + self.count * self.load.connections
        player = n % len(load.bodies)
        body = load.bodies[player]
        key = f"Idempotency-Key: {load.tag}-{n}\r\n" if load.tag else ""
        request = self.head + (
            f"Authorization: {load.headers[player]}\r\n{key}Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body  # fmt: skip
        self.count += 1
        self.sent_at = time.perf_counter()
        assert self.transport is not None
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        length = -1
        for line in head.split(b"\r\n"):
            if line.startswith(b"content-length:"):
                length = int(line[15:])
        if length < 0:  # chunked: not what a JSON API should send; counted as an error
            self.report.statuses[0] += 1
            assert self.transport is not None
            self.transport.close()
            return
        if len(self.buffer) < end + 4 + length:
            return
        now = time.perf_counter()
        self.report.statuses[int(head[9:12])] += 1
        self.report.latencies_ms.append((now - self.sent_at) * 1000)
        del self.buffer[: end + 4 + length]
        if now < self.stop_at:
            self._send()
        else:
            assert self.transport is not None
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if time.perf_counter() < self.stop_at:
            self.report.failed_connections += 1
        if not self.done.done():
            self.done.set_result(None)


async def _run(load: Load) -> LoadReport:
    loop = asyncio.get_running_loop()
    report = LoadReport()
    cpu_began = time.process_time()
    began = time.perf_counter()
    stop_at = began + load.seconds
    connections = []
    for i in range(load.connections):
        _, protocol = await loop.create_connection(
            lambda i=i: _Connection(load, i, report, stop_at),  # type: ignore[misc]
            load.host, load.port,
        )  # fmt: skip
        connections.append(protocol)
    # A stalled server must not hang the run: give in-flight answers a bounded grace.
    await asyncio.wait([c.done for c in connections], timeout=load.seconds + 30)
    report.seconds = time.perf_counter() - began
    report.cpu_seconds = time.process_time() - cpu_began
    return report


def _main(load: Load, results: multiprocessing.Queue[LoadReport]) -> None:
    results.put(uvloop.run(_run(load)))


def drive(load: Load) -> LoadReport:
    """Run ``load`` from a separate process and return what it saw."""
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[LoadReport] = context.Queue()
    process = context.Process(target=_main, args=(load, results), daemon=True)
    process.start()
    try:
        return results.get(timeout=load.seconds + 120)
    finally:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
