"""The embedded broker restarted under load: it comes back empty (no topics, messages,
groups or offsets), and still every play answered QUEUED gets one outcome and one reveal."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

import httpx
from sqlalchemy import text
from websockets.asyncio.client import ClientConnection, connect

from frolic import topics
from frolic.app import create_app
from frolic.db.session import create_engine
from tests.outages.conftest import Outage, listening, next_message
from tests.support.factories import create_live_game, wait_decided
from tests.support.serving import serving

PLAYERS = 4
ROUNDS = 8  # rounds of plays (one every 0.25 s) after the broker is back


async def test_a_broker_restart_loses_no_play_and_no_reveal(outage: Outage) -> None:
    s = outage.settings
    assert s.database_url
    game = await create_live_game(s, budgets=(6, 6), spare_codes=2)
    users = [f"br-{i}-{uuid.uuid4().hex[:6]}" for i in range(PLAYERS)]
    app = create_app(s)
    with serving(app, name="all-roles") as address:
        await listening(app)
        async with httpx.AsyncClient(base_url=f"http://{address}", timeout=20) as client:
            sockets = [
                await connect(f"ws://{address}/ws", additional_headers=outage.auth(u))
                for u in users
            ]
            owner: dict[str, str] = {}

            async def play(user: str, key: str) -> None:
                headers = {**outage.auth(user), "Idempotency-Key": key}
                answer = await client.post("/play", json={"gameId": game.game_id}, headers=headers)
                assert answer.status_code == 202, answer.text
                owner[answer.json()["playId"]] = user

            restarted = asyncio.Event()

            async def restart() -> None:
                await asyncio.sleep(1)
                await asyncio.to_thread(outage.stack.stop_server, "broker")
                await asyncio.sleep(1)
                await asyncio.to_thread(outage.stack.start_server, "broker")
                restarted.set()

            async def load() -> None:
                # Before, during and for a while after the restart.
                rounds = after = 0
                while not restarted.is_set() or after < ROUNDS:
                    await asyncio.gather(*(play(u, f"k{rounds}") for u in users))
                    await asyncio.sleep(0.25)
                    rounds += 1
                    after += restarted.is_set()

            await asyncio.gather(load(), restart())
            # Those the broker lost are re-driven (redrive_after_seconds) and decided once.
            await wait_decided(s, list(owner), timeout=60)

            # Re-created by the topic keeper with our partition count, not the broker's own.
            counts = topics.partition_counts(topics.admin_client(s), 5)
            for name in (s.play_topic, s.result_topic, s.final_topic):
                assert counts[name] == s.kafka_partitions

            # Every player is revealed each of their plays, once, as the ledger has it.
            got: dict[str, list[dict[str, object]]] = defaultdict(list)
            for user, ws in zip(users, sockets, strict=True):
                got[user] = await results(ws, sum(o == user for o in owner.values()))
                await ws.close()
    outcomes = await ledger(s.database_url, list(owner))
    for user, messages in got.items():
        assert sorted(str(m["playId"]) for m in messages) == sorted(
            p for p, o in owner.items() if o == user
        )
        for message in messages:
            assert message["outcome"] == outcomes[str(message["playId"])]


async def results(ws: ClientConnection, wanted: int) -> list[dict[str, object]]:
    """The socket's first ``wanted`` results (pending notices skipped); fails on a repeat."""
    out: list[dict[str, object]] = []
    while len(out) < wanted:
        message = await next_message(ws, 30)
        if message["type"] == "result":
            assert message["playId"] not in {m["playId"] for m in out}, "revealed twice"
            out.append(message)
    return out


async def ledger(url: str, play_ids: list[str]) -> dict[str, str]:
    db = create_engine(url)
    try:
        async with db.connect() as conn:
            rows = (await conn.execute(
                text("SELECT play_id, status FROM play_events WHERE play_id = ANY(:ids)"),
                {"ids": [uuid.UUID(p) for p in play_ids]},
            )).all()  # fmt: skip
    finally:
        await db.dispose()
    return {str(r.play_id): r.status for r in rows}
