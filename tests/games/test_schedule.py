"""Scheduling: a scheduled game goes live by itself at its start time, once, with its
budget in Redis first; a game past its end time ends by itself."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from frolic.app import create_app
from frolic.config import Settings
from frolic.engine import keys
from frolic.engine.redis_store import store_for
from frolic.games.scheduler import Scheduler
from frolic.resources import Resources
from tests.admin.conftest import client_of, codes, csv_of, import_csv, new_brand, new_game, ok
from tests.games.test_start import anchors, redis_stock


def soon(seconds: float = 2.0) -> dict[str, str]:
    """A window opening in a few seconds: a sweep "at its start" then ends no other game
    but those ending within those seconds."""
    start = datetime.now(UTC) + timedelta(seconds=seconds)
    return {"startTime": start.isoformat(), "endTime": (start + timedelta(hours=1)).isoformat()}


def at_start(game: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(game["startTime"]) + timedelta(milliseconds=1)


async def scheduled_game(admin: httpx.AsyncClient, coupons: int = 5) -> dict[str, Any]:
    brand = await new_brand(admin)
    game = await new_game(admin, {brand: coupons}, **soon())
    ok(await import_csv(admin, csv_of((brand, code) for code in codes(coupons))))
    scheduled: dict[str, Any] = ok(await admin.post(f"/admin/games/{game['id']}/schedule"))
    assert scheduled["status"] == "scheduled"
    return scheduled


def scheduler(res: Resources) -> Scheduler:
    return Scheduler(res.db, store_for(res.settings, res.redis),
                     reveal_seconds=res.settings.reveal_seconds)  # fmt: skip


async def status(admin: httpx.AsyncClient, game_id: int) -> str:
    answer: str = ok(await admin.get(f"/admin/games/{game_id}"))["status"]
    return answer


async def test_a_scheduled_game_goes_live_at_its_start_once(
    admin: httpx.AsyncClient, res: Resources
) -> None:
    game = await scheduled_game(admin)
    g, brand = game["id"], game["budgets"][0]["brandId"]
    assert await redis_stock(res, g) == {brand: 5}  # warm from the moment it is scheduled
    assert ok(await admin.post(f"/admin/games/{g}/schedule")) == game  # again: no change

    early = await scheduler(res).tick()
    assert g not in early.started
    assert await status(admin, g) == "scheduled"

    # Three processes sweep at its start: one of them starts it.
    sweeps = await asyncio.gather(*(scheduler(res).tick(at_start(game)) for _ in range(3)))
    assert sum(s.started.count(g) for s in sweeps) == 1
    assert await status(admin, g) == "live"
    assert await redis_stock(res, g) == {brand: 5}

    # Live and playing: a later sweep does not load the budget again.
    await res.redis.decrby(keys.budget(g, brand), 2)
    later = await scheduler(res).tick(at_start(game))
    assert g not in later.started
    assert await redis_stock(res, g) == {brand: 3}


async def test_the_go_live_load_anchors_the_line_of_a_game_going_live_late(
    admin: httpx.AsyncClient, res: Resources
) -> None:
    """Loaded at schedule time, before its start: no anchor. It goes live ten minutes
    late (say the scheduler was down), and that load, the one that counts, anchors the
    line at 0 then: the budget spreads over the time left, none of it owed at once."""
    game = await scheduled_game(admin)
    g = game["id"]
    assert await anchors(res, g) == ((None, 0.0), (None, 0.0))
    async with res.db.begin() as conn:
        await conn.execute(
            text("UPDATE games SET start_time = now() - interval '10 minutes' WHERE id = :g"),
            {"g": g},
        )
    before = time.time()
    assert g in (await scheduler(res).tick()).started
    after = time.time()
    in_redis, on_row = await anchors(res, g)
    assert in_redis == on_row
    line_t, line_from = in_redis
    assert line_t is not None
    assert before <= line_t <= after
    assert line_from == 0.0


async def test_start_makes_a_scheduled_game_live_at_once(admin: httpx.AsyncClient) -> None:
    game = await scheduled_game(admin)
    assert ok(await admin.post(f"/admin/games/{game['id']}/start"))["status"] == "live"


async def test_unscheduled_games_stay_drafts(admin: httpx.AsyncClient, res: Resources) -> None:
    game = await scheduled_game(admin)
    g = game["id"]
    assert ok(await admin.post(f"/admin/games/{g}/unschedule"))["status"] == "draft"
    assert ok(await admin.post(f"/admin/games/{g}/unschedule"))["status"] == "draft"
    assert g not in (await scheduler(res).tick(at_start(game))).started
    assert await status(admin, g) == "draft"
    ok(await admin.post(f"/admin/games/{g}/start"))
    refused = await admin.post(f"/admin/games/{g}/unschedule")
    assert refused.status_code == 409
    assert refused.json() == {
        "error": "Conflict",
        "detail": f"game {g} is live; it cannot unschedule",
    }
    refused = await admin.post(f"/admin/games/{g}/schedule")
    assert refused.status_code == 409
    assert "only a draft game can be scheduled" in refused.json()["detail"]


async def test_scheduling_checks_codes_and_the_window(admin: httpx.AsyncClient) -> None:
    brand = await new_brand(admin)
    game = await new_game(admin, {brand: 4}, **soon())
    ok(await import_csv(admin, csv_of((brand, code) for code in codes(3))))
    refused = await admin.post(f"/admin/games/{game['id']}/schedule")
    assert refused.status_code == 409
    assert refused.json()["detail"].startswith(f"game {game['id']} cannot be scheduled: ")
    assert "has 3 codes for a remaining budget of 4: 1 short" in refused.json()["detail"]
    assert await status(admin, game["id"]) == "draft"

    now = datetime.now(UTC)
    past = await new_game(admin, {brand: 0}, startTime=(now - timedelta(hours=2)).isoformat(),
                          endTime=(now - timedelta(hours=1)).isoformat())  # fmt: skip
    refused = await admin.post(f"/admin/games/{past['id']}/schedule")
    assert refused.status_code == 409
    assert "it cannot be scheduled" in refused.json()["detail"]


async def test_a_game_whose_codes_went_short_stays_scheduled(
    admin: httpx.AsyncClient, res: Resources
) -> None:
    game = await scheduled_game(admin, coupons=2)
    async with res.db.begin() as conn:  # an operator hands the codes out by other means
        await conn.execute(
            text("UPDATE coupons SET issued_at = now() WHERE brand_id = :b AND issued_at IS NULL"),
            {"b": game["budgets"][0]["brandId"]},
        )
    sweep = await scheduler(res).tick(at_start(game))
    assert "has 0 codes for a remaining budget of 2" in sweep.refused[game["id"]]
    assert await status(admin, game["id"]) == "scheduled"


async def test_games_past_their_end_end(admin: httpx.AsyncClient, res: Resources) -> None:
    live = await scheduled_game(admin)
    ok(await admin.post(f"/admin/games/{live['id']}/start"))
    paused = await scheduled_game(admin)
    ok(await admin.post(f"/admin/games/{paused['id']}/start"))
    ok(await admin.post(f"/admin/games/{paused['id']}/pause"))
    waiting = await scheduled_game(admin)
    draft = await new_game(admin, {await new_brand(admin): 0}, **soon())
    ids = [live["id"], paused["id"], waiting["id"], draft["id"]]
    async with res.db.begin() as conn:
        await conn.execute(
            text("UPDATE games SET start_time = now() - interval '2 hours', "
                 "end_time = now() - interval '1 second' WHERE id = ANY(:ids)"), {"ids": ids},
        )  # fmt: skip
    sweep = await scheduler(res).tick()
    assert set(ids[:3]) <= set(sweep.ended)
    assert not set(ids) & set(sweep.started)
    assert [await status(admin, g) for g in ids] == ["ended", "ended", "ended", "draft"]


async def test_the_api_role_runs_the_scheduler(
    admin: httpx.AsyncClient, settings: Settings
) -> None:
    brand = await new_brand(admin)
    game = await new_game(admin, {brand: 1})  # its start has passed: due at once
    ok(await import_csv(admin, csv_of((brand, code) for code in codes(1))))
    ok(await admin.post(f"/admin/games/{game['id']}/schedule"))
    app = create_app(settings, roles=("api",))
    assert settings.admin_token is not None
    async with (
        app.router.lifespan_context(app),
        client_of(app, settings.admin_token.get_secret_value()) as api,
    ):
        deadline = time.monotonic() + 30
        while await status(api, game["id"]) == "scheduled":
            assert time.monotonic() < deadline, "the api role's scheduler did not start the game"
            await asyncio.sleep(0.1)
        assert await status(api, game["id"]) == "live"


async def test_an_unreachable_database_is_a_warning_each_sweep_not_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from frolic.db.session import create_engine
    from frolic.engine.store import MemoryStore
    from frolic.stack.process import free_port

    away = create_engine(f"postgresql://frolic@127.0.0.1:{free_port()}/frolic")
    stop = asyncio.Event()
    sweeps = Scheduler(away, MemoryStore(), reveal_seconds=10.0, every=0.05)
    try:
        with caplog.at_level("WARNING", logger="frolic.games.scheduler"):
            running = asyncio.create_task(sweeps.run(stop))
            await asyncio.sleep(0.5)
            stop.set()
            await running
    finally:
        await away.dispose()
    mine = [r for r in caplog.records if r.name == "frolic.games.scheduler"]
    assert len(mine) >= 2  # it keeps sweeping
    assert all("PostgreSQL unavailable" in r.getMessage() for r in mine)
    assert not any(r.exc_info for r in mine)
