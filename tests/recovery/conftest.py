"""A stack of the recovery tests' own: they flush and restart its Redis, which would pull
the ground from under every other test on the session's stack."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest

from frolic.app import create_app
from frolic.config import Settings
from frolic.stack import Stack
from tests.support.factories import with_own_topics
from tests.support.stacks import own_stack


@dataclass(frozen=True)
class OwnStack:
    stack: Stack
    settings: Settings


@pytest.fixture(scope="package")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnStack]:
    with own_stack(tmp_path_factory.mktemp("recovery-stack")) as (stack, settings):
        yield OwnStack(stack, settings)


@pytest.fixture(scope="module")
def loss_settings(own: OwnStack) -> Settings:
    # A short re-drive: the plays whose decisions are dropped come back within the test.
    return with_own_topics(
        own.settings, "redis-loss", reveal_seconds=1.0, redrive_after_seconds=2.0
    )


@pytest.fixture(scope="module")
async def client(loss_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The whole pipeline in this process (api, allocator with its warden, recorder), one
    per test module, on topics of its own."""
    app = create_app(loss_settings, roles=("api", "allocator", "recorder"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://frolic") as c:
            yield c
