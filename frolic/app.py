"""The ASGI app: ``create_app(settings, roles)`` opens the process's resources in the
lifespan, starts its roles (``frolic.roles``) in order and stops them in reverse: workers
finish their batch and commit, then the clients close. It wires; the roles run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI

import frolic
from frolic.admin.routes import router as admin_router
from frolic.config import ALL_ROLES, Role, Settings
from frolic.coupons.endpoints import IMPORT_PATH
from frolic.dashboard.endpoints import router as dashboard_router
from frolic.demo.endpoints import router as demo_router
from frolic.games.endpoints import public_router as games_public_router
from frolic.games.repository import GameCache
from frolic.health.endpoints import router as health_router
from frolic.monitoring.endpoints import router as monitoring_router
from frolic.monitoring.logs import quiet_client_faults
from frolic.play.endpoints import router as play_router
from frolic.play.ingress import FrolicApp
from frolic.playlog.producer import PlayLog
from frolic.resources import open_resources
from frolic.reveal.endpoints import router as reveal_router
from frolic.roles import ROLES, Loops, RoleBase, Shared, keep_topics, publishes
from frolic.web import BodyLimit, install_error_handlers


def create_app(settings: Settings, roles: Sequence[Role] = ALL_ROLES) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(settings) as res:
            app.state.resources = res
            # A ws-only process publishes nothing: no producer (and no poll thread) for it.
            playlog = PlayLog(settings) if publishes(roles) else None
            shared = Shared(settings, res, app, asyncio.Event(), GameCache(res.db), playlog)
            keeper = keep_topics(shared) if playlog is not None else Loops()
            started: list[RoleBase] = []
            try:
                for name in roles:
                    role = ROLES[name](shared)
                    await role.start()
                    started.append(role)
                yield
            finally:
                shared.stop.set()
                for role in reversed(started):
                    await role.stop()
                await keeper.wait()
                if playlog is not None:
                    await asyncio.to_thread(playlog.close)
                # Let go of the clients before the servers they talk to are stopped.
                del app.state.resources

    app = FrolicApp(
        title="Frolic",
        version=frolic.__version__,
        summary="Instant-win games with a prize budget that is never overspent.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(monitoring_router)
    # A play never reaches it: the play ingress limits a play's body itself.
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes, exempt={IMPORT_PATH})
    if "api" in roles:
        app.serves_plays = True  # frolic.play.ingress answers POST /play; the route documents it
        app.include_router(play_router)
        app.include_router(admin_router)
        app.include_router(dashboard_router)
        app.include_router(demo_router)
        app.include_router(games_public_router)
    if "ws" in roles:
        quiet_client_faults()
        app.include_router(reveal_router)
    return app
