"""The admin token is compared in constant time (``hmac.compare_digest`` on bytes), and a
wrong one, of the right length or not, is a plain 401 ``{"error", "detail"}``.

``is_admin`` is the one place a secret is compared with what a client sent: player tokens
are verified by their signature, and neither the demo session nor ``/metrics`` takes one.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from types import SimpleNamespace

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import SecretStr

from frolic.admin.auth import require_admin
from frolic.auth.players import is_admin
from frolic.auth.tokens import mint_player_token
from frolic.config import Settings
from frolic.web import install_error_handlers

ADMIN = "the-admin-token-0123456789abcdef"


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, object]]:
    """Every call of hmac.compare_digest, its arguments recorded, then made for real."""
    calls: list[tuple[object, object]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    return calls


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_error_handlers(app)
    settings = Settings(admin_token=SecretStr(ADMIN), jwt_secret=SecretStr("s" * 32))
    app.state.resources = SimpleNamespace(settings=settings)

    @app.get("/admin/thing", dependencies=[Depends(require_admin)])
    async def thing() -> dict[str, bool]:
        return {"ok": True}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://frolic") as c:
        yield c


async def _as(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/admin/thing", headers={"Authorization": f"Bearer {token}"})


async def test_the_admin_token_passes_through_compare_digest(
    client: httpx.AsyncClient, compared: list[tuple[object, object]]
) -> None:
    assert (await _as(client, ADMIN)).status_code == 200
    assert compared == [(ADMIN.encode(), ADMIN.encode())]  # bytes: no str fast path


@pytest.mark.parametrize(
    "wrong",
    [
        ADMIN[:-1] + "X",  # same length, last byte off
        "X" + ADMIN[1:],  # same length, first byte off
        ADMIN[:-1],  # a prefix
        ADMIN + "0",  # longer
        "short",
    ],
)
async def test_a_wrong_token_of_any_length_is_refused_in_constant_time(
    client: httpx.AsyncClient, compared: list[tuple[object, object]], wrong: str
) -> None:
    answer = await _as(client, wrong)
    assert answer.status_code == 401
    assert answer.json().keys() == {"error", "detail"}
    assert answer.json()["error"] == "Unauthorized"
    assert compared == [(wrong.encode(), ADMIN.encode())]


async def test_a_player_token_is_compared_too_then_forbidden(
    client: httpx.AsyncClient, compared: list[tuple[object, object]]
) -> None:
    settings = Settings(admin_token=SecretStr(ADMIN), jwt_secret=SecretStr("s" * 32))
    token = mint_player_token(settings, "p1")
    answer = await _as(client, token)
    assert answer.status_code == 403
    assert answer.json()["error"] == "Forbidden"
    # First against the admin token; then PyJWT checks the signature with it as well.
    assert compared[0] == (token.encode(), ADMIN.encode())
    assert len(compared) == 2


def test_no_admin_token_configured_lets_nobody_in() -> None:
    assert not is_admin(Settings(admin_token=SecretStr("")), "")
    assert not is_admin(Settings(), "anything")
