"""Request bodies that are too big or not text. Over the limit: 413 ``{"error", "detail"}``
before the body is read whole, whether its length is declared or it comes in chunks, and
nothing is stored. JSON that is not UTF-8: 422, as any body that is not JSON."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from frolic.app import create_app
from frolic.auth.tokens import mint_player_token
from frolic.config import Settings
from frolic.play.endpoints import MAX_BODY_BYTES
from frolic.resources import Resources
from tests.admin.conftest import codes, csv_of, new_brand, unique
from tests.support.factories import create_live_game, with_own_topics
from tests.support.serving import serving

LIMIT = 4096


@pytest.fixture(scope="module")
def limited(settings: Settings) -> Settings:
    return with_own_topics(settings, "bodies", max_body_bytes=LIMIT, demo=True)


@pytest.fixture(scope="module")
async def app(limited: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(limited, roles=("api",))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def admin(app: FastAPI, limited: Settings) -> AsyncIterator[httpx.AsyncClient]:
    assert limited.admin_token is not None
    headers = {"Authorization": f"Bearer {limited.admin_token.get_secret_value()}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://frolic", headers=headers
    ) as client:
        yield client


def padded(body: dict[str, object], size: int) -> bytes:
    """``body`` as JSON of ``size`` bytes: blanks before the closing brace."""
    raw = orjson.dumps(body)
    return raw[:-1] + b" " * (size - len(raw)) + b"}"


async def chunks(body: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    """The body in chunks, sent with no Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def refused(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "PayloadTooLarge"
    assert response.json()["detail"]


async def brands_named(res: Resources, name: str) -> int:
    async with res.db.connect() as conn:
        query = text("SELECT count(*) FROM brands WHERE name = :n")
        return int((await conn.execute(query, {"n": name})).scalar_one())


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
async def test_an_admin_body_over_the_limit_is_413_and_stores_nothing(
    admin: httpx.AsyncClient, app: FastAPI, chunked: bool
) -> None:
    name = unique("big")
    body = padded({"name": name}, LIMIT + 1)
    content = chunks(body) if chunked else body
    headers = {"Content-Type": "application/json"}
    refused(await admin.post("/admin/brands", content=content, headers=headers))
    assert await brands_named(app.state.resources, name) == 0
    # At the limit it is read as usual.
    at_limit = await admin.post("/admin/brands", content=padded({"name": name}, LIMIT),
                                headers=headers)  # fmt: skip
    assert at_limit.status_code == 201, at_limit.text


async def test_every_body_taking_route_has_the_limit(admin: httpx.AsyncClient) -> None:
    big = padded({}, LIMIT + 1)
    json = {"Content-Type": "application/json"}
    for method, path in [
        ("PATCH", "/admin/brands/1"),
        ("POST", "/admin/games"),
        ("POST", "/admin/coupons/redeem"),
        ("POST", "/admin/games/1/budgets/1/top-up"),
        ("POST", "/demo/session"),
        ("GET", "/healthz"),  # a body where none is expected, declared too big
    ]:
        response = await admin.request(method, path, content=big, headers=json)
        refused(response)


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
async def test_a_play_over_its_limit_is_413(
    admin: httpx.AsyncClient, limited: Settings, chunked: bool
) -> None:
    body = padded({"gameId": 1}, MAX_BODY_BYTES + 1)
    token = mint_player_token(limited, "big-player")
    response = await admin.post(
        "/play", content=chunks(body) if chunked else body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    refused(response)


async def test_a_coupon_file_over_its_limit_is_413_and_stores_nothing(
    admin: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Far over the JSON limit and under the import's own: the import reads it.
    brand = await new_brand(admin)
    batch = codes(400)
    body = csv_of((brand, c) for c in batch)
    assert LIMIT < len(body)
    csv = {"Content-Type": "text/csv"}
    monkeypatch.setattr("frolic.coupons.endpoints.MAX_IMPORT_BYTES", len(body) - 1)
    for content in (body, chunks(body)):
        refused(await admin.post("/admin/coupons/import", content=content, headers=csv))
    async with app.state.resources.db.connect() as conn:
        query = text("SELECT count(*) FROM coupons WHERE code = ANY(:c)")
        assert (await conn.execute(query, {"c": batch})).scalar_one() == 0
    monkeypatch.setattr("frolic.coupons.endpoints.MAX_IMPORT_BYTES", len(body))
    response = await admin.post("/admin/coupons/import", content=body, headers=csv)
    assert response.json()["imported"] == 400


@pytest.mark.parametrize("path", ["/admin/brands", "/play"])
async def test_a_json_body_that_is_not_utf8_is_422(
    admin: httpx.AsyncClient, limited: Settings, path: str
) -> None:
    token = mint_player_token(limited, "odd-bytes")
    headers = {"Content-Type": "application/json"}
    if path == "/play":
        headers["Authorization"] = f"Bearer {token}"
    response = await admin.post(path, content=b'{"name": "\xff\xfe"}', headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "ValidationFailed"


async def test_a_device_the_ledger_cannot_hold_is_422_and_spoils_no_other_play(
    admin: httpx.AsyncClient, limited: Settings
) -> None:
    """Plays are written in batches: one that PostgreSQL refuses (a NUL in jsonb) failed
    every play of its batch with 503, and an integer orjson cannot write was a 500."""
    game = await create_live_game(limited, budgets=(5,))
    nested: list[Any] = []
    for _ in range(300):
        nested = [nested]
    bad: list[dict[str, Any]] = [
        {"n": 2**70},
        {"key\x00": 1},
        {"v": ["a", {"w": "b\x00"}]},
        {"deep": nested},
    ]

    async def play(user: str, device: dict[str, Any]) -> int:
        token = mint_player_token(limited, user)
        response = await admin.post(
            "/play", json={"gameId": game.game_id, "device": device},
            headers={"Authorization": f"Bearer {token}"},
        )  # fmt: skip
        return response.status_code

    answers = await asyncio.gather(
        *(play(f"device-good-{i}", {"os": "web", "v": [1, "x"]}) for i in range(12)),
        *(play(f"device-bad-{i}", device) for i, device in enumerate(bad)),
    )
    assert answers == [202] * 12 + [422] * len(bad)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("0001-01-01T00:00:00Z", "2000-01-01T00:00:00Z"),  # stored as -infinity
        ("2000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z"),  # stored as infinity
        ("1969-12-31T23:59:59Z", "2000-01-01T00:00:00Z"),
    ],
)
async def test_a_moment_outside_1970_to_9999_is_422(
    admin: httpx.AsyncClient, start: str, end: str
) -> None:
    """Found by the fuzzer: year 1 was stored as -infinity and read back without a time
    zone, an answer that broke its own schema."""
    body = {"name": unique("campaign"), "startTime": start, "endTime": end}
    response = await admin.post("/admin/campaigns", json=body)
    assert response.status_code == 422, response.text
    assert "1970" in response.text


@pytest.fixture(scope="module")
def served(limited: Settings) -> Iterator[str]:
    with serving(create_app(limited, roles=("api",)), name="oversize-api") as address:
        yield f"http://{address}"


def test_a_served_app_answers_413_before_reading_the_body(served: str, limited: Settings) -> None:
    """Over a real socket: the answer comes although the client is still sending."""
    assert limited.admin_token is not None
    headers = {
        "Authorization": f"Bearer {limited.admin_token.get_secret_value()}",
        "Content-Type": "application/json",
    }
    body = padded({"name": "x"}, 8 * 2**20)
    with httpx.Client(base_url=served, headers=headers, timeout=10) as client:
        refused(client.post("/admin/brands", content=body))
