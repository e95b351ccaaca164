"""The odds a play had: ``GET /plays/{id}`` and the reveal state the probability its audit
records, once revealed, through the whole pipeline on the real stack."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.asyncio.client import connect

from frolic.app import create_app
from frolic.auth.tokens import mint_player_token
from frolic.config import Settings
from frolic.playlog.messages import probability
from frolic.reveal.history import recent
from tests.reveal.conftest import player, received
from tests.reveal.test_history import seed
from tests.support.factories import create_live_game, with_own_topics
from tests.support.serving import serving

# Each strategy's game; fixed_odds at 1 in 4 states its odds exactly.
GAMES: dict[str, dict[str, Any]] = {
    "paced": {}, "slot": {}, "fixed_odds": {"odds": 4}, "winning_moments": {},
}  # fmt: skip


@pytest.fixture(scope="module")
def odds_settings(settings: Settings) -> Settings:
    return with_own_topics(settings, "odds", reveal_seconds=1.0)


@pytest.fixture(scope="module")
def address(odds_settings: Settings) -> Iterator[str]:
    """Every role in one real server: ingestion, allocator, recorder and the reveal."""
    with serving(create_app(odds_settings), name="odds-server") as served:
        yield served


async def test_a_plays_view_and_reveal_state_the_probability_of_its_audit(
    odds_settings: Settings, address: str, db: AsyncEngine
) -> None:
    s = odds_settings
    games = {name: await create_live_game(s, budgets=(5,), strategy=name, **extra)
             for name, extra in GAMES.items()}  # fmt: skip
    user = player()
    headers = {"Authorization": f"Bearer {mint_player_token(s, user)}"}
    async with (
        connect(f"ws://{address}/ws", additional_headers=headers) as ws,
        httpx.AsyncClient(base_url=f"http://{address}", headers=headers) as client,
    ):
        await ws.send("ping")
        assert await received(ws) == {"type": "pong"}
        plays: dict[str, str] = {}
        for name, game in games.items():
            answer = await client.post("/play", json={"gameId": game.game_id})
            assert answer.status_code == 202, answer.text
            plays[answer.json()["playId"]] = name
        first = next(iter(plays))
        early = (await client.get(f"/plays/{first}")).json()
        assert early["status"] == "QUEUED"
        assert early["probability"] is None  # not disclosed before the outcome is

        revealed: dict[str, dict[str, Any]] = {}
        while len(revealed) < len(plays):
            message = await received(ws, timeout=30)
            if message["type"] == "result":
                revealed[message["playId"]] = message
        views = {p: (await client.get(f"/plays/{p}")).json() for p in plays}

    async with db.connect() as conn:
        rows = await conn.execute(
            text("SELECT play_id, metadata FROM play_events WHERE play_id = ANY(:ids)"),
            {"ids": [uuid.UUID(p) for p in plays]},
        )
        audits = {str(r.play_id): r.metadata for r in rows}
    for play_id, name in plays.items():
        p = audits[play_id]["p"]
        assert 0 <= p <= 1, name
        assert views[play_id]["status"] == "REVEALED"
        assert views[play_id]["outcome"] == revealed[play_id]["outcome"]
        assert views[play_id]["probability"] == revealed[play_id]["probability"] == p, name
    fixed = next(p for p, name in plays.items() if name == "fixed_odds")
    assert views[fixed]["probability"] == 0.25
    moments = next(p for p, name in plays.items() if name == "winning_moments")
    assert views[moments]["probability"] == (1 if views[moments]["outcome"] == "WIN" else 0)


async def test_a_reconnecting_player_reads_the_probability_from_the_ledger(
    db: AsyncEngine,
) -> None:
    s = await seed(db)
    now = time.time()
    audited = await s.play(db, now - 60, status="LOSE", decided=True,
                           meta={"revealAt": now - 50, "p": 0.0125, "draw": 0.5})  # fmt: skip
    bare = await s.play(db, now - 30, status="LOSE", decided=True, meta={"revealAt": now - 20})
    history = await recent(db, s.user, now - 600, 10.0)
    odds = {f.play_id: f.probability for f in history.decided}
    assert odds == {audited: 0.0125, bare: None}
    assert history.decided[0].reveal()["probability"] == 0.0125


@pytest.mark.parametrize(
    ("recorded", "told"),
    [(0.41, 0.41), (1, 1.0), (0, 0.0), (1.3, 1.0), (-0.1, 0.0), (None, None), ("0.5", None),
     (True, None), (math.nan, None)],
)  # fmt: skip
def test_the_probability_told_is_the_recorded_p_within_0_and_1(
    recorded: object, told: float | None
) -> None:
    assert probability(recorded) == told
