"""``frolic bench embedded``: reveal lateness at the client in the embedded default, one
``frolic serve`` process running every role, under real plays.

A client process opens ``sockets`` WebSockets, one per player, then plays through
``POST /play`` at ``rate`` plays a second for ``seconds``, round-robin over those players;
each socket notes when each of its results arrives. Lateness is arrival minus the
``revealAt`` the 202 answered, on one machine clock (seed §6: delivery < 20 ms). Every
accepted play must be revealed.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import psutil
import websockets
from sqlalchemy import text

from frolic.auth.tokens import mint_player_token
from frolic.config import Settings
from frolic.db.session import create_engine
from frolic_bench.cluster import running
from frolic_bench.ingest import live_game

TAIL_SECONDS = 30.0  # after the last play: its reveal is reveal_seconds away


def measure(
    settings: Settings, state: Path, *, rate: int, seconds: float, sockets: int
) -> dict[str, Any]:
    # The players here play faster than the per-player limit allows a person.
    lifted = {"FROLIC_RATE_USER_PER_SECOND": str(rate), "FROLIC_RATE_USER_BURST": str(rate)}
    with running(settings, state, [["api", "allocator", "recorder", "ws"]], env=lifted) as c:
        [server] = c.roles
        assert settings.admin_token is not None
        game = live_game(server.url, settings.admin_token.get_secret_value())
        players = [f"bench-embedded-{uuid.uuid4().hex[:6]}-{i}" for i in range(sockets)]
        tokens = [mint_player_token(settings, p) for p in players]
        context = multiprocessing.get_context("spawn")
        answers: multiprocessing.Queue[dict[str, Any]] = context.Queue()
        client = context.Process(
            target=_client, args=(server.url, game, tokens, rate, seconds, settings, answers)
        )
        process = psutil.Process(server.process.pid)
        before = sum(process.cpu_times()[:2])
        client.start()
        try:
            result = answers.get(timeout=seconds + settings.reveal_seconds + TAIL_SECONDS + 120)
        except queue.Empty:
            client.kill()
            return {"embedded_reveal_late_p99_ms": None,
                    "embedded_note": "the client did not finish in time"}  # fmt: skip
        finally:
            client.join(30)
        serve_cpu = sum(process.cpu_times()[:2]) - before
        stored = asyncio.run(_ledger_bytes(settings))
    late = sorted(result.pop("late"))

    def pct(q: float) -> float | None:
        return round(late[min(len(late) - 1, int(q / 100 * len(late)))], 2) if late else None

    return {
        "embedded_reveal_late_p50_ms": pct(50), "embedded_reveal_late_p99_ms": pct(99),
        "embedded_reveal_late_max_ms": round(late[-1], 2) if late else None,
        "embedded_sockets": sockets, "embedded_rate_asked_per_s": rate,
        "embedded_seconds": seconds, **result,
        "embedded_revealed": len(late),
        "embedded_unrevealed": result["embedded_accepted"] - len(late),
        "embedded_serve_cpu_per_play_us": round(
            1e6 * serve_cpu / max(1, result["embedded_accepted"]), 1
        ),
        "embedded_ledger_bytes_per_play": stored,
    }  # fmt: skip


async def _ledger_bytes(settings: Settings) -> dict[str, Any] | None:
    """PostgreSQL's bytes per recorded play, indexes and TOAST included: the play's row and
    its decision log entry (docs/capacity.md). Every play in the database counts, so the
    figure is this run's on a database of its own (``bench all`` gives each step one). As
    written, a row updated by the recorder leaves its first version behind until a vacuum
    lets the space be used again; on the bench's own database (no FROLIC_DATABASE_URL) the
    two tables are also compacted (VACUUM FULL) and measured again: the live rows alone."""
    assert settings.database_url
    db = create_engine(settings.database_url)
    try:
        async with db.connect() as conn:
            written = _per_play((await conn.execute(_SIZES)).one())
        if written is None or os.environ.get("FROLIC_DATABASE_URL"):
            return written
        async with db.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")  # VACUUM's need
            await auto.execute(_COMPACT)
            if await auto.scalar(_HAS_KEYS):  # not before migration 0013
                await auto.execute(_COMPACT_KEYS)
            return {**written, "compacted": _per_play((await auto.execute(_SIZES)).one())}
    finally:
        await db.dispose()


def _per_play(row: Any) -> dict[str, Any] | None:
    if not row.plays:
        return None
    sizes = {"play_events": round(row.play_events / row.plays),
             "play_keys": round(row.play_keys / row.plays),
             "decision_log": round(row.decision_log / row.plays)}  # fmt: skip
    return {**sizes, "total": sum(sizes.values())}


_COMPACT = text("VACUUM FULL play_events, decision_log")
_COMPACT_KEYS = text("VACUUM FULL play_keys")
_HAS_KEYS = text("SELECT to_regclass('play_keys') IS NOT NULL")
# ``play_events`` is partitioned by day: its bytes are its partitions'. ``play_keys`` holds
# the Idempotency-Keys' uniqueness, which was an index of ``play_events`` before.
_SIZES = text(
    "SELECT (SELECT count(*) FROM play_events WHERE status IN ('WIN', 'LOSE')) AS plays, "
    "coalesce((SELECT sum(pg_total_relation_size(relid)) "
    "FROM pg_partition_tree('play_events')), pg_total_relation_size('play_events')) "
    "AS play_events, coalesce(pg_total_relation_size(to_regclass('play_keys')), 0) "
    "AS play_keys, "
    "pg_total_relation_size('decision_log') AS decision_log"
)


def _client(
    url: str, game: int, tokens: list[str], rate: int, seconds: float, settings: Settings,
    answers: multiprocessing.Queue[dict[str, Any]],
) -> None:  # fmt: skip
    answers.put(asyncio.run(_play_and_watch(url, game, tokens, rate, seconds, settings)))


async def _play_and_watch(
    url: str, game: int, tokens: list[str], rate: int, seconds: float, settings: Settings
) -> dict[str, Any]:
    due: dict[str, float] = {}  # accepted play -> its revealAt
    arrived: dict[str, float] = {}
    ws_url = url.replace("http://", "ws://")
    sockets = []
    for token in tokens:
        socket = await websockets.connect(f"{ws_url}/ws?token={token}", max_queue=None)
        await socket.send("ping")
        while orjson.loads(await socket.recv()).get("type") != "pong":
            pass  # a player's recent results come first
        sockets.append(socket)

    async def watch(socket: websockets.ClientConnection) -> None:
        async for frame in socket:
            message = orjson.loads(frame)
            if message.get("type") == "result":
                arrived.setdefault(message["playId"], time.time())

    watchers = [asyncio.create_task(watch(s)) for s in sockets]
    statuses: dict[int, int] = {}
    total = round(rate * seconds)
    host, port = url.removeprefix("http://").split(":")
    body = orjson.dumps({"gameId": game})
    # Each play with an Idempotency-Key of its own, as a client that retries sends it.
    run = uuid.uuid4().hex[:8].encode()
    heads = [
        (f"POST /play HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {t}\r\n"
         f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n").encode()
        for t in tokens
    ]  # fmt: skip
    start = time.monotonic()
    turn = iter(range(total))

    async def connection() -> None:
        """One keep-alive connection, one request in flight: each play at its moment."""
        reader, writer = await asyncio.open_connection(host, int(port))
        for n in turn:
            await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
            writer.write(heads[n % len(heads)] + b"Idempotency-Key: %s-%d\r\n\r\n" % (run, n)
                         + body)  # fmt: skip
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line[15:]) for line in head.lower().split(b"\r\n")
                          if line.startswith(b"content-length:"))  # fmt: skip
            answer = await reader.readexactly(length)
            status = int(head[9:12])
            statuses[status] = statuses.get(status, 0) + 1
            if status == 202:
                accepted = orjson.loads(answer)
                due[accepted["playId"]] = accepted["revealAt"]
        writer.close()

    # Enough connections that a slow answer does not hold the plays behind it.
    await asyncio.gather(*(connection() for _ in range(min(total, max(8, rate // 20)))))
    elapsed = time.monotonic() - start
    deadline = time.monotonic() + settings.reveal_seconds + TAIL_SECONDS
    while time.monotonic() < deadline and not due.keys() <= arrived.keys():
        await asyncio.sleep(0.1)
    for socket in sockets:
        await socket.close()
    await asyncio.gather(*watchers, return_exceptions=True)
    return {
        "late": [(arrived[p] - at) * 1000 for p, at in due.items() if p in arrived],
        "embedded_rate_per_s": round(total / elapsed) if elapsed else total,
        "embedded_accepted": len(due),
        "embedded_statuses": {str(k): v for k, v in sorted(statuses.items())},
    }
