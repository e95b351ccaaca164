"""Frolic with every role on a real uvicorn server (in a thread, on a free port) over the
session's stack, and a few plays played through it, one of them watched over WebSocket:
what a Prometheus scrape of a working process sees."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import orjson
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from frolic.app import create_app
from frolic.auth.tokens import mint_player_token
from frolic.config import Settings
from tests.support.factories import LiveGame, create_live_game, wait_decided, with_own_topics
from tests.support.serving import serving

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass
class Running:
    settings: Settings
    app: FastAPI
    url: str

    def scrape(self) -> str:
        response = httpx.get(f"{self.url}/metrics", timeout=30)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        return response.text

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_player_token(self.settings, user)}"}


def samples(exposition: str) -> Samples:
    """Every sample of a scrape by name and labels; parsing fails on a malformed scrape."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture(scope="package")
def running(settings: Settings) -> Iterator[Running]:
    # No re-driving: the database is shared, and its re-driver would decide other tests'
    # leftover plays (an api-only test's, never decided) as this process's, which the
    # histograms (not labelled by game) would count (254 decisions for 10 plays).
    s = with_own_topics(settings, "metrics", reveal_seconds=1.5, redrive_after_seconds=86_400)
    app = create_app(s)
    with serving(app, name="frolic-under-test") as address:
        # Every scrape reads the servers afresh, so a figure cannot be a snapshot from
        # before the plays (test_metrics checks the cache on a ServerFigures of its own).
        app.state.server_figures.max_age = 0.0
        yield Running(s, app, f"http://{address}")


@dataclass
class Played:
    game: LiveGame
    plays: int
    before: Samples
    after: Samples
    exposition: str


async def play_some(running: Running, *, plays: int = 10) -> Played:
    """``plays`` plays of a new game whose every play wins while stock lasts (6 coupons),
    one refused request, and a reveal watched over WebSocket; the scrapes around them."""
    s = running.settings
    before = samples(running.scrape())
    game = await create_live_game(s, budgets=(3, 3), strategy="fixed_odds", odds=1)
    watcher = f"watcher-{uuid.uuid4().hex[:6]}"
    ws_url = running.url.replace("http", "ws") + "/ws"
    async with (
        connect(ws_url, additional_headers=running.auth(watcher)) as ws,
        httpx.AsyncClient(base_url=running.url, timeout=30) as client,
    ):
        await ws.send("ping")
        assert orjson.loads(await ws.recv()) == {"type": "pong"}  # held by the hub now
        ids = []
        for n in range(plays):
            user = watcher if n == 0 else f"player-{uuid.uuid4().hex[:6]}"
            response = await client.post(
                "/play", json={"gameId": game.game_id}, headers=running.auth(user)
            )
            assert response.status_code == 202, response.text
            ids.append(response.json()["playId"])
        missing = await client.post(
            "/play", json={"gameId": 999_999_999}, headers=running.auth(watcher)
        )
        assert missing.status_code == 404
        await wait_decided(s, ids)
        async with asyncio.timeout(s.reveal_seconds + 30):
            reveal = orjson.loads(await ws.recv())
        assert reveal["playId"] == ids[0]
    # A recorder counts its batch once the finals' publish is acknowledged, which may be
    # after the reveal it fed: scrape until every play is counted (or give up, and let the
    # tests say what is missing).
    for _ in range(100):
        exposition = running.scrape()
        counted = samples(exposition).get(("frolic_end_to_end_latency_seconds_count", ()), 0.0)
        if counted - before.get(("frolic_end_to_end_latency_seconds_count", ()), 0.0) >= plays:
            break
        await asyncio.sleep(0.1)
    return Played(game, plays, before, samples(exposition), exposition)


@pytest.fixture(scope="package")
async def played(running: Running) -> Played:
    return await play_some(running)
