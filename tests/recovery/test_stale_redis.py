"""Redis comes back with an OLDER state than it had: an RDB snapshot, or an append-only file
that lost its last second of writes (``appendfsync everysec`` and a SIGKILL). Its games
still hold the epochs of their rows, but their stock is higher than the truth.

The simulation is a real restart from real persistence files: Redis' data folder is copied
while plays are decided, more plays are decided and recorded, then Redis is SIGKILLed and
started on the copy. Each game built before the restart must be rebuilt from the ledger
before a play is decided against it, and the recorder must never wedge on a win the ledger
has no budget for."""

from __future__ import annotations

import asyncio
import random
import shutil
import time
import uuid
from collections import defaultdict
from pathlib import Path

import httpx
import pytest
import redis.asyncio

from frolic import metrics
from frolic.config import Settings
from frolic.db.session import create_engine
from frolic.engine import keys
from frolic.engine.engine import Engine
from frolic.engine.redis_store import LuaStore
from frolic.engine.store import GameLost
from frolic.engine.strategy import Play
from frolic.games.repository import load_game
from frolic.playlog import messages
from frolic.playlog.consumer import BatchConsumer
from frolic.reconcile.recovery import lost_games, rebuild_lost
from frolic.reconcile.service import balances
from frolic.recorder.ledger import record
from frolic.redis_client import connect
from frolic_chaos.topic_log import read_all
from tests.recovery.conftest import OwnStack
from tests.recovery.test_redis_loss import Players, check_ledger, decided, player_id
from tests.support.factories import create_live_game, wait_decided


async def snapshot(own: OwnStack, into: Path) -> Path:
    """A copy of Redis' persistence files holding every write answered so far.

    Under ``appendfsync everysec`` Redis may answer before it writes its append-only file:
    while a background fsync is running it holds the write back for up to 2 s (on a busy
    CI machine a copy once came back without the last two decisions). Switched to
    ``always``, Redis writes and syncs what it holds before it answers the switch."""
    client = connect(own.settings.redis_url or "")
    try:
        await client.config_set("appendfsync", "always")
    finally:
        await client.aclose()
    copy = into / f"redis-{uuid.uuid4().hex[:6]}"
    shutil.copytree(own.settings.state_dir / "redis", copy)
    return copy


async def restart_from(own: OwnStack, copy: Path) -> None:
    """SIGKILL Redis and start it again on ``copy``: it comes back with the state it had
    then, under a new run."""
    await asyncio.to_thread(own.stack.stop_server, "redis", kill=True)
    data = own.settings.state_dir / "redis"
    shutil.rmtree(data)
    shutil.copytree(copy, data)
    await asyncio.to_thread(own.stack.start_server, "redis")


def plays(n: int) -> list[Play]:
    now = time.time()
    draw = random.Random(n).random
    return [Play.drawn(str(uuid.uuid4()), now, draw) for _ in range(n)]


async def test_an_older_state_is_rebuilt_before_a_play_is_decided_against_it(
    own: OwnStack, tmp_path: Path
) -> None:
    s = own.settings
    assert s.database_url
    assert s.redis_url
    game = await create_live_game(s, budgets=(5,), strategy="fixed_odds", odds=1)
    (brand,) = game.brands
    db = create_engine(s.database_url)
    client = connect(s.redis_url)
    store = LuaStore(client)
    try:
        view = await load_game(db, game.game_id)
        assert view is not None
        rules = view.rules
        user = await player_id(db)
        engine = Engine(store)

        early = plays(2)
        won = await engine.decide(rules, early)
        epoch = engine.epoch(game.game_id)
        assert (await record(db, decided(game.game_id, user, early, won, epoch), 10)).new
        copy = await snapshot(own, tmp_path)
        late = plays(3)
        late_won = await engine.decide(rules, late)
        assert (await record(db, decided(game.game_id, user, late, late_won, epoch), 10)).new
        assert sum(o.win for o in won + late_won) == 5  # the whole budget is recorded

        await restart_from(own, copy)
        assert isinstance(client, redis.asyncio.Redis)
        await client.connection_pool.disconnect()  # rather than fail a call on a dead socket
        # The older state is really back: 3 coupons left, and the row's epoch.
        assert await store.stock(rules) == {brand: 3}
        assert int(await client.hget(keys.pacing(game.game_id), "epoch") or 0) == epoch

        # Neither the allocator nor the warden takes it for the truth.
        assert game.game_id in await lost_games(db, store)
        with pytest.raises(GameLost):
            await engine.decide(rules, plays(2))
        rebuilt = await rebuild_lost(db, store, game.game_id)
        assert rebuilt is not None
        assert rebuilt.stock == {brand: 0}
        assert game.game_id not in await lost_games(db, store)

        after = plays(2)
        assert not any(o.win for o in await engine.decide(rules, after))
        # The plays the older state had forgotten keep their outcomes (from the ledger).
        replayed = await engine.decide(rules, late)
        assert [(o.brand, o.replay) for o in replayed] == [(brand, True)] * 3
        [balance] = await balances(db, store, game.game_id)
        assert (balance.issued, balance.redis_remaining, balance.ok) == (5, 0, True)
    finally:
        await client.aclose()
        await db.dispose()


async def test_a_win_the_ledger_has_no_budget_for_is_dropped_not_retried_forever(
    own: OwnStack,
) -> None:
    """Whatever made Redis' stock wrong under the current epoch (an older state nothing
    detected, a hand edit), the recorder meets a win beyond the ledger's remaining budget.
    Before, the check constraint failed the whole batch, which was retried forever. Now
    the game's decisions are dropped and its epoch retired, so the warden rebuilds it and
    the plays are decided again."""
    s = own.settings
    assert s.database_url
    assert s.redis_url
    game = await create_live_game(s, budgets=(2,), strategy="fixed_odds", odds=1)
    other = await create_live_game(s, budgets=(2,), strategy="fixed_odds", odds=1)
    (brand,) = game.brands
    db = create_engine(s.database_url)
    client = connect(s.redis_url)
    store = LuaStore(client)
    try:
        views = [await load_game(db, g.game_id) for g in (game, other)]
        rules, other_rules = (v.rules for v in views if v is not None)
        user = await player_id(db)
        engine = Engine(store)
        first = plays(2)
        won = await engine.decide(rules, first)
        epoch = engine.epoch(game.game_id)
        first_won = decided(game.game_id, user, first, won, epoch)
        assert len((await record(db, first_won, 10)).new) == 2

        await client.set(keys.budget(game.game_id, brand), 2)  # Redis believes in 2 more
        extra = plays(2)
        extra_won = await engine.decide(rules, extra)
        assert all(o.win for o in extra_won)
        fine = plays(1)
        fine_won = await engine.decide(other_rules, fine)
        batch = [
            *decided(game.game_id, user, extra, extra_won, epoch),
            *decided(other.game_id, user, fine, fine_won, engine.epoch(other.game_id)),
        ]
        finals = (await record(db, batch, 10)).finals  # no CheckViolation, no endless retry
        assert [f.play_id for f in finals] == [fine[0].play_id]  # the other game's play
        assert game.game_id in await lost_games(db, store)  # the epoch was retired

        rebuilt = await rebuild_lost(db, store, game.game_id)
        assert rebuilt is not None
        assert rebuilt.stock == {brand: 0}
        again = await engine.decide(rules, extra)  # the re-driver sends them again
        assert not any(o.win or o.replay for o in again)
        recorded = await record(db, decided(game.game_id, user, extra, again, rebuilt.epoch), 10)
        finals = recorded.finals
        assert sorted(f.outcome for f in finals) == ["LOSE", "LOSE"]
        [balance] = await balances(db, store, game.game_id)
        assert (balance.issued, balance.redis_remaining, balance.ok) == (2, 0, True)
    finally:
        await client.aclose()
        await db.dispose()


async def test_a_decision_the_ledger_refuses_is_left_out_not_retried_forever(
    own: OwnStack,
) -> None:
    """Decisions that could never be recorded do not fail their whole batch on every
    retry. One of a game the ledger does not hold is dropped (the game has no epoch). One
    whose audit JSONB cannot store (a NUL) is refused by PostgreSQL: the recorders'
    consumer sets it aside at the first refusal, without the retries it gives other
    failures, and records the rest."""
    s = own.settings
    assert s.database_url
    game = await create_live_game(s, budgets=(2,), strategy="fixed_odds", odds=1)
    db = create_engine(s.database_url)
    member = BatchConsumer(s, s.result_topic, f"refusals-{uuid.uuid4().hex[:6]}")
    try:
        user = await player_id(db)
        good, unknown, nul = plays(3)

        def lost(p: Play, game_id: int, audit: dict[str, object]) -> messages.Decided:
            return messages.Decided(p.play_id, game_id, user, "p", p.t, p.t, None, 0.0, audit)

        batch = [lost(good, game.game_id, {}), lost(unknown, 2**62, {}),
                 lost(nul, game.game_id, {"why": "\x00"})]  # fmt: skip
        calls: list[int] = []
        finals: list[messages.Final] = []

        async def recorder(part: list[messages.Decided]) -> None:
            calls.append(len(part))
            finals.extend((await record(db, part, 10)).finals)  # epoch 0: the factory's load

        skipped = metrics.SKIPPED.labels(member.group)
        assert await member._handle(asyncio.Event(), recorder, batch)
        assert [f.play_id for f in finals] == [good.play_id]
        assert skipped._value.get() == 1
        # Each part tried once: the whole, the good one, the bad pair, each of the pair.
        assert calls == [3, 1, 2, 1, 1]
    finally:
        member._consumer.close()
        await db.dispose()


# ----------------------------------------------------------------------------------------
# The whole pipeline in this process: api, allocator (with its warden) and recorder.


async def test_the_pipeline_through_a_restart_from_older_files(
    client: httpx.AsyncClient, loss_settings: Settings, own: OwnStack, tmp_path: Path
) -> None:
    """Wins decided and recorded after the copy are missing from the Redis that comes back:
    no play is decided against that stock, nothing is overspent or lost, the recorder keeps
    going, and no play is revealed with two outcomes."""
    s = loss_settings
    assert s.database_url
    game = await create_live_game(s, budgets=(10, 10), strategy="fixed_odds", odds=1)
    players = Players(client, s, game)
    await players.wave(8, "before")
    await wait_decided(s, players.play_ids)
    copy = await snapshot(own, tmp_path)
    await players.wave(8, "between")
    await wait_decided(s, players.play_ids)  # 16 of 20 coupons won; the copy says 8
    await restart_from(own, copy)
    await players.wave(16, "after")
    await players.wave(8, "between")  # retried keys: the older Redis forgot their claims
    db = create_engine(s.database_url)
    try:
        await wait_decided(s, players.play_ids, timeout=30)
        counts = await check_ledger(db, s, game)
    finally:
        await db.dispose()
    assert counts == {"WIN": 20, "LOSE": 12}  # the whole budget, and not one more
    finals = await asyncio.to_thread(read_all, s, s.final_topic)
    shown: dict[str, set[tuple[str, int | None]]] = defaultdict(set)
    for raw in finals:
        final = _final.decode(raw)
        shown[final.play_id].add((final.outcome, final.brand))
    assert all(len(seen) == 1 for seen in shown.values()), "a play revealed two ways"


_final = messages.decoder(messages.Final)
