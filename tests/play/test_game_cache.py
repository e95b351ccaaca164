"""The game cache reads a game from PostgreSQL once however many requests want it at once."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from frolic.config import Settings
from frolic.engine.rules import GameRules
from frolic.games import repository
from frolic.games.repository import GameCache, GameView
from tests.support.factories import create_live_game


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each real read of a game from PostgreSQL, by game id."""
    seen: list[int] = []
    real = repository.load_game

    async def counted(db: AsyncEngine, game_id: int) -> GameView | None:
        seen.append(game_id)
        return await real(db, game_id)

    monkeypatch.setattr(repository, "load_game", counted)
    return seen


async def pause(db: AsyncEngine, game_id: int) -> None:
    async with db.begin() as conn:
        await conn.execute(text("UPDATE games SET status = 'paused' WHERE id = :g"), {"g": game_id})


async def test_concurrent_requests_for_a_cold_game_share_one_read(
    settings: Settings, db: AsyncEngine, reads: list[int]
) -> None:
    game = await create_live_game(settings, budgets=(1,))
    cache = GameCache(db)
    views = await asyncio.gather(*(cache.get(game.game_id) for _ in range(50)))
    assert reads == [game.game_id]
    assert {v.status for v in views if v is not None} == {"live"}
    assert all(v is views[0] for v in views)


async def test_an_expired_game_is_read_once_and_the_others_get_it_as_last_read(
    settings: Settings, db: AsyncEngine, reads: list[int]
) -> None:
    game = await create_live_game(settings, budgets=(1,))
    clock = Clock()
    cache = GameCache(db, ttl=2.0, clock=clock)
    assert (await cache.get(game.game_id)) is not None
    await pause(db, game.game_id)
    clock.now += 2.0
    first, *others = await asyncio.gather(*(cache.get(game.game_id) for _ in range(50)))
    assert reads == [game.game_id] * 2
    # The request that found it expired waited for the read; the rest did not wait.
    assert first is not None
    assert first.status == "paused"
    assert {v.status for v in others if v is not None} == {"live"}
    # And from then on every request has the new state, with no further read.
    assert (view := await cache.get(game.game_id)) is not None
    assert view.status == "paused"
    assert len(reads) == 2


async def test_a_caller_that_gives_up_does_not_cancel_the_read_others_wait_for(
    settings: Settings, db: AsyncEngine, reads: list[int]
) -> None:
    game = await create_live_game(settings, budgets=(1,))
    cache = GameCache(db)
    quitter = asyncio.create_task(cache.get(game.game_id))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(cache.get(game.game_id))
    await asyncio.sleep(0)
    quitter.cancel()
    view = await waiter
    assert view is not None
    assert view.game_id == game.game_id
    assert reads == [game.game_id]
    with pytest.raises(asyncio.CancelledError):
        await quitter


async def test_a_failed_read_reaches_every_waiter_and_the_next_request_reads_again(
    settings: Settings, db: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    game = await create_live_game(settings, budgets=(1,))
    cache = GameCache(db)
    attempts: list[int] = []
    real = repository.load_game

    async def broken_once(engine: AsyncEngine, game_id: int) -> GameView | None:
        attempts.append(game_id)
        if len(attempts) == 1:
            await asyncio.sleep(0.01)
            raise RuntimeError("a bug, not an outage")
        return await real(engine, game_id)

    monkeypatch.setattr(repository, "load_game", broken_once)
    failed = await asyncio.gather(*(cache.get(game.game_id) for _ in range(5)),
                                  return_exceptions=True)  # fmt: skip
    assert all(isinstance(f, RuntimeError) for f in failed)
    assert (view := await cache.get(game.game_id)) is not None
    assert view.status == "live"
    assert len(attempts) == 2


async def test_a_read_that_hangs_gives_up_and_the_game_is_read_again(
    settings: Settings, db: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    game = await create_live_game(settings, budgets=(1,))
    clock = Clock()
    cache = GameCache(db, ttl=2.0, clock=clock)
    assert await cache.get(game.game_id) is not None
    await pause(db, game.game_id)
    real = repository.load_game
    hung = asyncio.Event()

    async def hangs_once(engine: AsyncEngine, game_id: int) -> GameView | None:
        if not hung.is_set():
            hung.set()
            await asyncio.Event().wait()  # a half-open connection: no answer, ever
        return await real(engine, game_id)

    monkeypatch.setattr(repository, "load_game", hangs_once)
    monkeypatch.setattr(repository, "READ_SECONDS", 0.05)
    clock.now += 2.0
    # The read gives up: the game as last read, as in an outage.
    async with asyncio.timeout(5):  # not forever
        view = await cache.get(game.game_id)
    assert view is not None
    assert view.status == "live"
    # And the next request reads it again rather than wait behind the hung read.
    view = await cache.get(game.game_id)
    assert view is not None
    assert view.status == "paused"


async def test_a_game_that_was_not_there_is_waited_for_not_served_stale(
    settings: Settings, db: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    game = await create_live_game(settings, budgets=(1,))
    clock = Clock()
    cache = GameCache(db, ttl=2.0, clock=clock)
    real = repository.load_game
    answers: list[str] = []

    async def not_there_at_first(engine: AsyncEngine, game_id: int) -> GameView | None:
        answers.append("none" if not answers else "game")
        return None if len(answers) == 1 else await real(engine, game_id)

    monkeypatch.setattr(repository, "load_game", not_there_at_first)
    assert await cache.get(game.game_id) is None  # not created yet, as the cache saw it
    clock.now += 2.0
    views = await asyncio.gather(cache.get(game.game_id), cache.get(game.game_id))
    assert [v is not None and v.game_id for v in views] == [game.game_id] * 2
    assert answers == ["none", "game"]  # one read for the two: the second waited for it


@pytest.mark.parametrize(
    ("status", "now", "because"),
    [
        ("live", 2000.0, "game 7 ended at 1970-01-01T00:33:20+00:00; it takes no more plays"),
        ("paused", 2500.0, "game 7 ended at 1970-01-01T00:33:20+00:00; it takes no more plays"),
        ("live", 999.0, "game 7 has not started; it opens at 1970-01-01T00:16:40+00:00"),
        ("scheduled", 999.0, "game 7 has not started; it opens at 1970-01-01T00:16:40+00:00"),
        ("paused", 1500.0, "game 7 is not open for play (paused)"),
        ("ended", 1500.0, "game 7 is not open for play (ended)"),
        ("live", 1500.0, None),
    ],
)
def test_a_closed_game_says_why_its_times_first(
    status: str, now: float, because: str | None
) -> None:
    rules = GameRules(game_id=7, start=1000, end=2000, budget=1, brands=(1,))
    assert GameView(rules, status, None, 0).closed_because(now) == because
