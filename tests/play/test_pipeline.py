"""The play pipeline in one process on the real stack: ingestion, Kafka, allocator,
recorder, coupon codes, and the reveal through ``GET /plays/{id}``."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from frolic.app import create_app
from frolic.auth.tokens import mint_player_token
from frolic.config import Settings
from frolic.db.session import create_engine
from tests.support.factories import create_live_game, wait_decided, with_own_topics


@pytest.fixture(scope="module")
def pipeline_settings(settings: Settings) -> Settings:
    return with_own_topics(settings, "pipeline", reveal_seconds=1.5)


@pytest.fixture(scope="module")
async def client(pipeline_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(pipeline_settings, roles=("api", "allocator", "recorder"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://frolic") as c:
            yield c


def auth(settings: Settings, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_player_token(settings, user)}"}


async def test_plays_flow_to_final_outcomes(
    client: httpx.AsyncClient, pipeline_settings: Settings
) -> None:
    s = pipeline_settings
    game = await create_live_game(s, budgets=(6, 4))
    users = [f"player-{uuid.uuid4().hex[:6]}" for _ in range(30)]

    async def play(user: str, key: str) -> tuple[str, dict[str, object]]:
        response = await client.post(
            "/play", json={"gameId": game.game_id, "device": {"os": "test"}},
            headers={**auth(s, user), "Idempotency-Key": key},
        )  # fmt: skip
        assert response.status_code == 202, response.text
        return user, response.json()

    requests = [(u, f"k{i}") for u in users for i in range(3)]
    retries = random.Random(1).sample(requests, 9)  # ~10% of requests are retried
    answered = await asyncio.gather(*(play(u, k) for u, k in requests + retries))
    by_key: dict[tuple[str, str], set[str]] = {}
    for (user, key), (_, body) in zip(requests + retries, answered, strict=True):
        assert body["status"] == "QUEUED"
        by_key.setdefault((user, key), set()).add(str(body["playId"]))
    assert all(len(ids) == 1 for ids in by_key.values())  # a retry is the same play
    plays = {next(iter(ids)): user for (user, _), ids in by_key.items()}
    assert len(plays) == 90

    # Nothing is disclosed before the reveal, and the play keeps the revealAt it was given.
    some_play, owner = next(iter(plays.items()))
    early = (await client.get(f"/plays/{some_play}", headers=auth(s, owner))).json()
    assert early["status"] == "QUEUED"
    assert early["outcome"] is None
    given = next(b["revealAt"] for _, b in answered if b["playId"] == some_play)
    assert early["revealAt"] == pytest.approx(given, abs=1e-3)

    await wait_decided(s, list(plays))
    await asyncio.sleep(s.reveal_seconds)
    views = {}
    for play_id, user in plays.items():
        response = await client.get(f"/plays/{play_id}", headers=auth(s, user))
        assert response.status_code == 200
        views[play_id] = response.json()
    assert all(v["status"] == "REVEALED" for v in views.values())
    wins = [v for v in views.values() if v["outcome"] == "WIN"]
    per_brand = Counter(v["brand"] for v in wins)
    assert all(per_brand[b] <= budget for b, budget in game.brands.items())
    codes = [v["couponCode"] for v in wins]
    assert len(codes) == len(set(codes))  # no code held by two plays
    assert set(codes) <= game.codes
    # The ledger keeps what ingestion recorded and adds the decision's audit.
    assert s.database_url
    db = create_engine(s.database_url)
    query = text("SELECT metadata FROM play_events WHERE play_id = ANY(:ids)")
    async with db.connect() as conn:
        ids = [uuid.UUID(p) for p in plays]
        metas = (await conn.execute(query, {"ids": ids})).scalars().all()
    await db.dispose()
    assert all(m["device"] == {"os": "test"} for m in metas)
    assert all({"p", "draw", "revealAt"} <= set(m) for m in metas)
    # A player sees only their own plays.
    other = next(u for u in users if u != owner)
    assert (await client.get(f"/plays/{some_play}", headers=auth(s, other))).status_code == 404


async def test_bad_input_gets_a_clear_4xx(
    client: httpx.AsyncClient, pipeline_settings: Settings
) -> None:
    s = pipeline_settings
    game = await create_live_game(s, budgets=(1,))
    good = auth(s, "someone")
    cases = [
        ({"gameId": game.game_id}, {}, 401, "Unauthorized"),
        ({"gameId": game.game_id}, {"Authorization": "Bearer nonsense"}, 401, "Unauthorized"),
        ({"gameId": "x"}, good, 422, "ValidationFailed"),
        ({}, good, 422, "ValidationFailed"),
        ({"gameId": game.game_id, "extra": 1}, good, 422, "ValidationFailed"),
        ({"gameId": 999_999_999}, good, 404, "NotFound"),
    ]
    for body, headers, status, error in cases:
        response = await client.post("/play", json=body, headers=headers)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"] == error
    expired = mint_player_token(s, "someone", ttl_seconds=-60)
    response = await client.post("/play", json={"gameId": game.game_id},
                                 headers={"Authorization": f"Bearer {expired}"})  # fmt: skip
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
    response = await client.post("/play", content=b"{not json", headers=good)
    assert response.status_code == 422
    assert (await client.get("/plays/not-a-uuid", headers=good)).status_code == 404


async def test_player_limits_answer_429_with_retry_after(
    client: httpx.AsyncClient, pipeline_settings: Settings
) -> None:
    s = pipeline_settings
    game = await create_live_game(s, budgets=(1,), max_plays_per_day=2, cooldown_seconds=0)
    headers = auth(s, f"limited-{uuid.uuid4().hex[:6]}")
    for _ in range(2):
        ok = await client.post("/play", json={"gameId": game.game_id}, headers=headers)
        assert ok.status_code == 202
    over = await client.post("/play", json={"gameId": game.game_id}, headers=headers)
    assert over.status_code == 429
    assert over.json()["error"] == "RateLimited"
    assert int(over.headers["Retry-After"]) >= 1


async def test_play_ids_are_uuid7_and_a_burst_over_the_user_rate_gets_429(
    client: httpx.AsyncClient, pipeline_settings: Settings
) -> None:
    s = pipeline_settings
    game = await create_live_game(s, budgets=(1,))
    headers = auth(s, f"eager-{uuid.uuid4().hex[:6]}")
    answers = [
        await client.post("/play", json={"gameId": game.game_id}, headers=headers)
        for _ in range(s.rate_user_burst + 3)
    ]
    accepted = [a for a in answers if a.status_code == 202]
    assert uuid.UUID(accepted[0].json()["playId"]).version == 7
    refused = [a for a in answers if a.status_code == 429]
    assert refused
    assert len(accepted) >= s.rate_user_burst - 1
    assert refused[0].json()["error"] == "RateLimited"
    assert int(refused[0].headers["Retry-After"]) >= 1


async def test_a_blocked_player_is_refused(
    client: httpx.AsyncClient, pipeline_settings: Settings
) -> None:
    s = pipeline_settings
    game = await create_live_game(s, budgets=(1,))
    user = f"banned-{uuid.uuid4().hex[:6]}"
    assert s.database_url
    db = create_engine(s.database_url)
    async with db.begin() as conn:
        await conn.execute(text("INSERT INTO users (external_id, blocked) VALUES (:x, true)"),
                           {"x": user})  # fmt: skip
    await db.dispose()
    response = await client.post("/play", json={"gameId": game.game_id}, headers=auth(s, user))
    assert response.status_code == 403
    assert response.json()["error"] == "Forbidden"


async def test_a_game_cooldown_spaces_a_players_plays(
    client: httpx.AsyncClient, pipeline_settings: Settings
) -> None:
    s = pipeline_settings
    game = await create_live_game(s, budgets=(1,), cooldown_seconds=30)
    headers = auth(s, f"hasty-{uuid.uuid4().hex[:6]}")
    first = await client.post("/play", json={"gameId": game.game_id}, headers=headers)
    assert first.status_code == 202
    second = await client.post("/play", json={"gameId": game.game_id}, headers=headers)
    assert second.status_code == 429
    assert 25 <= int(second.headers["Retry-After"]) <= 30


async def test_the_ip_rate_limit(pipeline_settings: Settings) -> None:
    from frolic.errors import RateLimited
    from frolic.play.limits import Limits, Rate
    from frolic.redis_client import connect

    assert pipeline_settings.redis_url
    redis = connect(pipeline_settings.redis_url)
    limits = Limits(redis)
    ip = f"10.{uuid.uuid4().int % 250}.0.{uuid.uuid4().int % 250}"
    try:
        await limits.rate("ip", ip, Rate(per_second=1, burst=2))
        await limits.rate("ip", ip, Rate(per_second=1, burst=2))
        with pytest.raises(RateLimited) as refused:
            await limits.rate("ip", ip, Rate(per_second=1, burst=2))
        assert 0 < refused.value.retry_after <= 1
        await limits.rate("ip", "another-ip-" + ip, Rate(per_second=1, burst=2))  # not shared
    finally:
        await redis.aclose()
