"""The ASGI app: ``create_app(settings, roles)`` builds each role's parts once, in the
lifespan, and stops them in order: workers finish their batch and commit, then the clients
close."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI

import frolic
from frolic import topics
from frolic.admin.routes import router as admin_router
from frolic.allocator.redrive import redrive_forever
from frolic.allocator.worker import Allocator
from frolic.config import ALL_ROLES, Role, Settings
from frolic.coupons.endpoints import IMPORT_PATH
from frolic.dashboard.endpoints import router as dashboard_router
from frolic.demo.endpoints import router as demo_router
from frolic.engine.redis_store import store_for
from frolic.games.repository import GameCache
from frolic.games.scheduler import Scheduler
from frolic.health.endpoints import router as health_router
from frolic.monitoring.endpoints import router as monitoring_router
from frolic.monitoring.logs import quiet_client_faults
from frolic.monitoring.scrape import ServerFigures
from frolic.play.endpoints import router as play_router
from frolic.play.ingress import PlayIngress
from frolic.play.service import PlayService
from frolic.play.writer import PlayWriter
from frolic.playlog.producer import PlayLog
from frolic.reconcile import recovery
from frolic.recorder.worker import Recorder
from frolic.resources import open_resources
from frolic.reveal.endpoints import router as reveal_router
from frolic.reveal.service import start_reveal, stop_reveal
from frolic.web import BodyLimit, install_error_handlers

log = logging.getLogger(__name__)


def create_app(settings: Settings, roles: Sequence[Role] = ALL_ROLES) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(settings) as res:
            app.state.resources = res
            # A ws-only process publishes nothing: no producer (and no poll thread) for it.
            playlog = PlayLog(settings) if set(roles) & {"api", "allocator", "recorder"} else None
            games = GameCache(res.db)
            writer = PlayWriter(res.db)
            stop = asyncio.Event()
            workers: list[asyncio.Task[None]] = []
            if playlog is not None:  # its messages wait for topics a broker restart lost
                keeper = topics.keep_topics(res.kafka_admin, settings, stop)
                workers.append(asyncio.create_task(keeper, name="topic-keeper"))
            if "api" in roles:
                assert playlog is not None
                writer.start()
                app.state.plays = PlayService(settings, res.redis, games, writer, playlog)
                scheduler = Scheduler(res.db, store_for(settings, res.redis))
                workers.append(asyncio.create_task(scheduler.run(stop), name="scheduler"))
                # Figures read from the servers at scrape time: one role gathers them, not all.
                app.state.server_figures = ServerFigures(settings, res.db, res.redis)
                # Everything alive now lives as long as the process: a full collection
                # walking it stalled plays for 100 ms (docs/performance.md, Ingest).
                gc.collect()
                gc.freeze()
            if "allocator" in roles:
                assert playlog is not None
                allocator = Allocator(settings, res.redis, games, playlog)
                workers.append(asyncio.create_task(allocator.run(stop), name="allocator"))
                workers.append(asyncio.create_task(
                    redrive_forever(settings, res.db, playlog, stop), name="redrive"
                ))  # fmt: skip
                # Games Redis lost are rebuilt from the ledger, paused ones included.
                workers.append(asyncio.create_task(
                    recovery.watch(res.db, allocator.store, stop), name="redis-warden"
                ))  # fmt: skip
            if "recorder" in roles:
                assert playlog is not None
                recorder = Recorder(settings, res.db, playlog)
                workers.append(asyncio.create_task(recorder.run(stop), name="recorder"))
            if "ws" in roles:
                app.state.reveal = await start_reveal(res)
            try:
                yield
            finally:
                stop.set()
                if "ws" in roles:
                    await stop_reveal(app.state.reveal)
                for worker in workers:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(worker, 30)
                await writer.stop()
                if playlog is not None:
                    await asyncio.to_thread(playlog.close)
                # Let go of the clients before the servers they talk to are stopped.
                del app.state.resources

    app = FastAPI(
        title="Frolic",
        version=frolic.__version__,
        summary="Instant-win games with a prize budget that is never overspent.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(monitoring_router)
    # Added first, so it runs inside the play ingress, which limits a play's body itself.
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes, exempt={IMPORT_PATH})
    if "api" in roles:
        app.add_middleware(PlayIngress)  # serves POST /play; the route documents it
        app.include_router(play_router)
        app.include_router(admin_router)
        app.include_router(dashboard_router)
        app.include_router(demo_router)
    if "ws" in roles:
        quiet_client_faults()
        app.include_router(reveal_router)
    return app
