"""Invariant 5: admin operations need the admin token."""

from __future__ import annotations

import logging
import re

import httpx
import pytest
from fastapi import FastAPI

from frolic.admin.routes import router
from frolic.auth.tokens import mint_player_token
from frolic.config import Settings
from tests.admin.conftest import client_of


def _admin_routes() -> list[tuple[str, str]]:
    """Every admin route, found rather than listed, so that a new one cannot be left open."""
    app = FastAPI()
    app.include_router(router)
    return sorted(
        (method.upper(), re.sub(r"\{[^}]+\}", "1", path))
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    )


ROUTES = _admin_routes()


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_needs_a_token(app: FastAPI, method: str, path: str) -> None:
    async with client_of(app) as anonymous:
        response = await anonymous.request(method, path, json={})
    assert response.status_code == 401
    assert response.json() == {
        "error": "Unauthorized",
        "detail": "missing Authorization: Bearer <token>",
    }


@pytest.mark.parametrize("header", ["Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer  ", "token"])
async def test_a_malformed_header_is_401(app: FastAPI, header: str) -> None:
    async with client_of(app) as client:
        response = await client.get("/admin/games/1", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["error"] == "Unauthorized"


async def test_a_wrong_token_is_401_and_never_logged(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "not-the-admin-token-0123456789"
    caplog.set_level(logging.DEBUG)
    async with client_of(app, wrong) as client:
        response = await client.post("/admin/brands", json={"name": "x"})
    assert response.status_code == 401
    assert response.json() == {
        "error": "Unauthorized",
        "detail": "the token is not the admin token",
    }
    assert wrong not in caplog.text


async def test_a_player_token_is_403(app: FastAPI, settings: Settings) -> None:
    async with client_of(app, mint_player_token(settings, "alice")) as player:
        response = await player.post("/admin/brands", json={"name": "x"})
    assert response.status_code == 403
    assert response.json()["error"] == "Forbidden"


async def test_the_admin_token_passes(admin: httpx.AsyncClient) -> None:
    response = await admin.get("/admin/games/9223372036854775807")
    assert response.status_code == 404  # through the gate, to a game that does not exist
    response = await admin.post("/admin/brands", json={"name": "Acme"})
    assert response.status_code == 201


async def test_openapi_declares_the_bearer_scheme(app: FastAPI) -> None:
    spec = app.openapi()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert spec["paths"]["/admin/coupons/import"]["post"]["requestBody"]["content"]["text/csv"]
