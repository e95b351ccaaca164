"""A game's lifecycle after start: pause, resume, end; and what the gateway makes of it."""

from __future__ import annotations

import time

import httpx

from frolic.app import create_app
from frolic.auth.tokens import mint_player_token
from frolic.config import Settings
from frolic.engine.redis_store import store_for
from frolic.engine.rules import NO_CAP
from frolic.engine.step import Decision
from frolic.games.repository import load_game
from frolic.resources import Resources
from tests.admin.conftest import codes, csv_of, import_csv, new_brand, new_game, ok
from tests.games.test_start import anchors


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


async def test_resume_anchors_the_pacing_line_at_what_was_awarded(
    admin: httpx.AsyncClient, res: Resources
) -> None:
    """The line kept rising while the game was paused; resumed, it runs from the coupons
    awarded at that moment, in Redis and on the game's row (for a rebuild) alike."""
    game = await live_game(admin)
    view = await load_game(res.db, game)
    assert view is not None
    store = store_for(res.settings, res.redis)
    now = time.time()
    await store.decide(view.rules, [Decision(f"won-{i}", now, 0, True, NO_CAP, NO_CAP, 0.0)
                                    for i in range(3)])  # fmt: skip
    went_live = await anchors(res, game)
    ok(await admin.post(f"/admin/games/{game}/pause"))
    assert await anchors(res, game) == went_live  # a pause moves nothing

    before = time.time()
    ok(await admin.post(f"/admin/games/{game}/resume"))
    after = time.time()
    in_redis, on_row = await anchors(res, game)
    assert in_redis == on_row
    line_t, line_from = in_redis
    assert line_t is not None
    assert before <= line_t <= after
    assert line_from == 3.0

    # Resuming a live game again changes nothing.
    ok(await admin.post(f"/admin/games/{game}/resume"))
    assert await anchors(res, game) == (in_redis, on_row)

    # Redis took a resume, then the process died before PostgreSQL committed: the game is
    # still paused, and the retry anchors again, the row learning the anchor Redis has.
    ok(await admin.post(f"/admin/games/{game}/pause"))
    await store.decide(view.rules, [Decision("queued", now, 0, True, NO_CAP, NO_CAP, 0.0)])
    await store.resume(view.rules, time.time())
    ok(await admin.post(f"/admin/games/{game}/resume"))
    in_redis, on_row = await anchors(res, game)
    assert in_redis == on_row
    assert in_redis[1] == 4.0
