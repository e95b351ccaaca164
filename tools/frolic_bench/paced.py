"""An open-loop HTTP/1.1 client: requests at a set rate from a chosen local address, each
in its own process, so that several streams (players, an attacker) run side by side.

Open loop: request ``i`` is due at ``start + i / rate`` whatever the answers before it did,
and its latency is counted from when it was due, so a stalled server shows up as latency
instead of as fewer requests (no coordinated omission). ``rate`` 0 is a closed loop: each
connection sends its next request as soon as the last is answered.

The local address is how streams get addresses of their own on one machine: Linux routes
all of 127.0.0.0/8 to the loopback, so a socket bound to 127.0.1.7 reaches a server on
127.0.0.1 and the server sees 127.0.1.7. No proxy header is trusted for it.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import uvloop


@dataclass(frozen=True)
class Stream:
    port: int
    requests: list[bytes]  # whole HTTP requests, sent in turn (``play_request``)
    rate: float  # requests a second; 0: as fast as ``connections`` allow
    seconds: float
    connections: int
    sources: tuple[str, ...]  # local addresses; connection i binds sources[i % len]


@dataclass
class StreamReport:
    statuses: Counter[int] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    no_retry_after: int = 0  # 429s without a Retry-After header
    seconds: float = 0.0  # from the first request due to the last answer
    failed_connections: int = 0

    @property
    def sent(self) -> int:
        return sum(self.statuses.values())

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_ms) or [0.0]

        def pct(q: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))], 2)

        return {
            "sent": self.sent, "p50_ms": pct(50), "p99_ms": pct(99), "max_ms": pct(100),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "seconds": round(self.seconds, 2),
            "rps": round(self.sent / self.seconds) if self.seconds else 0,
            "failed_connections": self.failed_connections,
        }  # fmt: skip


def play_request(
    port: int, body: bytes, authorization: str | None, extra: dict[str, str] | None = None
) -> bytes:
    """A ``POST /play`` request, whole; no Authorization header when ``authorization`` is
    None."""
    headers = {"Authorization": authorization} if authorization is not None else {}
    auth = "".join(f"{k}: {v}\r\n" for k, v in {**headers, **(extra or {})}.items())
    return (
        f"POST /play HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """The status of the next answer, and whether it carries Retry-After."""
    head = (await reader.readuntil(b"\r\n\r\n")).lower()
    length = 0
    retry_after = False
    for line in head.split(b"\r\n")[1:]:
        if line.startswith(b"content-length:"):
            length = int(line[15:])
        elif line.startswith(b"retry-after:"):
            retry_after = True
    await reader.readexactly(length)
    return int(head[9:12]), retry_after


async def _connection(
    stream: Stream, number: int, slots: itertools.count[int], start: float, report: StreamReport
) -> None:
    end = start + stream.seconds
    source = stream.sources[number % len(stream.sources)]
    connection = None
    while True:
        i = next(slots)
        due = start + i / stream.rate if stream.rate else time.perf_counter()
        if due >= end:
            break
        if (wait := due - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        try:
            if connection is None:
                connection = await asyncio.open_connection(
                    "127.0.0.1", stream.port, local_addr=(source, 0)
                )
            reader, writer = connection
            writer.write(stream.requests[i % len(stream.requests)])
            status, retry_after = await _answer(reader)
        except (OSError, asyncio.IncompleteReadError):
            report.failed_connections += 1
            connection = None
            continue
        report.statuses[status] += 1
        report.latencies_ms.append((time.perf_counter() - due) * 1000)
        if status == 429 and not retry_after:
            report.no_retry_after += 1
    if connection is not None:
        connection[1].close()


async def send(stream: Stream, start_at: float = 0.0) -> StreamReport:
    """Run ``stream`` in this event loop, from ``start_at`` (epoch seconds) or now."""
    # Every stream of a run starts at the same wall-clock instant, then keeps its own time.
    start = time.perf_counter() + max(0.0, start_at - time.time())
    report = StreamReport()
    slots = itertools.count()
    await asyncio.gather(
        *(_connection(stream, n, slots, start, report) for n in range(stream.connections))
    )
    report.seconds = time.perf_counter() - start
    return report


def _main(stream: Stream, start_at: float, results: multiprocessing.Queue[StreamReport]) -> None:
    results.put(uvloop.run(send(stream, start_at)))


def run(streams: Sequence[Stream], *, lead: float = 1.0) -> list[StreamReport]:
    """Run ``streams`` side by side, one process each, starting together ``lead`` s from
    now; their reports, in order."""
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + lead + 0.5 * len(streams)  # a spawned process takes a moment
    queues: list[multiprocessing.Queue[StreamReport]] = [context.Queue() for _ in streams]
    processes = [
        context.Process(target=_main, args=(s, start_at, q), daemon=True)
        for s, q in zip(streams, queues, strict=True)
    ]
    for process in processes:
        process.start()
    try:
        longest = max(s.seconds for s in streams)
        return [q.get(timeout=lead + longest + 120) for q in queues]
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
