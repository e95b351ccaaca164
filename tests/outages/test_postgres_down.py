"""PostgreSQL down under a live game, then back: nothing is lost, nothing is guessed."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
from sqlalchemy import text
from websockets.asyncio.client import connect

from frolic.app import create_app
from frolic.db.session import create_engine
from tests.outages.conftest import Outage, listening, next_message
from tests.support.factories import create_live_game, wait_decided
from tests.support.serving import serving

DOWN_SECONDS = 4.0


async def test_postgres_down_503_pending_then_every_outcome_recorded(outage: Outage) -> None:
    s = outage.settings
    assert s.database_url
    game = await create_live_game(s, budgets=(5,), spare_codes=2)
    user = f"pg-{uuid.uuid4().hex[:6]}"
    body = {"gameId": game.game_id}
    front = create_app(s, roles=("api", "allocator", "ws"))
    with serving(front, name="front") as address:
        await listening(front)
        async with (
            httpx.AsyncClient(base_url=f"http://{address}", timeout=20) as client,
            connect(f"ws://{address}/ws", additional_headers=outage.auth(user)) as ws,
        ):
            headers = outage.auth(user)
            keyed = {k: {**headers, "Idempotency-Key": k} for k in "ab"}
            before = await client.post("/play", json=body, headers=keyed["a"])
            assert before.status_code == 202
            play_id = before.json()["playId"]
            # Decided at once; no recorder runs yet, so its outcome waits on the results topic.
            await asyncio.to_thread(outage.stack.stop_server, "postgres")
            recorder = create_app(s, roles=("recorder",))
            with serving(recorder, name="recorder"):
                started = time.monotonic()
                during = await client.post("/play", json=body, headers=keyed["b"])
                assert time.monotonic() - started < 5  # answered, not hung
                assert during.status_code == 503
                assert during.json()["error"] == "NotReady"
                assert int(during.headers["retry-after"]) >= 1
                ready = await client.get("/readyz")
                assert ready.status_code == 503
                assert ready.json()["detail"]["postgres"] != "ok"
                assert (await client.get(f"/plays/{play_id}", headers=headers)).status_code == 503

                # At revealAt the outcome is not recorded: the socket is told so, not a guess.
                told = await next_message(ws, s.reveal_seconds + 3)
                assert told == {"type": "pending", "playId": play_id, "retryAfter": 5}

                await asyncio.sleep(DOWN_SECONDS)
                await asyncio.to_thread(outage.stack.start_server, "postgres")
                # The recorder was retrying: it records the outcome, and the result follows.
                result = await next_message(ws, 20)
                assert (result["type"], result["playId"]) == ("result", play_id)

                # The key refused during the outage, retried twice: one play.
                again = [
                    await client.post(
                        "/play", json=body, headers={**headers, "Idempotency-Key": "b"}
                    )
                    for _ in range(2)
                ]
                assert [a.status_code for a in again] == [202, 202]
                assert again[0].json()["playId"] == again[1].json()["playId"]
                await wait_decided(s, [play_id, again[0].json()["playId"]])
                view = await client.get(f"/plays/{play_id}", headers=headers)
                assert (view.status_code, view.json()["status"]) == (200, "REVEALED")
                assert view.json()["outcome"] == result["outcome"]
                assert (await client.get("/readyz")).status_code == 200
    db = create_engine(s.database_url)
    try:
        async with db.connect() as conn:
            plays = (await conn.execute(text(
                "SELECT count(*) FROM play_events p JOIN users u ON u.id = p.user_id "
                "WHERE u.external_id = :u"), {"u": user},
            )).scalar_one()  # fmt: skip
    finally:
        await db.dispose()
    assert plays == 2
