"""A stack of this package's own: its tests stop and start servers, which would break every
other test on the session's shared one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection

from frolic import topics
from frolic.auth.tokens import mint_player_token
from frolic.config import Settings
from frolic.stack import Stack
from tests.support.stacks import own_stack


@dataclass
class Outage:
    stack: Stack
    settings: Settings

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_player_token(self.settings, user)}"}


@pytest.fixture(scope="package")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outage]:
    with own_stack(tmp_path_factory.mktemp("outage-stack")) as (stack, ready):
        settings = ready.model_copy(update={
            "reveal_seconds": 2.0, "redrive_after_seconds": 3.0,
            # Not the embedded broker's default (4): a topic it re-creates on its own shows.
            "kafka_partitions": 3,
        })  # fmt: skip
        topics.ensure_topics(topics.admin_client(settings), settings)
        yield Outage(stack, settings)


async def listening(app: FastAPI, timeout: float = 20) -> None:
    """Until the app's ws role hears accepted plays (it tells pending only those)."""
    deadline = time.monotonic() + timeout
    while not app.state.reveal.plays.assigned:
        assert time.monotonic() < deadline, "the ws role never heard the play topic"
        await asyncio.sleep(0.05)


async def next_message(ws: ClientConnection, timeout: float) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        parsed: dict[str, Any] = orjson.loads(await ws.recv())
    return parsed
