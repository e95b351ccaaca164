"""Guest sessions (``POST /demo/session``) and the ``/demo`` page exist only with
``FROLIC_DEMO`` on."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from frolic.auth.players import player_id
from frolic.config import Settings
from tests.demo.games import pause
from tests.support.factories import create_live_game
from tests.support.serving import app_client


@pytest.fixture(scope="module")
async def demo(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings.model_copy(update={"demo": True})) as c:
        yield c


async def test_off_by_default_both_are_404(settings: Settings) -> None:
    assert settings.demo is False
    async with app_client(settings) as client:
        for answer in (await client.post("/demo/session"), await client.get("/demo")):
            assert answer.status_code == 404
            assert answer.json() == {"error": "NotFound", "detail": "the demo is off (FROLIC_DEMO)"}


async def test_a_guest_gets_a_player_token_for_the_newest_open_game(
    demo: httpx.AsyncClient, settings: Settings
) -> None:
    older = await create_live_game(settings, budgets=(1,))
    newest = await create_live_game(settings, budgets=(2, 1))
    answer = await demo.post("/demo/session")
    assert answer.status_code == 200, answer.text
    session = answer.json()
    assert session["gameId"] == newest.game_id
    assert [b["id"] for b in session["brands"]] == sorted(newest.brands)
    assert session["revealSeconds"] == settings.reveal_seconds
    assert player_id(settings, session["token"]) == session["player"]
    assert session["player"].startswith("guest-")

    again = (await demo.post("/demo/session", json={"gameId": older.game_id})).json()
    assert again["gameId"] == older.game_id
    assert again["player"] != session["player"]  # every session is a new guest


async def test_a_game_that_is_not_open_is_404_and_a_bad_body_422(
    demo: httpx.AsyncClient, settings: Settings
) -> None:
    game = await create_live_game(settings, budgets=(1,))
    await pause(settings, game.game_id)
    answer = await demo.post("/demo/session", json={"gameId": game.game_id})
    assert answer.status_code == 404
    assert answer.json()["detail"] == f"game {game.game_id} is not open for play right now"
    for body in ({"gameId": 0}, {"gameId": "x"}, {"game": 1}, [1]):
        answer = await demo.post("/demo/session", json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["error"] == "ValidationFailed"


async def test_the_page_is_self_contained(demo: httpx.AsyncClient) -> None:
    answer = await demo.get("/demo")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    # Nothing fetched from elsewhere: the machines it runs on may have no internet.
    assert not re.search(r"""(src|href|url)\s*[=(]\s*["']?(https?:)?//""", answer.text)
    assert "<script src" not in answer.text
