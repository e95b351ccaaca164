"""``frolic bench ingest``: ``POST /play`` doing its real work, against a bare FastAPI
endpoint answering the same JSON, both on uvicorn as ``frolic serve`` runs it.

The real one is a ``frolic serve --role api`` process on the stack's servers with a live
game: every request is authenticated, rate limited (IP and player), checked against the
game and the player's limits, carries an ``Idempotency-Key``, is committed to PostgreSQL
and published to the play log. The IP limit is raised (every request comes from
127.0.0.1); the player limits are the defaults, and ``players`` distinct players share the
load so that none of them is refused. The baseline is ``frolic_bench.hello``. One client
process (``frolic_bench.load``) measures both, alternating, for the same time each.
Afterwards every accepted play is counted in PostgreSQL: the figure only counts if they
are all there and no request failed.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import text

from frolic.auth.tokens import mint_player_token
from frolic.config import Settings
from frolic.db.session import create_engine
from frolic.stack.process import free_port
from frolic_bench.allocate import used_memory
from frolic_bench.cluster import running
from frolic_bench.cpu import CpuMeter, CpuTally, listening_process
from frolic_bench.importer import codes_file
from frolic_bench.load import Load, LoadReport, drive

BUDGET = 100_000
WARM_UP_SECONDS = 1.0
Progress = Callable[[str], None]


@contextmanager
def hello_server(state: Path) -> Iterator[int]:
    """The baseline server, on a free port, until the block ends."""
    port = free_port()
    log = state / "hello.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "frolic_bench.hello", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the baseline server did not start: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2):
                    break
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def live_game(url: str, admin_token: str) -> int:
    """A live game of BUDGET coupons, made through the admin API like an operator would."""
    now = datetime.now(UTC)
    window = {"startTime": (now - timedelta(minutes=1)).isoformat(),
              "endTime": (now + timedelta(hours=2)).isoformat()}  # fmt: skip
    tag = uuid.uuid4().hex[:8]
    headers = {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=300) as admin:

        def made(path: str, body: dict[str, Any]) -> int:
            answer = admin.post(path, json=body)
            answer.raise_for_status()
            return int(answer.json()["id"])

        brand = made("/admin/brands", {"name": f"bench-ingest-{tag}"})
        campaign = made("/admin/campaigns", {"name": f"bench-ingest-{tag}", **window})
        admin.post(
            "/admin/coupons/import", content=codes_file(brand, tag, 0, BUDGET),
            headers={"Content-Type": "text/csv"},
        ).raise_for_status()  # fmt: skip
        game = made("/admin/games", {
            "name": f"bench-ingest-{tag}", "campaignId": campaign, **window,
            "budgets": [{"brandId": brand, "coupons": BUDGET}],
            # A limit so high it never bites: the check still runs on every play.
            "maxPlaysPerDay": 1_000_000,
        })  # fmt: skip
        admin.post(f"/admin/games/{game}/start").raise_for_status()
    return game


async def count_plays(database_url: str, game: int) -> int:
    """The plays of ``game`` in PostgreSQL: every one answered 202 must be there."""
    db = create_engine(database_url)
    try:
        async with db.connect() as conn:
            query = text("SELECT count(*) FROM play_events WHERE game_id = :g")
            return int((await conn.execute(query, {"g": game})).scalar_one())
    finally:
        await db.dispose()


def measure(
    settings: Settings, state: Path, *, seconds: float, connections: int, players: int,
    rounds: int, progress: Progress,
) -> dict[str, Any]:  # fmt: skip
    assert settings.admin_token is not None, "call Settings.with_local_secrets() first"
    assert settings.database_url
    with running(settings, state, [["api"]]) as cluster, hello_server(state) as hello_port:
        api = cluster.roles[0]
        game = live_game(api.url, settings.admin_token.get_secret_value())
        users = [f"bench-{uuid.uuid4().hex[:6]}-{i}" for i in range(players)]
        tokens = [f"Bearer {mint_player_token(settings, u, ttl_seconds=86_400)}" for u in users]
        bodies = [orjson.dumps({"gameId": game})] * players
        run = uuid.uuid4().hex[:8]

        meter = CpuMeter()
        meter.add("api", api.process.pid)
        meter.add("hello", listening_process(hello_port))
        meter.add_server("redis", settings.redis_url)
        meter.add_server("postgres", settings.database_url, with_children=True)
        meter.add_server("broker", settings.kafka_bootstrap)
        cpu = {
            "ingest": CpuTally(frozenset({"api", "redis", "postgres", "broker", "client"})),
            "hello": CpuTally(frozenset({"hello", "client"})),
        }

        def load(port: int, tag: str, duration: float, tally: CpuTally | None = None) -> LoadReport:
            before = meter.read()
            report = drive(Load("127.0.0.1", port, "/play", bodies, tokens, connections,
                                duration, tag))  # fmt: skip
            if tally is not None:
                tally.add(before, meter.read(), report.requests, client=report.cpu_seconds)
            return report

        held_before = used_memory(settings.redis_url or "")
        progress(f"warming up both servers for {WARM_UP_SECONDS} s each ...")
        accepted = load(api.port, f"{run}-w", WARM_UP_SECONDS).summary()["ok"]
        load(hello_port, "", WARM_UP_SECONDS)
        ingest, baseline = LoadReport(), LoadReport()
        for r in range(rounds):
            progress(f"round {r + 1}/{rounds}: baseline, then POST /play, {seconds} s each")
            baseline.merge(load(hello_port, "", seconds, cpu["hello"]))
            ingest.merge(load(api.port, f"{run}-{r}", seconds, cpu["ingest"]))
        accepted += ingest.summary()["ok"]
        # What the api keeps in Redis per accepted play: its Idempotency-Key claim (a
        # day), the player's daily count and limits (docs/capacity.md).
        held = (used_memory(settings.redis_url or "") - held_before) / max(1, accepted)
        stored = asyncio.run(count_plays(settings.database_url, game))
    mine, theirs = ingest.summary(), baseline.summary()
    mine_cpu, theirs_cpu = cpu["ingest"].per_request_us(), cpu["hello"].per_request_us()
    return {
        "ingest_rps": mine["rps"], "ingest_p50_ms": mine["p50_ms"],
        "ingest_p99_ms": mine["p99_ms"], "ingest_errors": mine["errors"],
        "hello_rps": theirs["rps"], "hello_p50_ms": theirs["p50_ms"],
        "hello_p99_ms": theirs["p99_ms"], "hello_errors": theirs["errors"],
        "ingest_vs_fastapi_hello": round(mine["rps"] / theirs["rps"], 3) if theirs["rps"] else 0,
        # Where each request's CPU goes, every process on the machine that serves it, and
        # the rate the cores could give if they did only this: the ceilings' ratio bounds
        # what ingest_vs_fastapi_hello can reach on this machine.
        "ingest_cpu_us": mine_cpu,
        "hello_cpu_us": theirs_cpu,
        # Issue 15's target: the api process's own CPU per accepted play, at most hello's.
        "ingest_api_cpu_vs_hello": _ratio(mine_cpu.get("api"), theirs_cpu.get("hello")),
        "ingest_cpu_ceiling_rps": cpu["ingest"].ceiling_rps(),
        "hello_cpu_ceiling_rps": cpu["hello"].ceiling_rps(),
        "plays_accepted": accepted, "plays_in_postgres": stored,
        "redis_bytes_per_accepted_play": round(held),
        "ingest_statuses": {str(k): v for k, v in sorted(ingest.statuses.items())},
        "connections": connections, "seconds": seconds, "rounds": rounds, "players": players,
        "rate_limits": "IP limit raised to 100000/s (one client IP); player limits default, "
                       "checked on every play (a refusal counts as an error)",
    }  # fmt: skip


ERRORS_ALLOWED = 0.01
"""The share of refused requests past which the run's figures say nothing of ingestion."""


def _ratio(mine: float | None, theirs: float | None) -> float | None:
    return round(mine / theirs, 3) if mine and theirs else None


def invalid(result: dict[str, Any]) -> str | None:
    """Why ``result`` measured something other than plays being taken, or None: a run whose
    plays were mostly refused (a broken schema answers 503 fast) or not all stored."""
    requests = sum(result.get("ingest_statuses", {}).values()) or 1
    if result["ingest_errors"] > ERRORS_ALLOWED * requests:
        statuses = result.get("ingest_statuses")
        return (f"{result['ingest_errors']} of {requests} plays were not accepted "
                f"(statuses {statuses}): the figures count refusals")  # fmt: skip
    if result["plays_in_postgres"] != result["plays_accepted"]:
        return (f"{result['plays_accepted']} plays accepted but {result['plays_in_postgres']} "
                "in PostgreSQL")  # fmt: skip
    return None
