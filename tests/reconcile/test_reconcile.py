"""Redis against the ledger: in-flight wins, agreement once recorded, and a Redis loss
rebuilt from PostgreSQL with every decided play still recognised."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
import uuid

import pytest
from sqlalchemy import text

from frolic.config import Settings
from frolic.db.session import create_engine
from frolic.engine import keys
from frolic.engine.engine import Engine
from frolic.engine.redis_store import LuaStore
from frolic.engine.rules import PacingState
from frolic.engine.store import GameLost
from frolic.engine.strategy import Play
from frolic.games.repository import load_game
from frolic.playlog.messages import Decided
from frolic.reconcile.service import balances, rebuild
from frolic.recorder.ledger import record
from frolic.redis_client import connect
from tests.admin.conftest import (
    admin_app,
    client_of,
    codes,
    csv_of,
    import_csv,
    new_brand,
    new_game,
    ok,
)
from tests.support.factories import create_live_game


async def test_ledger_and_redis_agree_and_survive_a_redis_loss(settings: Settings) -> None:
    assert settings.database_url
    assert settings.redis_url
    game = await create_live_game(settings, budgets=(5, 5), strategy="fixed_odds", odds=1)
    db = create_engine(settings.database_url)
    client = connect(settings.redis_url)
    store = LuaStore(client)
    try:
        view = await load_game(db, game.game_id)
        assert view is not None
        now = time.time()
        draw = random.Random(1).random
        plays = [Play.drawn(str(uuid.uuid4()), now, draw) for _ in range(4)]
        outcomes = await Engine(store).decide(view.rules, plays)
        assert all(o.win for o in outcomes)

        # Decided in Redis, not yet recorded: in flight.
        before = await balances(db, store, game.game_id)
        assert sum(b.drift or 0 for b in before) == 4
        assert not any(b.ok for b in before if b.drift)

        await record(db, [
            Decided(p.play_id, game.game_id, 1, "reconciled", now, now + 10, o.brand, now, {})
            for p, o in zip(plays, outcomes, strict=True)
        ], reveal_seconds=10)  # fmt: skip
        assert all(b.ok for b in await balances(db, store, game.game_id))

        # Redis loses the game: its budget, pacing state and decided outcomes.
        g = game.game_id
        await client.delete(keys.pacing(g), *(keys.budget(g, b) for b in game.brands),
                            keys.processed(g, keys.processed_bucket(now)))  # fmt: skip
        lost = await balances(db, store, g)
        assert all(b.redis_remaining is None and not b.ok for b in lost)

        assert await rebuild(db, store, g) == 4
        assert all(b.ok for b in await balances(db, store, g))
        assert (await store.state(view.rules)).awarded == 4
        # A replay of a decided play is still recognised, with its outcome.
        again = await Engine(store).decide(view.rules, plays)
        assert [o.brand for o in again] == [o.brand for o in outcomes]
        assert all(o.replay for o in again)
    finally:
        await client.aclose()
        await db.dispose()


def test_the_command_reports_and_exits_1_on_drift(settings: Settings) -> None:
    import json
    import os
    import subprocess
    import sys

    game = asyncio.run(create_live_game(settings, budgets=(3,)))
    env = {**os.environ, **{f"FROLIC_{k.upper()}": str(getattr(settings, k))
                            for k in ("database_url", "redis_url", "kafka_bootstrap")}}  # fmt: skip
    command = [sys.executable, "-m", "frolic.cli", "reconcile", "--game", str(game.game_id),
               "--json"]  # fmt: skip
    fine = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert fine.returncode == 0, fine.stderr
    assert json.loads(fine.stdout)["balances"][0]["ok"] is True

    assert settings.redis_url
    brand = next(iter(game.brands))

    async def lose_one() -> None:
        client = connect(settings.redis_url or "")
        await client.decr(keys.budget(game.game_id, brand))
        await client.aclose()

    asyncio.run(lose_one())
    drifted = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert drifted.returncode == 1
    assert json.loads(drifted.stdout)["balances"][0]["drift"] == 1


async def test_a_draft_called_off_has_nothing_to_reconcile(settings: Settings) -> None:
    """Ending a draft never loaded its budget into Redis; that is not drift. An ended game
    that took plays is still checked."""
    assert settings.database_url
    assert settings.redis_url
    app = admin_app(settings)
    db = create_engine(settings.database_url)
    client = connect(settings.redis_url)
    try:
        async with (
            app.router.lifespan_context(app),
            client_of(
                app, settings.admin_token.get_secret_value() if settings.admin_token else None
            ) as admin,
        ):
            draft = await new_game(admin, {await new_brand(admin): 5})
            ok(await admin.post(f"/admin/games/{draft['id']}/end"))
        assert await balances(db, LuaStore(client), draft["id"]) == []

        played = await create_live_game(settings, budgets=(2,))
        async with db.begin() as conn:
            await conn.execute(
                text("UPDATE games SET status = 'ended' WHERE id = :g"), {"g": played.game_id}
            )
            await conn.execute(
                text("WITH u AS (INSERT INTO users (external_id) VALUES (:x) RETURNING id) "
                     "INSERT INTO play_events (play_id, user_id, game_id, status, request_time) "
                     "SELECT gen_random_uuid(), id, :g, 'QUEUED', now() FROM u"),
                {"g": played.game_id, "x": str(uuid.uuid4())},
            )  # fmt: skip
        assert [b.ok for b in await balances(db, LuaStore(client), played.game_id)] == [True]
    finally:
        await client.aclose()
        await db.dispose()


async def test_a_rebuild_restores_the_pacing_lines_anchor(settings: Settings) -> None:
    """A game gone live after its start, then topped up: its line is anchored, and a Redis
    loss followed by a rebuild brings the anchor back as it was, to the last bit (without
    it the game would pace as if its total had been there from the start)."""
    assert settings.database_url
    assert settings.redis_url
    app = admin_app(settings)
    db = create_engine(settings.database_url)
    client = connect(settings.redis_url)
    store = LuaStore(client)
    try:
        async with (
            app.router.lifespan_context(app),
            client_of(
                app, settings.admin_token.get_secret_value() if settings.admin_token else None
            ) as admin,
        ):
            brand = await new_brand(admin)
            game = await new_game(admin, {brand: 5})  # its start was a minute ago
            g = game["id"]
            ok(await import_csv(admin, csv_of((brand, code) for code in codes(8))))
            ok(await admin.post(f"/admin/games/{g}/start"))
            view = await load_game(db, g)
            assert view is not None

            async def lose_and_rebuild() -> PacingState:
                """The state rebuilt, but for its epoch: a rebuild always takes a new one."""
                await client.delete(keys.pacing(g), keys.budget(g, brand))
                with pytest.raises(GameLost):  # lost, never read as an empty game
                    await store.state(view.rules)
                await rebuild(db, store, g)
                return dataclasses.replace(await store.state(view.rules), epoch=0)

            late = await store.state(view.rules)
            assert late.line_t is not None  # anchored at 0 when it went live
            assert await lose_and_rebuild() == dataclasses.replace(late, epoch=0)

            ok(await admin.post(f"/admin/games/{g}/budgets/{brand}/top-up",
                                json={"coupons": 3}))  # fmt: skip
            topped = await store.state(view.rules)
            assert (topped.line_t or 0) > late.line_t
            assert topped.line_from > 0
            assert await lose_and_rebuild() == dataclasses.replace(topped, epoch=0)
            assert all(b.ok for b in await balances(db, store, g))
    finally:
        await client.aclose()
        await db.dispose()
