"""An app served to a test: in process through ASGI (``app_client``), or by a real uvicorn
server in a thread of the test process, on a free port (``serving``)."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx
import uvicorn
from fastapi import FastAPI

from frolic.app import create_app
from frolic.config import Role, Settings
from frolic.reveal.upgrade import HttpProtocol
from frolic.stack.process import free_port


@asynccontextmanager
async def app_client(
    settings: Settings, roles: tuple[Role, ...] = ("api",)
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``create_app(settings, roles)``, its lifespan run around it."""
    app = create_app(settings, roles=roles)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://frolic") as client:
            yield client


@contextmanager
def serving(app: FastAPI, *, name: str, timeout: float = 60) -> Iterator[str]:
    """Serve ``app`` and yield its ``host:port`` once it answers and, if it runs the ws role,
    once its reveal listener holds its partitions (a result published earlier is not seen)."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, log_level="warning",
        http=HttpProtocol, ws="websockets-sansio", lifespan="on",
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=name)
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while not (server.started and _listening(app)):
            assert thread.is_alive(), f"{name} did not start"
            assert time.monotonic() < deadline, f"{name} is not ready"
            time.sleep(0.02)
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(60)


def _listening(app: FastAPI) -> bool:
    reveal = getattr(app.state, "reveal", None)
    return reveal is None or bool(reveal.listener.assigned)
