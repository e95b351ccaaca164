"""The ASGI app: ``create_app(settings)`` builds the clients once, in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import frolic
from frolic.config import Settings
from frolic.health.endpoints import router as health_router
from frolic.resources import open_resources
from frolic.web import install_error_handlers


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(settings) as res:
            app.state.resources = res
            try:
                yield
            finally:
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
    return app
