"""A chaos run: the real multi-process stack under a steady load, one fault injected mid-load,
then drain, the history checker, and each game's decision log verified as an outsider would
(ended, fetched over HTTP, ``frolic verify``'s checks). ``frolic bench chaos`` and
tests/chaos both use it.

    async with Chaos(Settings(), state, SMOKE, progress) as chaos:   # its own servers
        row = await chaos.run(faults.named(["sigkill"])[0])

Each fault gets fresh topics, games and role processes on the runner's servers: api, two
allocators, two recorders and ws, each its own ``frolic serve`` process under a supervisor
that restarts whichever dies. The games are made through the admin API as an operator
would: one ``fixed_odds`` game whose budget runs out during the load (so an overspend would
show) and one paced game a minute longer than the load; both hold real codes.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from frolic import topics
from frolic.config import Settings
from frolic.db import migrate
from frolic.db.session import create_engine
from frolic.demo.campaign import Admin
from frolic.playlog import messages
from frolic.stack import Stack
from frolic_chaos import stuck
from frolic_chaos.fairness import verify_games
from frolic_chaos.fault import Context, Fault, LoadProgress, Progress
from frolic_chaos.history import check, read_ledger
from frolic_chaos.load import Load
from frolic_chaos.supervisor import Supervisor
from frolic_chaos.topic_log import read_all

T = TypeVar("T")
LAYOUT = (("api",), ("allocator",), ("allocator",), ("recorder",), ("recorder",), ("ws",))
ODDS = 4  # the tight game: one win in 4 plays while stock lasts
SPARE_CODES = 5  # codes beyond the budget, per brand: a code shortage would not hide overspend


@dataclass(frozen=True)
class Plan:
    seconds: float = 30.0  # of load
    rate: float = 100.0  # plays a second, over both games
    players: int = 200
    retry_share: float = 0.1  # answered plays sent again with the same key
    drain_timeout: float = 120.0  # after the load, for every accepted play to be final
    redrive_after_seconds: float = 10.0
    reveal_seconds: float = 2.0
    partitions: int = 4


FULL = Plan()
SMOKE = Plan(seconds=12.0, rate=50.0, players=100, drain_timeout=90.0)


@dataclass
class Row:
    """One fault's line of the table."""

    fault: str
    summary: str
    counts: dict[str, Any]
    evidence: dict[str, Any]
    missing: list[str]  # why the fault did not happen as meant; empty when it did
    refused: dict[int, int]
    drain_seconds: float
    load_average: float
    plan: dict[str, Any] = field(default_factory=dict)
    fairness: dict[str, Any] = field(default_factory=dict)  # per game: verify's findings

    @property
    def holds(self) -> bool:
        c = self.counts
        return not (c["overspent"] or c["duplicated"] or c["lost"] or c["violations"]
                    or c.get("unverified"))  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        return {
            "fault": self.fault, **self.counts, "holds": self.holds,
            "fault_happened": not self.missing, "missing": self.missing,
            "evidence": self.evidence, "fairness": self.fairness,
            "refused": {str(k): v for k, v in self.refused.items()},
            "drain_s": round(self.drain_seconds, 1), "load_avg_1m": self.load_average,
            **self.plan,
        }  # fmt: skip


class Chaos:
    """The runner's own servers (never another's: faults restart them)."""

    def __init__(self, settings: Settings, state: Path, plan: Plan, progress: Progress) -> None:
        self.state = state
        self.plan = plan
        self.progress = progress
        self.stack = Stack(settings.model_copy(update={"state_dir": state / "stack"}))
        self.settings = settings

    async def __aenter__(self) -> Chaos:
        # Both block (PostgreSQL's initdb, alembic's own event loop): off this loop.
        try:
            endpoints = await asyncio.to_thread(self.stack.start)
            await asyncio.to_thread(migrate.upgrade, endpoints.database_url)
        except BaseException:
            self.stack.stop()
            raise
        self.settings = endpoints.apply(self.stack.settings).with_local_secrets()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        await asyncio.to_thread(self.stack.stop)

    async def run(self, fault: Fault) -> Row:
        plan = self.plan
        tag = f"chaos-{fault.name.replace('+', '-')}-{uuid.uuid4().hex[:6]}"  # a topic name
        settings = self.settings.model_copy(update={
            "play_topic": f"{tag}-plays", "result_topic": f"{tag}-results",
            "final_topic": f"{tag}-final", "kafka_partitions": plan.partitions,
            "reveal_seconds": plan.reveal_seconds,
            "redrive_after_seconds": plan.redrive_after_seconds, **fault.overrides,
        })  # fmt: skip
        topics.ensure_topics(topics.admin_client(settings), settings)
        state = self.state / tag
        say = self.progress
        say(f"{fault.name}: starting {len(LAYOUT)} role processes ...")
        async with Supervisor(settings, state, LAYOUT, extra=fault.environment) as cluster:
            api = cluster.of("api")[0].url
            games = await asyncio.to_thread(create_games, settings, api, plan)
            load = LoadProgress(plan.seconds, plan.rate)
            ctx = Context(settings, self.stack, cluster, load, games, state, say)
            say(f"{fault.name}: {plan.rate:g} plays/s for {plan.seconds:g} s; {fault.summary}")
            players = Load(settings, api, games, load, players=plan.players,
                           retry_share=plan.retry_share)  # fmt: skip
            fault_done = asyncio.Event()
            sending = asyncio.create_task(players.run(fault_done))
            try:
                await fault.inject(ctx)
            finally:
                fault_done.set()
                await sending
            await asyncio.wait_for(cluster.all_ready(), 120)
            say(f"{fault.name}: draining {len(load.sent.owner):,} accepted plays ...")
            started = time.monotonic()
            left = await drain(settings, list(load.sent.owner), plan.drain_timeout)
            drained = time.monotonic() - started
            if left:
                say(f"{fault.name}: {left} plays still undecided after {plan.drain_timeout:g} s")
                ctx.evidence["stuck"] = await stuck.diagnose(settings, list(load.sent.owner))
                ctx.evidence["stuck"]["logged"] = stuck.logged(state)
                say(f"{fault.name}: where they stopped: {ctx.evidence['stuck']}")
            say(f"{fault.name}: drained in {drained:.1f} s; gathering the evidence ...")
            await fault.after(ctx)
            say(f"{fault.name}: ending the games and verifying their decision logs ...")
            verified = await verify_games(settings, api, games, say)
        say(f"{fault.name}: roles stopped; checking the history ...")
        for raw in await asyncio.to_thread(read_all, settings, settings.final_topic):
            final = _final.decode(raw)
            load.sent.observe(final.play_id, final.outcome, final.coupon_code)
        report = check(load.sent, await read_ledger(settings, games))
        missing = fault.missing(ctx.evidence)
        counts = {**report.counts(),
                  "unverified": sum(bool(v["failed"]) for v in verified.values())}  # fmt: skip
        row = Row(
            fault.name, fault.summary, counts, ctx.evidence, missing,
            dict(load.sent.refused), drained, round(os.getloadavg()[0], 2),
            {"seconds": plan.seconds, "rate": plan.rate}, verified,
        )  # fmt: skip
        verdict = "holds" if row.holds else f"{len(report.violations)} violations"
        say(f"{fault.name}: {verdict}; {'fault happened' if not missing else missing}")
        return row


_final = messages.decoder(messages.Final)


def create_games(settings: Settings, api: str, plan: Plan) -> list[int]:
    """The run's two live games, through the admin API: their ids."""
    assert settings.admin_token is not None
    admin = Admin(api, settings.admin_token.get_secret_value())
    now = datetime.now(UTC)
    tag = uuid.uuid4().hex[:6]
    campaign = admin.call("POST", "/admin/campaigns", {
        "name": f"chaos {tag}", "startTime": (now - timedelta(minutes=1)).isoformat(),
        "endTime": (now + timedelta(days=1)).isoformat(),
    })["id"]  # fmt: skip
    per_game = plan.rate * plan.seconds / 2
    # Runs out about 60% of the way through the load; later plays all try to win.
    tight = max(4, round(0.6 * per_game / ODDS))
    paced = max(2, round(0.05 * per_game))
    specs = [
        ("tight", "fixed_odds", (tight - tight // 3, tight // 3), plan.seconds + 600),
        ("paced", "paced", (paced,), plan.seconds + 60),
    ]
    games = []
    for name, strategy, budgets, seconds in specs:
        brands = [admin.call("POST", "/admin/brands", {"name": f"{name}-{tag}-{i}"})["id"]
                  for i in range(len(budgets))]  # fmt: skip
        game = admin.call("POST", "/admin/games", {
            "name": f"chaos {name} {tag}", "campaignId": campaign,
            "startTime": (now - timedelta(seconds=5)).isoformat(),
            "endTime": (now + timedelta(seconds=seconds)).isoformat(),
            "probabilityType": strategy, "slotSeconds": 1, "odds": ODDS,
            "budgets": [{"brandId": b, "coupons": n} for b, n in zip(brands, budgets, strict=True)],
        })["id"]  # fmt: skip
        rows = ["brand_id,code"] + [
            f"{b},{tag}-{game}-{b}-{i}"
            for b, n in zip(brands, budgets, strict=True) for i in range(n + SPARE_CODES)
        ]  # fmt: skip
        admin.call("POST", f"/admin/coupons/import?gameId={game}", csv="\n".join(rows).encode())
        admin.call("POST", f"/admin/games/{game}/start")
        games.append(game)
    return games


async def drain(settings: Settings, play_ids: list[str], timeout: float) -> int:
    """Wait until every play has an outcome in PostgreSQL, or ``timeout`` s: how many have
    none."""
    ids = list({uuid.UUID(p) for p in play_ids})
    query = text(
        "SELECT count(*) FROM play_events WHERE play_id = ANY(:ids) AND status IN ('WIN', 'LOSE')"
    )

    async def left(conn: AsyncConnection) -> int:
        return len(ids) - int((await conn.execute(query, {"ids": ids})).scalar_one())

    return await watch_ledger(settings, left, lambda n: n == 0, timeout, len(ids))


async def watch_ledger(
    settings: Settings, read: Callable[[AsyncConnection], Awaitable[T]],
    done: Callable[[T], bool], timeout: float, first: T,
) -> T:  # fmt: skip
    """``read`` PostgreSQL every 0.2 s until ``done`` says yes to a reading, or for
    ``timeout`` s: the last reading (``first`` while none has come). PostgreSQL may itself
    be away or coming back (a fault's outage): a failed read counts as not yet."""
    assert settings.database_url
    db = create_engine(settings.database_url)
    reading = first
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                async with db.connect() as conn:
                    reading = await read(conn)
            except (OSError, SQLAlchemyError):
                pass
            if done(reading) or time.monotonic() >= deadline:
                return reading
            await asyncio.sleep(0.2)
    finally:
        await db.dispose()
