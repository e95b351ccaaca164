"""The dashboard's win chance now, on the real stack: each running game's strategy's chance
from the state Redis holds; null for a game that is not running or that Redis does not
hold, and for one whose state Redis does not answer for.

A paused, draft or ended game is checked without the board: the board shows the running
games first, and the session's other tests leave more of them than it shows."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import text

from frolic.config import Settings
from frolic.dashboard import service
from frolic.db.session import create_engine
from frolic.engine import keys
from frolic.engine.paced import PacedStrategy
from frolic.engine.redis_store import store_for
from frolic.games.repository import load_game
from frolic.redis_client import connect
from frolic.resources import open_resources
from frolic.stack.process import free_port
from tests.support.factories import LiveGame, create_live_game, with_own_topics
from tests.support.serving import app_client


@pytest.fixture(scope="module")
def chance_settings(settings: Settings) -> Settings:
    return with_own_topics(settings, "chance")


@pytest.fixture(scope="module")
async def client(chance_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(chance_settings) as c:
        yield c


async def _start_at(settings: Settings, game: LiveGame, start: datetime) -> None:
    assert settings.database_url
    db = create_engine(settings.database_url)
    try:
        async with db.begin() as conn:
            await conn.execute(text("UPDATE games SET start_time = :s WHERE id = :g"),
                               {"s": start, "g": game.game_id})  # fmt: skip
    finally:
        await db.dispose()


async def test_each_running_game_shows_its_strategys_chance_now(
    client: httpx.AsyncClient, chance_settings: Settings
) -> None:
    s = chance_settings
    fixed = await create_live_game(s, budgets=(5,), strategy="fixed_odds", odds=4)
    paced = await create_live_game(s, budgets=(50,))
    soon = await create_live_game(s, budgets=(5,), strategy="fixed_odds", odds=4)
    await _start_at(s, soon, datetime.now(UTC) + timedelta(minutes=5))
    lost = await create_live_game(s, budgets=(5,), strategy="fixed_odds", odds=4)
    async with open_resources(s) as res:
        await res.redis.delete(keys.pacing(lost.game_id))  # Redis lost it: no state to read

    assert s.admin_token is not None  # the newest running games come first: all shown
    admin = {"Authorization": f"Bearer {s.admin_token.get_secret_value()}"}
    answer = await client.get("/admin/dashboard", headers=admin)
    assert answer.status_code == 200, answer.text
    board = answer.json()
    shown = {g["id"]: g for g in board["games"]}
    assert shown[fixed.game_id]["probability"] == 0.25
    assert shown[soon.game_id]["phase"] == "scheduled"
    assert shown[soon.game_id]["probability"] is None
    assert shown[lost.game_id]["probability"] is None
    # Paced, as the allocator would decide a play made at the board's moment.
    assert s.database_url
    db = create_engine(s.database_url)
    view = await load_game(db, paced.game_id)
    await db.dispose()
    assert view is not None
    async with open_resources(s) as res:
        state = await store_for(s, res.redis).state(view.rules)
    expected = PacedStrategy().chance(view.rules, state, board["now"])
    assert 0 < expected <= 1
    assert shown[paced.game_id]["probability"] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("status", "minutes", "running"),
    [("live", (-1, 1), True), ("live", (1, 2), False), ("live", (-2, -1), False),
     ("paused", (-1, 1), False), ("draft", (-1, 1), False), ("ended", (-1, 1), False)],
)  # fmt: skip
def test_only_a_live_game_in_its_window_has_a_chance_now(
    status: str, minutes: tuple[int, int], running: bool
) -> None:
    now = datetime.now(UTC)
    start, end = (now + timedelta(minutes=m) for m in minutes)
    game = SimpleNamespace(status=status, start_time=start, end_time=end)
    assert service._running(game, now.timestamp()) is running


async def test_a_redis_that_does_not_answer_leaves_the_chance_unknown(
    chance_settings: Settings,
) -> None:
    game = await create_live_game(chance_settings, budgets=(5,), strategy="fixed_odds", odds=4)
    dead = connect(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    async with open_resources(chance_settings) as res:
        away = dataclasses.replace(res, redis=dead)
        kept = service.DashboardState()
        started = time.monotonic()
        assert await service._chances(away, kept, [game.game_id], time.time()) == {
            game.game_id: None
        }
        assert time.monotonic() - started < service.CHANCE_TIMEOUT + 1
        # The same game, Redis answering.
        assert await service._chances(res, kept, [game.game_id], time.time()) == {
            game.game_id: 0.25
        }
        assert [rules.game_id for rules in kept.strategies] == [game.game_id]
        await service._chances(res, kept, [], time.time())  # no longer running
        assert kept.strategies == {}
    await dead.aclose()
