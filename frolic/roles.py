"""The roles a ``frolic serve`` process runs, each an object with two hooks, as arq's worker
is: ``start`` builds the role's parts on the process's shared parts and starts its loops;
``stop`` waits for those loops once the shared stop event is set (a consumer finishes its
batch, commits and leaves its group), then lets go of what the role holds.

``create_app`` starts a process's roles in order and stops them in reverse; it runs none of
their loops itself. Every loop watches the one stop event, so all of them wind down at
once and the slowest bounds the stop, not their sum.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

from frolic import topics
from frolic.allocator.redrive import redrive_forever
from frolic.allocator.worker import Allocator
from frolic.config import Role, Settings
from frolic.engine.redis_store import store_for
from frolic.games.repository import GameCache
from frolic.games.scheduler import Scheduler
from frolic.monitoring.scrape import ServerFigures
from frolic.play.service import PlayService
from frolic.play.writer import PlayWriter
from frolic.playlog.producer import PlayLog
from frolic.plays import keeper
from frolic.reconcile import recovery
from frolic.recorder.chainer import chain_forever
from frolic.recorder.worker import Recorder
from frolic.resources import Resources
from frolic.reveal.service import start_reveal, stop_reveal

STOP_SECONDS = 30.0
"""How long a stopping loop may take to finish what it holds before it is left behind."""


@dataclass
class Shared:
    """What a process's roles share: its resources, its app, and one of each client."""

    settings: Settings
    resources: Resources
    app: FastAPI
    stop: asyncio.Event
    games: GameCache
    playlog: PlayLog | None  # None in a process that publishes nothing (ws only)


@dataclass
class Loops:
    """A role's or process's running loops, waited for at stop."""

    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def spawn(self, loop: Coroutine[Any, Any, None], name: str) -> None:
        self.tasks.append(asyncio.create_task(loop, name=name))

    async def wait(self) -> None:
        for task in self.tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, STOP_SECONDS)


class RoleBase:
    name: Role

    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.loops = Loops()

    @property
    def playlog(self) -> PlayLog:
        assert self.shared.playlog is not None, f"the {self.name} role publishes"
        return self.shared.playlog

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        await self.loops.wait()


class Api(RoleBase):
    """Takes plays (``POST /play``) and runs the admin API and the game scheduler."""

    name: Role = "api"

    async def start(self) -> None:
        s, res = self.shared.settings, self.shared.resources
        self.writer = PlayWriter(res.db)
        self.writer.start()
        self.shared.app.state.plays = PlayService(
            s, res.redis, self.shared.games, self.writer, self.playlog, res.clock
        )
        scheduler = Scheduler(res.db, store_for(s, res.redis), reveal_seconds=s.reveal_seconds)
        self.loops.spawn(scheduler.run(self.shared.stop), "scheduler")
        # Figures read from the servers at scrape time: one role gathers them, not all.
        self.shared.app.state.server_figures = ServerFigures(s, res.db, res.redis)
        # Everything alive now lives as long as the process: a full collection walking it
        # stalled plays for 100 ms (docs/performance.md, Ingest).
        gc.collect()
        gc.freeze()

    async def stop(self) -> None:
        await super().stop()
        await self.writer.stop()


class AllocatorRole(RoleBase):
    """Decides plays; re-drives the ones never decided; rebuilds games Redis lost."""

    name: Role = "allocator"

    async def start(self) -> None:
        s, res, stop = self.shared.settings, self.shared.resources, self.shared.stop
        allocator = Allocator(s, res.redis, self.shared.games, self.playlog, clock=res.clock)
        self.loops.spawn(allocator.run(stop), "allocator")
        self.loops.spawn(redrive_forever(s, res.db, self.playlog, stop), "redrive")
        # Games Redis lost are rebuilt from the ledger, paused ones included.
        self.loops.spawn(recovery.watch(res.db, allocator.store, stop), "redis-warden")


class RecorderRole(RoleBase):
    """Records decided plays in PostgreSQL and publishes their finals; chains them into
    their games' decision logs."""

    name: Role = "recorder"

    async def start(self) -> None:
        res = self.shared.resources
        recorder = Recorder(self.shared.settings, res.db, self.playlog, res.clock)
        self.loops.spawn(recorder.run(self.shared.stop), "recorder")
        self.loops.spawn(chain_forever(res.db, self.shared.stop), "chainer")
        self.loops.spawn(keeper.keep_forever(
            res.db, res.clock, self.shared.settings.play_retention_days, self.shared.stop,
        ), "partition keeper")  # fmt: skip


class Ws(RoleBase):
    """Reveals each play's result over WebSocket at its reveal time."""

    name: Role = "ws"

    async def start(self) -> None:
        self.shared.app.state.reveal = await start_reveal(self.shared.resources)

    async def stop(self) -> None:
        await stop_reveal(self.shared.app.state.reveal)


ROLES: dict[Role, type[RoleBase]] = {
    "api": Api, "allocator": AllocatorRole, "recorder": RecorderRole, "ws": Ws,
}  # fmt: skip


def publishes(roles: Sequence[Role]) -> bool:
    """Whether a process with ``roles`` publishes to the play log (all but ws do)."""
    return bool(set(roles) & {"api", "allocator", "recorder"})


def keep_topics(shared: Shared) -> Loops:
    """The topic keeper, in a process that publishes: its messages wait for topics a broker
    restart lost."""
    loops = Loops()
    loops.spawn(topics.keep_topics(shared.resources.kafka_admin, shared.settings, shared.stop),
                "topic-keeper")  # fmt: skip
    return loops
