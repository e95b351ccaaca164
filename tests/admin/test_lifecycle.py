"""A game's lifecycle after start: pause, resume, end; and what the gateway makes of it."""

from __future__ import annotations

import httpx

from frolic.app import create_app
from frolic.auth.tokens import mint_player_token
from frolic.config import Settings
from tests.admin.conftest import codes, csv_of, import_csv, new_brand, new_game, ok


async def live_game(admin: httpx.AsyncClient) -> int:
    brand = await new_brand(admin)
    game = await new_game(admin, {brand: 5})
    ok(await import_csv(admin, csv_of((brand, code) for code in codes(5))))
    ok(await admin.post(f"/admin/games/{game['id']}/start"))
    game_id: int = game["id"]
    return game_id


async def test_pause_resume_end(admin: httpx.AsyncClient) -> None:
    game = await live_game(admin)
    assert ok(await admin.post(f"/admin/games/{game}/pause"))["status"] == "paused"
    assert ok(await admin.post(f"/admin/games/{game}/pause"))["status"] == "paused"  # again
    assert ok(await admin.post(f"/admin/games/{game}/resume"))["status"] == "live"
    assert ok(await admin.post(f"/admin/games/{game}/end"))["status"] == "ended"
    for action in ("resume", "pause", "start"):
        refused = await admin.post(f"/admin/games/{game}/{action}")
        assert refused.status_code == 409, action
        assert refused.json()["error"] == "Conflict"
    assert ok(await admin.post(f"/admin/games/{game}/end"))["status"] == "ended"


async def test_a_draft_can_end_but_not_pause(admin: httpx.AsyncClient) -> None:
    brand = await new_brand(admin)
    draft = (await new_game(admin, {brand: 1}))["id"]
    assert (await admin.post(f"/admin/games/{draft}/pause")).status_code == 409
    assert ok(await admin.post(f"/admin/games/{draft}/end"))["status"] == "ended"
    assert (await admin.post("/admin/games/999999999/end")).status_code == 404


async def test_a_paused_game_takes_no_plays(admin: httpx.AsyncClient, settings: Settings) -> None:
    game = await live_game(admin)
    ok(await admin.post(f"/admin/games/{game}/pause"))
    token = mint_player_token(settings, "pauser")

    async def play() -> httpx.Response:
        # A fresh app each time: the gateway caches games for a couple of seconds.
        app = create_app(settings, roles=("api",))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://frolic") as c:
                return await c.post("/play", json={"gameId": game},
                                    headers={"Authorization": f"Bearer {token}"})  # fmt: skip

    refused = await play()
    assert refused.status_code == 422
    assert "paused" in refused.json()["detail"]
    ok(await admin.post(f"/admin/games/{game}/resume"))
    assert (await play()).status_code == 202
