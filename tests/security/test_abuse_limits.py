"""Abuse of ``POST /play`` on a real ``frolic serve --role api``: each limit holds exactly.

The process runs small limits so that a second or two shows them: 150 requests/s an
address (burst 20), 1 play/s a player (burst 3). Each test's client binds its own loopback
address (``frolic_bench.paced``), so every test has an IP bucket of its own. Latency
under abuse is the benchmark's business (``frolic bench abuse``), not these tests'.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import jwt
import orjson
import pytest
from pydantic import SecretStr

from frolic.auth import players
from frolic.auth.players import LEEWAY_SECONDS, player_id
from frolic.auth.tokens import mint_player_token
from frolic.config import Settings
from frolic.errors import Unauthorized
from frolic_bench.cluster import running
from frolic_bench.ingest import count_plays
from frolic_bench.paced import Stream, StreamReport, play_request, send
from tests.support.factories import create_live_game

IP_RATE, IP_BURST = 150.0, 20
USER_RATE, USER_BURST = 1.0, 3
CACHED_TTL = 1


@dataclass(frozen=True)
class Api:
    settings: Settings
    port: int
    game: int
    cached: list[str]  # tokens verified while valid, so the gateway's cache holds them
    cached_until: float  # when they expire, leeway included


def _request(api: Api, token: str | None, **extra: str) -> bytes:
    body = orjson.dumps({"gameId": api.game})
    return play_request(api.port, body, None if token is None else f"Bearer {token}", extra)


async def _plays(settings: Settings, game: int) -> int:
    assert settings.database_url
    return await count_plays(settings.database_url, game)


@pytest.fixture(scope="module")
def api(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    limits = {"FROLIC_RATE_IP_PER_SECOND": str(IP_RATE), "FROLIC_RATE_IP_BURST": str(IP_BURST),
              "FROLIC_RATE_USER_PER_SECOND": str(USER_RATE),
              "FROLIC_RATE_USER_BURST": str(USER_BURST)}  # fmt: skip
    state = tmp_path_factory.mktemp("abuse")
    with running(settings, state, [["api"]], env=limits) as cluster:
        game = asyncio.run(create_live_game(settings, budgets=(5,))).game_id
        tag = uuid.uuid4().hex[:6]
        cached = [mint_player_token(settings, f"cached-{tag}-{i}", ttl_seconds=CACHED_TTL)
                  for i in range(5)]  # fmt: skip
        until = time.time() + CACHED_TTL + LEEWAY_SECONDS
        api = Api(settings, cluster.roles[0].port, game, cached, until)
        # Verified now, while valid; replayed by the last test, once they have expired.
        warm = asyncio.run(send(Stream(api.port, [_request(api, t) for t in cached], 0, 0.3, 1,
                                       ("127.0.3.1",))))  # fmt: skip
        assert warm.statuses[202] >= len(cached), warm.statuses
        yield api


def _refused_with(report: StreamReport, status: int) -> int:
    """Requests refused, after checking every refusal has ``status``."""
    refused = report.sent - report.statuses[202]
    assert report.statuses[status] == refused, report.statuses
    return refused


async def test_a_flood_with_no_token_is_all_401_and_writes_nothing(api: Api) -> None:
    before = await _plays(api.settings, api.game)
    report = await send(Stream(api.port, [_request(api, None)], 0, 1.0, 8, ("127.0.3.2",)))
    assert report.sent > 200
    assert report.statuses == {401: report.sent}
    assert await _plays(api.settings, api.game) == before


async def test_one_player_at_100x_their_rate_gets_burst_plus_rate(api: Api) -> None:
    token = mint_player_token(api.settings, f"greedy-{uuid.uuid4().hex[:6]}")
    report = await send(
        Stream(api.port, [_request(api, token)], 100 * USER_RATE, 2.0, 4, ("127.0.3.3",))
    )
    accepted = report.statuses[202]
    assert report.sent >= 150  # ~100/s for 2 s
    # GCRA: the burst at once, then one each 1/rate s.
    assert USER_BURST <= accepted <= USER_BURST + int(USER_RATE * report.seconds)
    _refused_with(report, 429)
    assert report.no_retry_after == 0


async def test_many_players_from_one_address_are_capped_by_the_ip_limit(api: Api) -> None:
    tag = uuid.uuid4().hex[:6]
    # Each claims another address in X-Forwarded-For: trusted from nobody by default.
    requests = [
        _request(api, mint_player_token(api.settings, f"fake-{tag}-{i}"),
                 **{"X-Forwarded-For": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"})
        for i in range(2000)
    ]  # fmt: skip
    report = await send(Stream(api.port, requests, 0, 1.5, 8, ("127.0.3.4",)))
    accepted = report.statuses[202]
    assert report.sent > 2 * (IP_BURST + IP_RATE * report.seconds)  # well over the limit
    assert accepted <= IP_BURST + int(IP_RATE * report.seconds)
    assert accepted >= IP_BURST
    _refused_with(report, 429)
    assert report.no_retry_after == 0


def test_a_cached_token_is_refused_once_expired(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(jwt_secret=SecretStr("k" * 32))
    token = mint_player_token(settings, f"p-{uuid.uuid4().hex[:6]}", ttl_seconds=60)
    player_id(settings, token)  # verified, and cached
    assert any(key[2] == token for key in players._verified)
    later = time.time() + 60 + LEEWAY_SECONDS + 1
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(Unauthorized, match="expired"):
        player_id(settings, token)


async def test_expired_tokens_are_401_every_time_even_once_cached(api: Api) -> None:
    if (wait := api.cached_until + 0.5 - time.time()) > 0:
        time.sleep(wait)
    now = int(time.time())
    assert api.settings.jwt_secret is not None
    secret = api.settings.jwt_secret.get_secret_value()
    old = [jwt.encode({"sub": f"old-{i}", "exp": now - 600}, secret, algorithm="HS256")
           for i in range(5)]  # fmt: skip
    before = await _plays(api.settings, api.game)
    requests = [_request(api, t) for t in api.cached + old]
    report = await send(Stream(api.port, requests, 0, 1.0, 4, ("127.0.3.5",)))
    assert report.sent > 50
    assert report.statuses == {401: report.sent}
    assert await _plays(api.settings, api.game) == before
