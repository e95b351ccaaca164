"""Starting a game: only with codes for every brand's budget; loads the budget into Redis."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text

from frolic.engine import keys
from frolic.engine.redis_store import store_for
from frolic.games.repository import load_game
from frolic.resources import Resources
from tests.admin.conftest import codes, csv_of, import_csv, new_brand, new_game, ok


async def redis_stock(res: Resources, game_id: int) -> dict[int, int]:
    view = await load_game(res.db, game_id)
    assert view is not None
    return await store_for(res.settings, res.redis).stock(view.rules)


Anchor = tuple[float | None, float]


async def anchors(res: Resources, game_id: int) -> tuple[Anchor, Anchor]:
    """The pacing line's anchor ``(line_t, line_from)`` as Redis has it, and as the game's
    row keeps it for a rebuild."""
    view = await load_game(res.db, game_id)
    assert view is not None
    state = await store_for(res.settings, res.redis).state(view.rules)
    async with res.db.connect() as conn:
        row = (await conn.execute(
            text("SELECT pacing_line_t, pacing_line_from FROM games WHERE id = :g"),
            {"g": game_id})).one()  # fmt: skip
    return (state.line_t, state.line_from), (row.pacing_line_t, row.pacing_line_from)


async def test_start_waits_for_codes_then_warms_redis(
    admin: httpx.AsyncClient, res: Resources
) -> None:
    a, b, c = await new_brand(admin), await new_brand(admin), await new_brand(admin)
    game = await new_game(admin, {a: 100, b: 30, c: 0})
    ok(await import_csv(admin, csv_of((a, code) for code in codes(40))))

    response = await admin.post(f"/admin/games/{game['id']}/start")
    assert response.status_code == 409, response.text
    refusal = response.json()
    assert refusal["error"] == "Conflict"
    assert f"brand {a} (" in refusal["detail"]
    assert "has 40 codes for a remaining budget of 100: 60 short" in refusal["detail"]
    assert f"brand {b} (" in refusal["detail"]
    assert "has 0 codes for a remaining budget of 30: 30 short" in refusal["detail"]
    assert f"brand {c} " not in refusal["detail"]
    assert ok(await admin.get(f"/admin/games/{game['id']}"))["status"] == "draft"
    assert await redis_stock(res, game["id"]) == {a: 0, b: 0, c: 0}

    ok(await import_csv(admin, csv_of((a, code) for code in codes(60))))
    ok(await import_csv(admin, csv_of((b, code) for code in codes(30)), game["id"]))
    started = ok(await admin.post(f"/admin/games/{game['id']}/start"))
    assert started["status"] == "live"
    assert {x["brandId"]: x["availableCodes"] for x in started["budgets"]} == {a: 100, b: 30, c: 0}
    assert ok(await admin.get(f"/admin/games/{game['id']}")) == started
    assert await redis_stock(res, game["id"]) == {a: 100, b: 30, c: 0}


async def test_starting_a_live_game_again_leaves_redis_alone(
    admin: httpx.AsyncClient, res: Resources
) -> None:
    brand = await new_brand(admin)
    game = await new_game(admin, {brand: 5})
    ok(await import_csv(admin, csv_of((brand, code) for code in codes(5))))
    first = ok(await admin.post(f"/admin/games/{game['id']}/start"))
    await res.redis.decrby(keys.budget(game["id"], brand), 2)  # two coupons awarded since
    again = ok(await admin.post(f"/admin/games/{game['id']}/start"))
    assert again == first
    assert await redis_stock(res, game["id"]) == {brand: 3}


async def test_codes_reserved_for_another_game_do_not_count(admin: httpx.AsyncClient) -> None:
    brand = await new_brand(admin)
    game, other = await new_game(admin, {brand: 3}), await new_game(admin, {brand: 3})
    ok(await import_csv(admin, csv_of((brand, code) for code in codes(3)), other["id"]))
    response = await admin.post(f"/admin/games/{game['id']}/start")
    assert response.status_code == 409
    assert "has 0 codes for a remaining budget of 3: 3 short" in response.json()["detail"]
    assert ok(await admin.post(f"/admin/games/{other['id']}/start"))["status"] == "live"


async def test_an_ended_game_cannot_start(admin: httpx.AsyncClient, res: Resources) -> None:
    brand = await new_brand(admin)
    game = await new_game(admin, {brand: 0})
    async with res.db.begin() as conn:
        await conn.execute(
            text("UPDATE games SET status = 'ended' WHERE id = :id"), {"id": game["id"]}
        )
    response = await admin.post(f"/admin/games/{game['id']}/start")
    assert response.status_code == 409
    assert response.json() == {
        "error": "Conflict",
        "detail": f"game {game['id']} is ended; only a draft or a scheduled game can be started",
    }


async def test_a_game_past_its_end_cannot_start(admin: httpx.AsyncClient) -> None:
    brand = await new_brand(admin)
    now = datetime.now(UTC)
    game = await new_game(
        admin,
        {brand: 0},
        startTime=(now - timedelta(hours=2)).isoformat(),
        endTime=(now - timedelta(hours=1)).isoformat(),
    )
    response = await admin.post(f"/admin/games/{game['id']}/start")
    assert response.status_code == 409
    assert "cannot start" in response.json()["detail"]


async def test_start_an_unknown_game(admin: httpx.AsyncClient) -> None:
    response = await admin.post(f"/admin/games/{2**63 - 1}/start")
    assert response.status_code == 404
    assert response.json() == {"error": "NotFound", "detail": f"no game {2**63 - 1}"}


async def test_concurrent_starts_all_answer_live(admin: httpx.AsyncClient, res: Resources) -> None:
    brand = await new_brand(admin)
    game = await new_game(admin, {brand: 4})
    ok(await import_csv(admin, csv_of((brand, code) for code in codes(4))))
    responses = await asyncio.gather(
        *(admin.post(f"/admin/games/{game['id']}/start") for _ in range(5))
    )
    assert {r.status_code for r in responses} == {200}
    assert {r.json()["status"] for r in responses} == {"live"}
    assert await redis_stock(res, game["id"]) == {brand: 4}


async def test_concurrent_starts_cannot_promise_the_same_shared_codes(
    admin: httpx.AsyncClient, res: Resources
) -> None:
    brand = await new_brand(admin)
    ok(await import_csv(admin, csv_of((brand, code) for code in codes(10))))
    games = [await new_game(admin, {brand: 6}) for _ in range(4)]
    responses = await asyncio.gather(*(admin.post(f"/admin/games/{g['id']}/start") for g in games))
    assert sorted(r.status_code for r in responses) == [200, 409, 409, 409]
    for refused in (r for r in responses if r.status_code == 409):
        detail = refused.json()["detail"]
        assert "has 4 codes for a remaining budget of 6: 2 short" in detail
        assert "(6 of its shared codes are promised to other games)" in detail


async def test_promises_count_what_other_games_need_beyond_their_reserved_codes(
    admin: httpx.AsyncClient,
) -> None:
    brand = await new_brand(admin)
    ok(await import_csv(admin, csv_of((brand, code) for code in codes(5))))
    first = await new_game(admin, {brand: 4})
    ok(await import_csv(admin, csv_of((brand, code) for code in codes(3)), first["id"]))
    # first needs 4: its 3 reserved codes and 1 shared, which leaves 4 shared codes.
    assert ok(await admin.post(f"/admin/games/{first['id']}/schedule"))["status"] == "scheduled"
    second = await new_game(admin, {brand: 5})
    refused = await admin.post(f"/admin/games/{second['id']}/start")
    assert refused.status_code == 409
    assert "has 4 codes for a remaining budget of 5: 1 short" in refused.json()["detail"]
    # Unscheduled, first promises nothing: second may have every shared code.
    ok(await admin.post(f"/admin/games/{first['id']}/unschedule"))
    assert ok(await admin.post(f"/admin/games/{second['id']}/start"))["status"] == "live"
    refused = await admin.post(f"/admin/games/{first['id']}/start")
    assert refused.status_code == 409
    assert "has 3 codes for a remaining budget of 4: 1 short" in refused.json()["detail"]
    # An ended game promises nothing either.
    ok(await admin.post(f"/admin/games/{second['id']}/end"))
    assert ok(await admin.post(f"/admin/games/{first['id']}/start"))["status"] == "live"


async def test_a_late_start_anchors_the_pacing_line_at_zero_then(
    admin: httpx.AsyncClient, res: Resources
) -> None:
    """Its start time an hour gone, the game owes nothing at once: the line runs from 0 at
    the moment it went live, in Redis and on the game's row alike."""
    brand = await new_brand(admin)
    now = datetime.now(UTC)
    game = await new_game(admin, {brand: 5}, startTime=(now - timedelta(hours=1)).isoformat(),
                          endTime=(now + timedelta(hours=1)).isoformat())  # fmt: skip
    ok(await import_csv(admin, csv_of((brand, code) for code in codes(5))))
    before = time.time()
    ok(await admin.post(f"/admin/games/{game['id']}/start"))
    after = time.time()
    in_redis, on_row = await anchors(res, game["id"])
    assert in_redis == on_row
    line_t, line_from = in_redis
    assert line_t is not None
    assert before <= line_t <= after
    assert line_from == 0.0


async def test_a_start_before_the_start_time_leaves_the_line_unanchored(
    admin: httpx.AsyncClient, res: Resources
) -> None:
    brand = await new_brand(admin)
    start = datetime.now(UTC) + timedelta(hours=1)
    game = await new_game(admin, {brand: 5}, startTime=start.isoformat(),
                          endTime=(start + timedelta(hours=1)).isoformat())  # fmt: skip
    ok(await import_csv(admin, csv_of((brand, code) for code in codes(5))))
    ok(await admin.post(f"/admin/games/{game['id']}/start"))
    assert await anchors(res, game["id"]) == ((None, 0.0), (None, 0.0))
