"""Players through the admin API: find them, count their plays, block them everywhere at once.

Two gateways (two apps, as two processes are) share the
session's PostgreSQL, Redis and broker; a block made through one must stop the player on
the other with no wait.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest
from sqlalchemy import text

from frolic.app import create_app
from frolic.auth.tokens import mint_player_token
from frolic.config import Settings
from frolic.resources import Resources
from tests.admin.conftest import client_of, new_brand, new_game, ok
from tests.support.factories import create_live_game, with_own_topics


@pytest.fixture(scope="module")
def gateway_settings(settings: Settings) -> Settings:
    return with_own_topics(settings, "users")


@pytest.fixture(scope="module")
async def gateways(gateway_settings: Settings) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two api processes' worth of app, each answering players and the admin."""
    async with AsyncExitStack() as stack:
        clients = []
        for _ in range(2):
            app = create_app(gateway_settings, roles=("api",))
            await stack.enter_async_context(app.router.lifespan_context(app))
            clients.append(await stack.enter_async_context(client_of(app)))
        yield clients


def player(settings: Settings, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_player_token(settings, user)}"}


def admin_of(settings: Settings) -> dict[str, str]:
    assert settings.admin_token is not None
    return {"Authorization": f"Bearer {settings.admin_token.get_secret_value()}"}


async def find(client: httpx.AsyncClient, s: Settings, external_id: str) -> dict[str, object]:
    page = ok(
        await client.get("/admin/users", params={"externalId": external_id}, headers=admin_of(s))
    )
    assert len(page["items"]) == 1, page
    found: dict[str, object] = page["items"][0]
    return found


async def test_a_block_stops_the_player_on_every_gateway_at_once(
    gateways: list[httpx.AsyncClient], gateway_settings: Settings
) -> None:
    s = gateway_settings
    one, other = gateways
    game = await create_live_game(s, budgets=(1,))
    user = f"rowdy-{uuid.uuid4().hex[:8]}"
    body = {"gameId": game.game_id}

    # Both gateways have now let the player play.
    for gateway in (one, other):
        assert (await gateway.post("/play", json=body, headers=player(s, user))).status_code == 202
    found = await find(one, s, user)
    assert found["plays"] == 2
    assert found["blocked"] is False

    blocked = ok(await one.post(f"/admin/users/{found['id']}/block", headers=admin_of(s)))
    assert blocked == found | {"blocked": True}
    for gateway in (other, one):
        refused = await gateway.post("/play", json=body, headers=player(s, user))
        assert refused.status_code == 403, refused.text
        assert refused.json() == {"error": "Forbidden", "detail": "this player may not play"}

    unblocked = ok(await one.post(f"/admin/users/{found['id']}/unblock", headers=admin_of(s)))
    assert unblocked["blocked"] is False
    for gateway in (other, one):
        assert (await gateway.post("/play", json=body, headers=player(s, user))).status_code == 202
    assert (await find(one, s, user))["plays"] == 4


async def test_get_a_user_with_plays_and_wins(admin: httpx.AsyncClient, res: Resources) -> None:
    user = f"lucky-{uuid.uuid4().hex[:8]}"
    game = (await new_game(admin, {await new_brand(admin): 1}))["id"]
    async with res.db.begin() as conn:
        user_id = (
            await conn.execute(
                text("INSERT INTO users (external_id, name) VALUES (:x, 'Lucky') RETURNING id"),
                {"x": user},
            )
        ).scalar_one()
        for status in ("WIN", "LOSE", "LOSE", "QUEUED", "WIN"):
            await conn.execute(
                text(
                    "INSERT INTO play_events (play_id, user_id, game_id, status, request_time) "
                    "VALUES (gen_random_uuid(), :u, :g, :s, now())"
                ),
                {"u": user_id, "g": game, "s": status},
            )
    found = ok(await admin.get(f"/admin/users/{user_id}"))
    assert found == {
        "id": user_id,
        "externalId": user,
        "name": "Lucky",
        "blocked": False,
        "createdAt": found["createdAt"],
        "plays": 5,
        "wins": 2,
    }
    page = ok(await admin.get("/admin/users", params={"externalId": user}))
    assert page == {"items": [found], "nextAfter": None}


async def test_list_blocked_users(admin: httpx.AsyncClient, res: Resources) -> None:
    users = [f"quiet-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    async with res.db.begin() as conn:
        ids = [
            (
                await conn.execute(
                    text("INSERT INTO users (external_id) VALUES (:x) RETURNING id"), {"x": u}
                )
            ).scalar_one()
            for u in users
        ]
    ok(await admin.post(f"/admin/users/{ids[1]}/block"))
    ok(await admin.post(f"/admin/users/{ids[1]}/block"))  # twice is still blocked
    blocked = ok(await admin.get("/admin/users", params={"blocked": True, "after": ids[0]}))
    assert ids[1] in [u["id"] for u in blocked["items"]]
    assert all(u["blocked"] for u in blocked["items"])
    allowed = ok(
        await admin.get("/admin/users", params={"blocked": False, "after": ids[0], "limit": 1})
    )
    assert [u["id"] for u in allowed["items"]] == [ids[2]]


async def test_unknown_and_bad_users(admin: httpx.AsyncClient) -> None:
    far = 2**63 - 1
    for response in (
        await admin.get(f"/admin/users/{far}"),
        await admin.post(f"/admin/users/{far}/block"),
        await admin.post(f"/admin/users/{far}/unblock"),
    ):
        assert response.status_code == 404
        assert response.json() == {"error": "NotFound", "detail": f"no user {far}"}
    assert (await admin.get("/admin/users/0")).status_code == 422
    assert (await admin.get("/admin/users", params={"externalId": "a\x00"})).status_code == 422
    assert ok(await admin.get("/admin/users", params={"externalId": "nobody-" + "x" * 40})) == {
        "items": [],
        "nextAfter": None,
    }
