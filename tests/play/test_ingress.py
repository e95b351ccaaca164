"""``POST /play`` as the app serves it (``FrolicApp``, in front of FastAPI), and as the
route documents it."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from frolic.app import create_app
from frolic.auth.tokens import mint_player_token
from frolic.config import Settings
from frolic.db.session import create_engine
from frolic.games.repository import GameCache
from tests.support.factories import create_live_game, with_own_topics


@pytest.fixture(scope="module")
def api_settings(settings: Settings) -> Settings:
    return with_own_topics(settings, "ingress")


@pytest.fixture(scope="module")
async def app(api_settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(api_settings, roles=("api",))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="module")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://frolic") as c:
        yield c


def auth(settings: Settings, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_player_token(settings, user)}"}


async def plays_of(settings: Settings, user: str) -> int:
    assert settings.database_url
    db = create_engine(settings.database_url)
    try:
        async with db.connect() as conn:
            return int((await conn.execute(text(
                "SELECT count(*) FROM play_events p JOIN users u ON u.id = p.user_id "
                "WHERE u.external_id = :x"), {"x": user})).scalar_one())  # fmt: skip
    finally:
        await db.dispose()


async def test_a_play_is_answered_with_a_sized_json_body(
    client: httpx.AsyncClient, api_settings: Settings
) -> None:
    game = await create_live_game(api_settings, budgets=(1,))
    user = f"sized-{uuid.uuid4().hex[:6]}"
    answer = await client.post("/play", json={"gameId": game.game_id},
                               headers=auth(api_settings, user))  # fmt: skip
    assert answer.status_code == 202, answer.text
    # A length, not chunks: clients and load balancers expect one for a small JSON answer.
    assert int(answer.headers["content-length"]) == len(answer.content)
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body.keys() == {"playId", "status", "revealAt", "playNumber", "clientSeed"}
    assert (body["status"], body["playNumber"], body["clientSeed"]) == ("QUEUED", 1, "")
    assert await plays_of(api_settings, user) == 1


async def test_a_huge_body_is_refused_unread(
    client: httpx.AsyncClient, api_settings: Settings
) -> None:
    answer = await client.post("/play", content=b"{" + b" " * 100_000 + b"}",
                               headers=auth(api_settings, "big"))  # fmt: skip
    assert answer.status_code == 413
    assert answer.json()["error"] == "PayloadTooLarge"


async def test_an_unexpected_error_in_a_play_is_the_apps_logged_500(
    app: FastAPI, client: httpx.AsyncClient, api_settings: Settings,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(app.state.plays, "accept", broken)
    answer = await client.post("/play", json={"gameId": 1}, headers=auth(api_settings, "bug"))
    assert answer.status_code == 500
    assert answer.json() == {
        "error": "InternalError",
        "detail": "unexpected error; it has been logged",
    }
    assert any(r.exc_info and "a bug" in str(r.exc_info[1]) for r in caplog.records)


async def test_a_blocked_players_play_is_not_written_and_frees_its_key(
    client: httpx.AsyncClient, api_settings: Settings
) -> None:
    s = api_settings
    game = await create_live_game(s, budgets=(1,))
    user = f"blocked-{uuid.uuid4().hex[:6]}"
    assert s.database_url
    db = create_engine(s.database_url)
    async with db.begin() as conn:
        await conn.execute(text("INSERT INTO users (external_id, blocked) VALUES (:x, true)"),
                           {"x": user})  # fmt: skip
    headers = {**auth(s, user), "Idempotency-Key": "once"}
    refused = await client.post("/play", json={"gameId": game.game_id}, headers=headers)
    assert refused.status_code == 403
    assert await plays_of(s, user) == 0
    async with db.begin() as conn:
        await conn.execute(text("UPDATE users SET blocked = false WHERE external_id = :x"),
                           {"x": user})  # fmt: skip
    await db.dispose()
    # The refused play left no claim on the key: the retry is a play of its own.
    accepted = await client.post("/play", json={"gameId": game.game_id}, headers=headers)
    assert accepted.status_code == 202
    assert await plays_of(s, user) == 1


async def test_a_retry_gets_its_play_back_after_the_game_closed(
    app: FastAPI, client: httpx.AsyncClient, api_settings: Settings
) -> None:
    s = api_settings
    game = await create_live_game(s, budgets=(1,))
    headers = {**auth(s, f"late-{uuid.uuid4().hex[:6]}"), "Idempotency-Key": "k1"}
    first = await client.post("/play", json={"gameId": game.game_id}, headers=headers)
    assert first.status_code == 202
    assert s.database_url
    db = create_engine(s.database_url)
    async with db.begin() as conn:
        await conn.execute(text("UPDATE games SET status = 'ended' WHERE id = :g"),
                           {"g": game.game_id})  # fmt: skip
    await db.dispose()
    app.state.plays.games = GameCache(app.state.plays.db)  # the old one would hide it for 2 s
    again = await client.post("/play", json={"gameId": game.game_id}, headers=headers)
    assert again.status_code == 202
    assert again.json() == first.json()
    fresh = await client.post("/play", json={"gameId": game.game_id},
                              headers={**headers, "Idempotency-Key": "k2"})  # fmt: skip
    assert fresh.status_code == 422


async def test_a_game_past_its_end_refuses_plays_as_ended_whatever_its_row_says(
    app: FastAPI, client: httpx.AsyncClient, api_settings: Settings
) -> None:
    s = api_settings
    game = await create_live_game(s, budgets=(1,))
    assert s.database_url
    db = create_engine(s.database_url)
    async with db.begin() as conn:  # its end passed; the scheduler has not marked it yet
        await conn.execute(text(
            "UPDATE games SET end_time = now() - interval '1 second', "
            "start_time = now() - interval '1 hour' WHERE id = :g"), {"g": game.game_id},
        )  # fmt: skip
    await db.dispose()
    app.state.plays.games = GameCache(app.state.plays.db)
    answer = await client.post("/play", json={"gameId": game.game_id},
                               headers=auth(s, f"late-{uuid.uuid4().hex[:6]}"))  # fmt: skip
    assert answer.status_code == 422
    assert answer.json()["error"] == "ValidationFailed"
    assert re.fullmatch(rf"game {game.game_id} ended at \S+; it takes no more plays",
                        answer.json()["detail"])  # fmt: skip


async def test_the_route_documents_the_play(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    post = spec["paths"]["/play"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["properties"]) == {"gameId", "device", "clientSeed"}
    assert body["required"] == ["gameId"]
    assert "202" in post["responses"]
    assert {"401", "403", "429"} <= set(post["responses"])


async def test_the_api_judges_a_play_by_its_own_clock(api_settings: Settings) -> None:
    """The clock is the process's, built once from its settings: an api whose clock runs two
    hours ahead finds an hour-long game already ended, and says when it ended."""
    game = await create_live_game(api_settings, budgets=(1,), minutes=60)
    ahead = api_settings.model_copy(update={"clock_offset_seconds": 7200.0})
    app = create_app(ahead, roles=("api",))
    # Its own client address: the skewed clock counts it in the IP's rate two hours ahead,
    # which would refuse the other tests' plays from the shared address.
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 40_000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://frolic") as client,
    ):
        answer = await client.post("/play", json={"gameId": game.game_id},
                                   headers=auth(ahead, f"skew-{uuid.uuid4().hex[:6]}"))  # fmt: skip
    assert answer.status_code == 422
    assert re.fullmatch(rf"game {game.game_id} ended at \S+; it takes no more plays",
                        answer.json()["detail"])  # fmt: skip


async def test_a_players_plays_are_numbered_from_1_per_game_with_no_gap(
    client: httpx.AsyncClient, api_settings: Settings
) -> None:
    """Concurrent plays of one player (batched together by the writer, or not) are numbered
    1..n in each game; another game counts on its own; a retried Idempotency-Key keeps its
    play's number and client seed (docs/fairness.md)."""
    s = api_settings
    game = await create_live_game(s, budgets=(5,))
    other = await create_live_game(s, budgets=(5,))
    user = f"numbered-{uuid.uuid4().hex[:6]}"
    headers = auth(s, user)

    async def play(game_id: int) -> dict[str, Any]:
        answer = await client.post("/play", json={"gameId": game_id}, headers=headers)
        assert answer.status_code == 202, answer.text
        body: dict[str, Any] = answer.json()
        return body

    first = await asyncio.gather(*(play(game.game_id) for _ in range(4)))
    assert sorted(b["playNumber"] for b in first) == [1, 2, 3, 4]
    assert (await play(other.game_id))["playNumber"] == 1
    keyed = {**headers, "Idempotency-Key": "number-me"}
    answer = await client.post("/play", json={"gameId": game.game_id, "clientSeed": "lucky-7"},
                               headers=keyed)  # fmt: skip
    assert (answer.json()["playNumber"], answer.json()["clientSeed"]) == (5, "lucky-7")
    again = await client.post("/play", json={"gameId": game.game_id, "clientSeed": "other"},
                              headers=keyed)  # fmt: skip
    assert again.json() == answer.json()  # its number and seed, not the retry's
    assert (await play(game.game_id))["playNumber"] == 6
    assert s.database_url
    db = create_engine(s.database_url)
    async with db.connect() as conn:
        stored = (await conn.execute(text(
            "SELECT n.number, p.client_seed FROM play_events p JOIN users u "
            "ON u.id = p.user_id JOIN play_numbers n ON n.play_id = p.play_id "
            "WHERE u.external_id = :u AND p.game_id = :g ORDER BY n.number"),
            {"u": user, "g": game.game_id})).all()  # fmt: skip
    await db.dispose()
    assert [n for n, _ in stored] == [1, 2, 3, 4, 5, 6]
    assert [c for n, c in stored if n == 5] == ["lucky-7"]


@pytest.mark.parametrize("seed", ["a|b", "x" * 65, "é", "with space"])
async def test_a_client_seed_outside_its_alphabet_is_422(
    client: httpx.AsyncClient, api_settings: Settings, seed: str
) -> None:
    game = await create_live_game(api_settings, budgets=(1,))
    headers = auth(api_settings, f"seedy-{uuid.uuid4().hex[:6]}")
    answer = await client.post("/play", json={"gameId": game.game_id, "clientSeed": seed},
                               headers=headers)  # fmt: skip
    assert answer.status_code == 422
    assert answer.json()["error"] == "ValidationFailed"
