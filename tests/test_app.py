"""The HTTP surface of the foundation: health, readiness, OpenAPI and the error shape."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from frolic import topics
from frolic.config import Settings
from tests.support.serving import app_client


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings) as c:
        yield c


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert abs(body["time"] - time.time()) < 5


async def test_healthz_shows_the_processs_own_clock(settings: Settings) -> None:
    ahead = settings.model_copy(update={"clock_offset_seconds": 3600.0})
    async with app_client(ahead, roles=("ws",)) as client:
        shown = (await client.get("/healthz")).json()["time"]
    assert 3595 < shown - time.time() < 3605


async def test_readyz_when_everything_answers(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    topics.ensure_topics(topics.admin_client(settings), settings)
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"postgres": "ok", "redis": "ok", "broker": "ok"}


async def test_readyz_names_what_is_missing(settings: Settings, empty_database: str) -> None:
    unmigrated = settings.model_copy(
        update={"database_url": empty_database, "play_topic": "never-created"}
    )
    # A process that publishes runs the topic keeper, which would create the topic before
    # /readyz looks (a race this test lost one time in six); a ws-only process keeps none.
    async with app_client(unmigrated, roles=("ws",)) as client:
        response = await client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["error"] == "NotReady"
        assert "run `frolic migrate`" in body["detail"]["postgres"]
        assert body["detail"]["redis"] == "ok"
        assert body["detail"]["broker"] == "missing topics: never-created"


async def test_readyz_when_redis_is_gone(settings: Settings) -> None:
    gone = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    async with app_client(gone) as client:
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert "ConnectionError" in response.json()["detail"]["redis"]


async def test_openapi_lists_the_endpoints(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert {"/healthz", "/readyz"} <= set(spec["paths"])


async def test_unknown_route_gets_the_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.json() == {"error": "NotFound", "detail": "Not Found"}
    response = await client.post("/healthz")
    assert response.status_code == 405
    assert response.json()["error"] == "MethodNotAllowed"
