"""An app with only the admin router, on the session's real PostgreSQL and Redis."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from frolic.admin.routes import router
from frolic.config import Settings
from frolic.resources import Resources, open_resources
from frolic.web import install_error_handlers


def admin_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(settings) as res:
            app.state.resources = res
            try:
                yield
            finally:
                del app.state.resources

    app = FastAPI(lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(router)
    return app


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = admin_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
def res(app: FastAPI) -> Resources:
    resources: Resources = app.state.resources
    return resources


def client_of(app: FastAPI, token: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://frolic", headers=headers)


@pytest.fixture
async def admin(app: FastAPI, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    assert settings.admin_token is not None
    async with client_of(app, settings.admin_token.get_secret_value()) as client:
        yield client


# Factories: each makes what a test needs through the API, with fresh names and codes.

_names = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}-{next(_names)}"


def codes(n: int) -> list[str]:
    batch = uuid.uuid4().hex[:12]
    return [f"{batch}-{i:07d}" for i in range(n)]


def csv_of(rows: Iterable[tuple[Any, Any]], header: str = "brand_id,code") -> bytes:
    return ("\n".join([header, *(f"{b},{c}" for b, c in rows)]) + "\n").encode()


def window(hours: float = 24) -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "startTime": (now - timedelta(minutes=1)).isoformat(),
        "endTime": (now + timedelta(hours=hours)).isoformat(),
    }


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def new_brand(admin: httpx.AsyncClient) -> int:
    brand: int = ok(await admin.post("/admin/brands", json={"name": unique("brand")}), 201)["id"]
    return brand


async def new_campaign(admin: httpx.AsyncClient) -> int:
    body = {"name": unique("campaign"), **window(24 * 30)}
    campaign: int = ok(await admin.post("/admin/campaigns", json=body), 201)["id"]
    return campaign


async def new_game(
    admin: httpx.AsyncClient, budgets: dict[int, int], **fields: Any
) -> dict[str, Any]:
    body = {
        "name": unique("game"),
        "campaignId": await new_campaign(admin),
        **window(),
        "probabilityType": "paced",
        "budgets": [{"brandId": b, "coupons": n} for b, n in budgets.items()],
        **fields,
    }
    game: dict[str, Any] = ok(await admin.post("/admin/games", json=body), 201)
    return game


async def import_csv(
    admin: httpx.AsyncClient, body: bytes, game_id: int | None = None
) -> httpx.Response:
    params = {"gameId": game_id} if game_id is not None else {}
    return await admin.post(
        "/admin/coupons/import", content=body, params=params, headers={"Content-Type": "text/csv"}
    )
