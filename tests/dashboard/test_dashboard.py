"""``GET /admin/dashboard`` on the real stack: plays through the pipeline, then the figures
are checked against PostgreSQL and Redis."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from frolic.auth.tokens import mint_player_token
from frolic.config import Settings
from frolic.dashboard import service
from frolic.dashboard.schemas import Dashboard
from frolic.db.session import create_engine
from frolic.engine import keys
from frolic.resources import open_resources
from tests.support.factories import create_live_game, wait_decided, with_own_topics
from tests.support.serving import app_client

PLAYS = 16


@pytest.fixture(scope="module")
def board_settings(settings: Settings) -> Settings:
    return with_own_topics(settings, "dashboard", reveal_seconds=1.0)


@pytest.fixture(scope="module")
async def client(board_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(board_settings, ("api", "allocator", "recorder")) as c:
        yield c


@pytest.fixture
async def db(board_settings: Settings) -> AsyncIterator[AsyncEngine]:
    assert board_settings.database_url
    engine = create_engine(board_settings.database_url, pool_size=2)
    yield engine
    await engine.dispose()


def admin(settings: Settings) -> dict[str, str]:
    assert settings.admin_token is not None
    return {"Authorization": f"Bearer {settings.admin_token.get_secret_value()}"}


async def test_only_the_admin_sees_the_dashboard(
    client: httpx.AsyncClient, board_settings: Settings
) -> None:
    assert (await client.get("/admin/dashboard")).status_code == 401
    player = {"Authorization": f"Bearer {mint_player_token(board_settings, 'nosy')}"}
    answer = await client.get("/admin/dashboard", headers=player)
    assert answer.status_code == 403
    assert answer.json()["error"] == "Forbidden"


async def test_the_figures_match_the_ledger_and_redis(
    client: httpx.AsyncClient, board_settings: Settings, db: AsyncEngine
) -> None:
    s = board_settings
    game = await create_live_game(s, budgets=(5, 4), strategy="fixed_odds", odds=2, spare_codes=3)
    plays = []
    for i in range(PLAYS):
        token = mint_player_token(s, f"board-{i}-{uuid.uuid4().hex[:6]}")
        answer = await client.post(
            "/play", json={"gameId": game.game_id}, headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 202, answer.text
        plays.append(answer.json()["playId"])
    await wait_decided(s, plays)

    answer = await client.get("/admin/dashboard", headers=admin(s))
    assert answer.status_code == 200, answer.text
    board = answer.json()
    shown = next(g for g in board["games"] if g["id"] == game.game_id)
    async with db.connect() as conn:
        wins = (await conn.execute(text(
            "SELECT count(*) FROM play_events WHERE game_id = :g AND status = 'WIN'"),
            {"g": game.game_id})).scalar_one()  # fmt: skip
        ledger = {r.brand_id: r for r in await conn.execute(text(
            "SELECT b.brand_id, b.total_coupons, b.remaining_coupons, (SELECT count(*) "
            "FROM coupons c WHERE c.brand_id = b.brand_id AND c.issued_at IS NULL) AS unissued "
            "FROM game_brand_budgets b WHERE b.game_id = :g"), {"g": game.game_id})}  # fmt: skip
    assert 0 < wins <= 9
    assert shown["phase"] == "running"
    assert shown["status"] == "live"
    assert shown["budget"] == 9
    assert shown["awarded"] == wins
    assert shown["series"][-1]["awarded"] == wins
    assert sum(m["wins"] for m in shown["minutes"]) == wins
    assert sum(m["plays"] for m in shown["minutes"]) == PLAYS
    assert 0 <= shown["target"] < 1  # a game of an hour, seconds old
    redis = await _redis_stock(s, game.game_id, list(game.brands))
    for stock in shown["brands"]:
        row = ledger[stock["brandId"]]
        assert stock["total"] == row.total_coupons
        assert stock["remaining"] == row.remaining_coupons
        assert stock["redisRemaining"] == redis[stock["brandId"]] == row.remaining_coupons
        assert stock["codesAvailable"] == row.unissued
    groups = {(lag["group"], lag["topic"]): lag for lag in board["lag"]}
    assert groups[("frolic-allocators", s.play_topic)]["partitions"] == 4
    assert groups[("frolic-recorders", s.result_topic)]["partitions"] == 4


async def _redis_stock(settings: Settings, game: int, brands: list[int]) -> dict[int, int]:
    async with open_resources(settings) as res:
        values = await res.redis.mget([keys.budget(game, b) for b in brands])
    return {b: int(v or -1) for b, v in zip(brands, values, strict=True)}


async def test_a_series_read_in_steps_equals_one_read_whole(
    board_settings: Settings, db: AsyncEngine
) -> None:
    """Settled buckets are remembered and only recent ones re-read; the sum stays right."""
    game = await create_live_game(board_settings, budgets=(20,))
    now = datetime.now(UTC)
    start = now - timedelta(hours=2)
    async with db.begin() as conn:
        await conn.execute(
            text("UPDATE games SET start_time = :s, end_time = :e WHERE id = :g"),
            {"s": start, "e": now + timedelta(hours=1), "g": game.game_id},
        )
    ago = [timedelta(minutes=m) for m in (110, 110, 100, 60, 3)] + [timedelta(seconds=30)]
    await _plays(
        db, game.game_id, [now - a for a in ago], won=[True, True, False, True, True, True]
    )
    kept = service.DashboardState()
    async with open_resources(board_settings) as res:
        first = await service.dashboard(res, kept)
        assert kept.series.games[game.game_id].until > 0  # some buckets are settled now
        await _plays(db, game.game_id, [datetime.now(UTC)], won=[True])
        again = await service.dashboard(res, kept)
        whole = await service.dashboard(res, service.DashboardState())

    def series(board: Dashboard) -> list[tuple[float, int]]:
        shown = next(g for g in board.games if g.id == game.game_id)
        return [(p.t, p.awarded) for p in shown.series]

    assert series(first)[-1][1] == 5
    assert series(again)[-1][1] == 6
    assert [a for _, a in series(again)] == [a for _, a in series(whole)]
    assert len(series(whole)) <= service.SERIES_POINTS


async def test_the_pace_line_follows_the_anchor_on_the_games_row(
    board_settings: Settings, db: AsyncEngine
) -> None:
    """A game 30 minutes into its hour that went live (or resumed) 2 minutes ago with
    nothing awarded: its pacing runs from 0 there, so 2.5 of its 40 coupons are due now,
    not the 20 of a line from its start, and nothing awarded yet is on pace."""
    game = await create_live_game(board_settings, budgets=(40,))
    now = datetime.now(UTC)
    start, end = now - timedelta(minutes=30), now + timedelta(minutes=30)
    anchored = (now - timedelta(minutes=2)).timestamp()
    async with db.begin() as conn:
        await conn.execute(text(
            "UPDATE games SET start_time = :s, end_time = :e, pacing_line_t = :t, "
            "pacing_line_from = 0 WHERE id = :g"),
            {"s": start, "e": end, "t": anchored, "g": game.game_id},
        )  # fmt: skip
    async with open_resources(board_settings) as res:
        board = await service.dashboard(res, service.DashboardState())
    shown = next(g for g in board.games if g.id == game.game_id)
    assert [(p.t, p.coupons) for p in shown.pace_line] == [
        (start.timestamp(), 0.0), (anchored, 0.0), (end.timestamp(), 40.0)
    ]  # fmt: skip
    due = 40 * (board.now - anchored) / (end.timestamp() - anchored)
    assert shown.target == pytest.approx(due)
    assert 2.5 <= shown.target < 3
    assert not [a for a in board.alerts if a.game_id == game.game_id and a.kind == "pace"]


async def _plays(db: AsyncEngine, game: int, times: list[datetime], won: list[bool]) -> None:
    async with db.begin() as conn:
        user = (await conn.execute(text(
            "INSERT INTO users (external_id) VALUES (:x) RETURNING id"),
            {"x": f"series-{uuid.uuid4().hex[:8]}"})).scalar_one()  # fmt: skip
        for t, win in zip(times, won, strict=True):
            await conn.execute(text(
                "INSERT INTO play_events (play_id, user_id, game_id, status, request_time, "
                "processed_time) VALUES (:p, :u, :g, :s, :t, :t)"),
                {"p": uuid.uuid4(), "u": user, "g": game, "s": "WIN" if win else "LOSE", "t": t},
            )  # fmt: skip


async def test_the_page_needs_no_token_to_load_and_fetches_nothing_from_elsewhere(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/dashboard")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert "connect-src 'self'" in answer.headers["content-security-policy"]
    assert not re.search(r"""(src|href|url)\s*[=(]\s*["']?(https?:)?//""", answer.text)
    assert "/admin/dashboard" in answer.text
