"""Redis loses everything (FLUSHALL, a restart without persistence) while plays are in
flight: each lost game is rebuilt from the ledger before its plays are decided again, no
decision Redis made before the loss is counted twice, and every play reaches one outcome."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from frolic.auth.tokens import mint_player_token
from frolic.config import Settings
from frolic.db.session import create_engine
from frolic.engine.engine import Engine
from frolic.engine.redis_store import LuaStore, store_for
from frolic.engine.step import Outcome
from frolic.engine.strategy import Play
from frolic.games.repository import load_game
from frolic.playlog.messages import Decided
from frolic.reconcile.recovery import lost_games, rebuild_lost, watch
from frolic.reconcile.service import balances
from frolic.recorder.ledger import record
from frolic.redis_client import connect
from tests.recovery.conftest import OwnStack
from tests.support.factories import LiveGame, create_live_game, wait_decided

PLAYER = "lost-and-found"


async def player_id(db: AsyncEngine) -> int:
    async with db.begin() as conn:
        found: int = (
            await conn.execute(
                text(
                    "INSERT INTO users (external_id) VALUES (:u) ON CONFLICT (external_id) "
                    "DO UPDATE SET external_id = EXCLUDED.external_id RETURNING id"
                ),
                {"u": PLAYER},
            )
        ).scalar_one()
    return found


def decided(
    game_id: int, user_id: int, plays: Sequence[Play], outcomes: Sequence[Outcome], epoch: int
) -> list[Decided]:
    return [
        Decided(p.play_id, game_id, user_id, PLAYER, p.t, p.t + 10, o.brand, p.t, {}, epoch)
        for p, o in zip(plays, outcomes, strict=True)
    ]


async def test_a_decision_redis_made_before_the_loss_is_decided_again_not_recorded(
    own: OwnStack,
) -> None:
    """The race a rebuild must not lose: a WIN decided before the loss, still on its way to
    the ledger when the game is rebuilt. Recorded, it would be counted on top of a stock
    that did not count it (an overspend); it is dropped, and its play decided afresh."""
    s = own.settings
    assert s.database_url
    assert s.redis_url
    game = await create_live_game(s, budgets=(3,), strategy="fixed_odds", odds=1)
    db = create_engine(s.database_url)
    client = connect(s.redis_url)
    store = LuaStore(client)
    try:
        view = await load_game(db, game.game_id)
        assert view is not None
        rules = view.rules
        user = await player_id(db)
        now = time.time()
        draw = random.Random(1).random
        early = [Play.drawn(str(uuid.uuid4()), now, draw) for _ in range(2)]
        late = [Play.drawn(str(uuid.uuid4()), now, draw) for _ in range(2)]
        engine = Engine(store)
        early_outcomes = await engine.decide(rules, early)
        late_outcomes = await engine.decide(rules, late)
        assert sum(o.win for o in early_outcomes + late_outcomes) == 3  # the whole budget
        assert (await record(db, decided(game.game_id, user, early, early_outcomes, 0), 10)).new

        await client.flushall()
        rebuilt = await rebuild_lost(db, store, game.game_id)
        assert rebuilt is not None
        assert rebuilt.stock == {next(iter(game.brands)): 1}  # 3 - the 2 recorded
        assert rebuilt.outcomes == 2

        # The late decisions reach the recorder now: an older epoch's, dropped.
        assert (await record(db, decided(game.game_id, user, late, late_outcomes, 0), 10)) == (
            [],
            [],
        )
        # The re-driver sends their plays again; decided afresh against the rebuilt stock.
        again = await Engine(store).decide(rules, late)
        assert not any(o.replay for o in again)
        assert sum(o.win for o in again) == 1
        current = decided(game.game_id, user, late, again, rebuilt.epoch)
        assert len((await record(db, current, 10)).new) == 2
        # The early plays kept their outcomes through the loss.
        replayed = await Engine(store).decide(rules, early)
        assert [(o.brand, o.replay) for o in replayed] == [(o.brand, True) for o in early_outcomes]

        [balance] = await balances(db, store, game.game_id)
        assert (balance.issued, balance.redis_remaining, balance.ok) == (3, 0, True)
    finally:
        await client.aclose()
        await db.dispose()


async def test_the_warden_rebuilds_a_paused_game_before_it_resumes(own: OwnStack) -> None:
    """A paused game takes no plays, so no allocator meets it lost: the warden rebuilds it,
    and it resumes paced from the ledger rather than refused."""
    s = own.settings
    assert s.database_url
    assert s.redis_url
    game = await create_live_game(s, budgets=(4, 2))
    db = create_engine(s.database_url)
    client = connect(s.redis_url)
    store = LuaStore(client)
    stop = asyncio.Event()
    try:
        async with db.begin() as conn:
            await conn.execute(
                text("UPDATE games SET status = 'paused' WHERE id = :g"), {"g": game.game_id}
            )
        await client.flushall()
        assert game.game_id in await lost_games(db, store)
        warden = asyncio.create_task(watch(db, store, stop, every=0.1))
        for _ in range(100):
            if await store.loaded_epoch(game.game_id) is not None:
                break
            await asyncio.sleep(0.1)
        stop.set()
        await warden
        assert game.game_id not in await lost_games(db, store)
        assert all(b.ok for b in await balances(db, store, game.game_id))
    finally:
        stop.set()
        await client.aclose()
        await db.dispose()


# ----------------------------------------------------------------------------------------
# The whole pipeline in this process: api, allocator (with its warden) and recorder.


class Players:
    """Players sending plays with an Idempotency-Key each, retrying what is not answered
    (Redis away) with the same key, as a client should."""

    def __init__(self, client: httpx.AsyncClient, settings: Settings, game: LiveGame) -> None:
        self.client = client
        self.settings = settings
        self.game = game
        self.answered: dict[tuple[str, str], set[str]] = {}
        self.run = uuid.uuid4().hex[:6]

    async def play(self, user: str, key: str) -> None:
        token = mint_player_token(self.settings, user)
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
        for _ in range(100):
            try:
                response = await self.client.post(
                    "/play", json={"gameId": self.game.game_id}, headers=headers
                )
            except Exception:  # the app's Redis client may raise through the transport
                response = None
            if response is not None and response.status_code == 202:
                self.answered.setdefault((user, key), set()).add(response.json()["playId"])
                return
            assert response is None or response.status_code >= 500, response.text
            await asyncio.sleep(0.1)
        raise AssertionError(f"{user}/{key} was never accepted")

    async def wave(self, n: int, tag: str) -> None:
        users = [f"p{i}-{tag}-{self.run}" for i in range(n)]
        await asyncio.gather(*(self.play(user, f"k-{tag}") for user in users))

    @property
    def play_ids(self) -> list[str]:
        assert all(len(ids) == 1 for ids in self.answered.values()), "a key got two plays"
        return [next(iter(ids)) for ids in self.answered.values()]


async def check_ledger(db: AsyncEngine, settings: Settings, game: LiveGame) -> dict[str, int]:
    """Every invariant the ledger and Redis can show for ``game``; its outcome counts."""
    async with db.connect() as conn:
        by_status = await conn.execute(
            text("SELECT status, count(*) FROM play_events WHERE game_id = :g GROUP BY status"),
            {"g": game.game_id},
        )
        counts = {status: n for status, n in by_status}
        holders = (
            await conn.execute(
                text(
                    "SELECT count(*) FILTER (WHERE p.reward_coupon_id IS NULL), "
                    "count(DISTINCT p.reward_coupon_id), count(*) FROM play_events p "
                    "WHERE p.game_id = :g AND p.status = 'WIN'"
                ),
                {"g": game.game_id},
            )
        ).one()
    assert holders[0] == 0, "a win without a code"
    assert holders[1] == holders[2], "a code held by two plays"
    assert settings.redis_url
    redis = connect(settings.redis_url)
    try:
        for b in await balances(db, store_for(settings, redis), game.game_id):
            assert b.issued <= b.total, f"brand {b.brand_id} overspent: {b}"
            assert b.ok, f"Redis and the ledger disagree: {b}"
    finally:
        await redis.aclose()
    return counts


async def run_through_a_loss(
    client: httpx.AsyncClient, settings: Settings, lose: Callable[[], Awaitable[None]]
) -> dict[str, int]:
    """Plays before, during and after ``lose()``; every invariant checked at the end."""
    assert settings.database_url
    # Every play wants to win: the budget is used up, so an overspend would show.
    game = await create_live_game(settings, budgets=(12, 12), strategy="fixed_odds", odds=1)
    players = Players(client, settings, game)
    await players.wave(16, "before")

    async def lose_soon() -> None:
        await asyncio.sleep(0.05)  # while the wave's plays are being decided and recorded
        await lose()

    await asyncio.gather(players.wave(24, "during"), lose_soon())
    await players.wave(24, "after")
    # Retried after the loss, with their keys: Redis has forgotten the keys' claims, the
    # ledger has not, and each retry gets its first play back (``play_ids`` checks it).
    await players.wave(16, "before")
    db = create_engine(settings.database_url)
    try:
        await wait_decided(settings, players.play_ids, timeout=60)
        counts = await check_ledger(db, settings, game)
    finally:
        await db.dispose()
    assert sum(counts.values()) == 64
    assert counts.get("WIN") == 24  # the whole budget, and not one more
    return counts


async def test_flushall_with_plays_in_flight(
    client: httpx.AsyncClient, loss_settings: Settings
) -> None:
    assert loss_settings.redis_url
    redis = connect(loss_settings.redis_url)

    async def flush() -> None:
        await redis.flushall()
        await redis.client_kill_filter(_type="normal")  # every other client reconnects

    try:
        await run_through_a_loss(client, loss_settings, flush)
    finally:
        await redis.aclose()


async def test_redis_restarted_empty_with_plays_in_flight(
    client: httpx.AsyncClient, loss_settings: Settings, own: OwnStack
) -> None:
    async def restart() -> None:
        await asyncio.to_thread(own.stack.stop_server, "redis")
        await asyncio.sleep(0.5)
        await asyncio.to_thread(own.stack.start_server, "redis", wipe=True)

    await run_through_a_loss(client, loss_settings, restart)
