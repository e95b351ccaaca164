"""A real reveal server for the package: uvicorn on a free port, in a thread, with its own
final topic on the embedded broker; players connect with the ``websockets`` client."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from confluent_kafka import Producer
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.asyncio.client import ClientConnection, connect

from frolic import topics
from frolic.auth.tokens import mint_player_token
from frolic.config import Settings
from frolic.db.session import create_engine
from frolic.playlog.messages import Final, encode
from frolic.resources import open_resources
from frolic.reveal.endpoints import router
from frolic.reveal.service import Reveal, start_reveal, stop_reveal
from tests.support.serving import serving


def reveal_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(settings) as res:
            app.state.reveal = await start_reveal(res)
            try:
                yield
            finally:
                await stop_reveal(app.state.reveal)

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    return app


@dataclass
class Server:
    settings: Settings
    app: FastAPI
    url: str
    producer: Producer

    @property
    def reveal(self) -> Reveal:
        reveal: Reveal = self.app.state.reveal
        return reveal

    def token(self, user: str, **kwargs: Any) -> str:
        return mint_player_token(self.settings, user, **kwargs)

    def connect(self, user: str, *, header: bool = True) -> connect:
        """A player's socket; the token in the Authorization header or in ``?token=``."""
        token = self.token(user)
        if header:
            return connect(self.url, additional_headers={"Authorization": f"Bearer {token}"})
        return connect(f"{self.url}?token={token}")

    def publish(self, *finals: Final | bytes) -> None:
        for final in finals:
            value = final if isinstance(final, bytes) else encode(final)
            key = b"junk" if isinstance(final, bytes) else final.user.encode()
            self.producer.produce(self.settings.final_topic, value, key)
        assert self.producer.flush(10) == 0


@pytest.fixture(scope="package")
def reveal_settings(settings: Settings) -> Settings:
    wanted = settings.model_copy(update={"final_topic": f"final-{uuid.uuid4().hex[:8]}"})
    topics.ensure_topics(topics.admin_client(wanted), wanted)
    return wanted


@pytest.fixture(scope="package")
def server(reveal_settings: Settings) -> Iterator[Server]:
    app = reveal_app(reveal_settings)
    producer = Producer(topics.client_config(reveal_settings, **{"linger.ms": 0}))
    try:
        with serving(app, name="reveal-server", timeout=20) as address:
            yield Server(reveal_settings, app, f"ws://{address}/ws", producer)
    finally:
        producer.flush(5)


@pytest.fixture(scope="package")
async def db(reveal_settings: Settings) -> AsyncIterator[AsyncEngine]:
    assert reveal_settings.database_url
    engine = create_engine(reveal_settings.database_url, pool_size=2)
    yield engine
    await engine.dispose()


def player() -> str:
    return f"player-{uuid.uuid4().hex[:12]}"


def final_for(user: str, reveal_at: float, **kwargs: Any) -> Final:
    fields: dict[str, Any] = {
        "play_id": str(uuid.uuid4()), "game_id": 1, "user": user, "reveal_at": reveal_at,
        "outcome": "WIN", "brand": 7, "coupon_code": f"CODE-{uuid.uuid4().hex[:6]}",
    }  # fmt: skip
    fields.update(kwargs)
    return Final(**fields)


async def received(ws: ClientConnection, timeout: float = 3.0) -> dict[str, Any]:
    """The next message, as JSON; fails after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        frame = await ws.recv()
    parsed: dict[str, Any] = orjson.loads(frame)
    return parsed
