"""Budget top-ups: PostgreSQL and Redis grow together, once per operation, only with codes;
and a game taking plays through the pipeline reconciles clean after one."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
from sqlalchemy import text

from frolic.app import create_app
from frolic.auth.tokens import mint_player_token
from frolic.config import Settings
from frolic.db.session import create_engine
from frolic.engine import keys
from frolic.engine.redis_store import store_for
from frolic.games.repository import load_game
from frolic.reconcile.service import balances
from frolic.resources import Resources
from tests.admin.conftest import client_of, codes, csv_of, import_csv, new_brand, new_game, ok
from tests.games.test_start import anchors, redis_stock
from tests.support.factories import create_live_game, wait_decided, with_own_topics


def budgets(game: dict[str, Any]) -> dict[int, tuple[int, int]]:
    return {b["brandId"]: (b["coupons"], b["remaining"]) for b in game["budgets"]}


async def top_up(
    admin: httpx.AsyncClient, game: int, brand: int, coupons: Any, key: str | None = None
) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return await admin.post(f"/admin/games/{game}/budgets/{brand}/top-up",
                            json={"coupons": coupons}, headers=headers)  # fmt: skip


async def live_game(admin: httpx.AsyncClient, coupons: int, spare: int) -> tuple[int, int]:
    brand = await new_brand(admin)
    game = await new_game(admin, {brand: coupons})
    ok(await import_csv(admin, csv_of((brand, code) for code in codes(coupons + spare))))
    ok(await admin.post(f"/admin/games/{game['id']}/start"))
    return game["id"], brand


async def test_a_draft_grows_in_postgresql_only(admin: httpx.AsyncClient, res: Resources) -> None:
    brand, other = await new_brand(admin), await new_brand(admin)
    game = await new_game(admin, {brand: 3})
    # No codes yet: a draft promises none, its start will check them.
    grown = ok(await top_up(admin, game["id"], brand, 4))
    grown = ok(await top_up(admin, game["id"], other, 2))
    assert budgets(grown) == {brand: (7, 7), other: (2, 2)}
    assert grown["totalBudget"] == 9
    assert grown["status"] == "draft"
    assert await res.redis.exists(keys.budget(game["id"], brand)) == 0


async def test_a_live_game_grows_in_both_once_per_key(
    admin: httpx.AsyncClient, res: Resources
) -> None:
    g, brand = await live_game(admin, coupons=5, spare=10)
    await res.redis.decrby(keys.budget(g, brand), 2)  # two awarded in Redis, in flight

    first = await top_up(admin, g, brand, 4, key="op-1")
    assert first.headers["Idempotency-Key"] == "op-1"
    assert budgets(ok(first)) == {brand: (9, 9)}
    assert await redis_stock(res, g) == {brand: 7}
    again = ok(await top_up(admin, g, brand, 4, key="op-1"))
    assert again == ok(first)
    assert await redis_stock(res, g) == {brand: 7}

    reused = await top_up(admin, g, brand, 5, key="op-1")
    assert reused.status_code == 409
    assert "Idempotency-Key 'op-1' was used for a top-up of 4 coupons" in reused.json()["detail"]

    # Without a key the server makes one and says which.
    made = await top_up(admin, g, brand, 1)
    assert uuid.UUID(made.headers["Idempotency-Key"])
    assert ok(made)["totalBudget"] == 10
    assert await redis_stock(res, g) == {brand: 8}

    # The pacing line is anchored at the top-up, and the budgets agree but for the two
    # wins still in flight.
    view = await load_game(res.db, g)
    assert view is not None
    state = await store_for(res.settings, res.redis).state(view.rules)
    assert state.line_t is not None
    # The game's row keeps the anchor Redis set, for a rebuild.
    assert await anchors(res, g) == ((state.line_t, state.line_from),) * 2
    assert [(b.total, b.redis_remaining, b.drift) for b in await balances(res.db, store_for(
        res.settings, res.redis), g)] == [(10, 8, 2)]  # fmt: skip


async def test_a_live_game_gets_a_new_brand(admin: httpx.AsyncClient, res: Resources) -> None:
    g, brand = await live_game(admin, coupons=2, spare=0)
    other = await new_brand(admin)
    refused = await top_up(admin, g, other, 3)
    assert refused.status_code == 409
    assert refused.json()["detail"].startswith(f"game {g} cannot be topped up: ")
    assert "has 0 codes for a remaining budget of 3: 3 short" in refused.json()["detail"]
    ok(await import_csv(admin, csv_of((other, code) for code in codes(3))))
    grown = ok(await top_up(admin, g, other, 3))
    assert budgets(grown) == {brand: (2, 2), other: (3, 3)}
    assert await redis_stock(res, g) == {brand: 2, other: 3}
    assert all(b.ok for b in await balances(res.db, store_for(res.settings, res.redis), g))


async def test_a_refused_top_up_changes_nothing(admin: httpx.AsyncClient, res: Resources) -> None:
    g, brand = await live_game(admin, coupons=3, spare=2)
    before = ok(await admin.get(f"/admin/games/{g}"))
    refused = await top_up(admin, g, brand, 3, key="short")
    assert refused.status_code == 409
    assert "has 5 codes for a remaining budget of 6: 1 short" in refused.json()["detail"]
    assert ok(await admin.get(f"/admin/games/{g}")) == before
    assert await redis_stock(res, g) == {brand: 3}
    # The key was not used up by the refusal.
    ok(await import_csv(admin, csv_of((brand, code) for code in codes(1))))
    assert ok(await top_up(admin, g, brand, 3, key="short"))["totalBudget"] == 6


async def test_a_retry_after_a_crash_between_redis_and_postgresql_adds_once(
    admin: httpx.AsyncClient, res: Resources
) -> None:
    g, brand = await live_game(admin, coupons=3, spare=3)
    view = await load_game(res.db, g)
    assert view is not None
    store = store_for(res.settings, res.redis)
    # Redis took the top-up, then the process died before PostgreSQL committed.
    assert await store.top_up(view.rules, brand, 3, "crashed", time.time())
    assert [b.drift for b in await balances(res.db, store, g)] == [-3]
    set_then = await store.state(view.rules)
    assert set_then.line_from > 0  # not the anchor the start left on the row
    ok(await top_up(admin, g, brand, 3, key="crashed"))
    assert await redis_stock(res, g) == {brand: 6}
    # The row learns the anchor the crashed attempt set in Redis.
    assert await anchors(res, g) == ((set_then.line_t, set_then.line_from),) * 2
    assert all(b.ok for b in await balances(res.db, store, g))


async def test_bad_top_ups_get_a_4xx(admin: httpx.AsyncClient, res: Resources) -> None:
    g, brand = await live_game(admin, coupons=1, spare=1)
    for coupons in (0, -1, 2**31, "many", None):
        response = await top_up(admin, g, brand, coupons)
        assert response.status_code == 422, coupons
        assert response.json()["error"] == "ValidationFailed"
    assert (await top_up(admin, g, brand, 1, key="bad key\n")).status_code == 422
    assert (await top_up(admin, g, brand, 1, key="x" * 256)).status_code == 422
    missing = await top_up(admin, g, 2**63 - 1, 1)
    assert missing.json() == {"error": "NotFound", "detail": f"no brand {2**63 - 1}"}
    assert (await top_up(admin, 2**63 - 1, brand, 1)).status_code == 404
    too_many = await top_up(admin, g, brand, 2**31 - 1)
    assert too_many.status_code == 409
    assert "exceed" in too_many.json()["detail"]
    ok(await admin.post(f"/admin/games/{g}/end"))
    ended = await top_up(admin, g, brand, 1)
    assert ended.status_code == 409
    assert ended.json()["detail"] == f"game {g} has ended; its budget cannot be topped up"
    assert await redis_stock(res, g) == {brand: 1}


async def test_a_top_up_while_taking_plays_reconciles_clean(settings: Settings) -> None:
    """Every play wins while stock lasts (fixed odds 1 in 1): 45 players, a budget of 20
    topped up by 15 while they play, so exactly 35 win and Redis and the ledger agree."""
    s = with_own_topics(settings, "top-up", reveal_seconds=1.0)
    game = await create_live_game(s, budgets=(20,), strategy="fixed_odds", odds=1,
                                  spare_codes=15)  # fmt: skip
    (brand,) = game.brands
    assert s.admin_token is not None
    app = create_app(s, roles=("api", "allocator", "recorder"))
    async with (
        app.router.lifespan_context(app),
        client_of(app, s.admin_token.get_secret_value()) as client,
    ):

        async def play(n: int) -> str:
            user = f"topper-{uuid.uuid4().hex[:8]}-{n}"
            token = mint_player_token(s, user)
            response = await client.post("/play", json={"gameId": game.game_id},
                                         headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            assert response.status_code == 202, response.text
            return str(response.json()["playId"])

        first = await asyncio.gather(*(play(n) for n in range(25)))
        topping = asyncio.create_task(top_up(client, game.game_id, brand, 15, key="mid-game"))
        more = await asyncio.gather(*(play(n) for n in range(25, 35)))
        grown = await topping
        assert ok(grown)["totalBudget"] == 35
        last = await asyncio.gather(*(play(n) for n in range(35, 45)))
        await wait_decided(s, [*first, *more, *last])

        assert s.database_url
        db = create_engine(s.database_url)
        try:
            async with db.connect() as conn:
                wins, codes_held = (await conn.execute(text(
                    "SELECT count(*) FILTER (WHERE status = 'WIN'), "
                    "count(DISTINCT reward_coupon_id) FROM play_events WHERE game_id = :g"),
                    {"g": game.game_id})).one()  # fmt: skip
            assert (wins, codes_held) == (35, 35)
            store = store_for(s, app.state.resources.redis)
            found = await balances(db, store, game.game_id)
            assert [(b.total, b.issued, b.redis_remaining, b.ok) for b in found] == [
                (35, 35, 0, True)
            ]
        finally:
            await db.dispose()
