"""``frolic bench abuse``: legitimate players' latency and the limits, while someone abuses
``POST /play``.

A ``frolic serve --role api`` process on the stack's servers keeps the real rate limits
(``FROLIC_RATE_*``, the defaults unless set). Legitimate players play a live game at a
steady rate, open loop (``frolic_bench.paced``): first alone (the baseline), then with each
abusive load running at the same time from a process of its own:

- ``no_token``: a flood of plays with no Authorization header;
- ``one_user_100x``: one player at 100 times the player rate limit;
- ``fake_users``: many players (valid tokens, distinct ``sub``) from one address;
- ``expired``: tokens replayed after they expired, half of them verified (and cached by the
  gateway) while they were still valid.

Players and attacker get addresses of their own by binding their sockets to different
loopback addresses; no X-Forwarded-For is sent or trusted. Each scenario reports the
players' p50/p99, what the attacker sent and how it was answered, and whether the limit
held: every refusal the right status (401, or 429 with Retry-After), accepted plays within
what the limit's GCRA allows in the time (burst + rate x seconds), and every accepted play
of the run in PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import orjson

from frolic.auth.players import LEEWAY_SECONDS
from frolic.auth.tokens import mint_player_token
from frolic.config import Settings
from frolic_bench.cluster import running
from frolic_bench.ingest import count_plays, live_game
from frolic_bench.paced import Stream, StreamReport, play_request, run

Progress = Callable[[str], None]
P99_TARGET_MS = 50.0  # ingest's target (docs/performance.md)
PLAYERS_SOURCES = tuple(f"127.0.1.{i}" for i in range(1, 17))
ATTACKER = ("127.0.2.1",)
SCENARIOS = ("no_token", "one_user_100x", "fake_users", "expired")


@dataclass(frozen=True)
class Sizes:
    seconds: float
    legit_rate: float
    players: int
    abuse_rate: float
    fake_users: int
    expired_tokens: int


FULL = Sizes(seconds=10.0, legit_rate=200, players=400, abuse_rate=1500, fake_users=10_000,
             expired_tokens=1000)  # fmt: skip
SMOKE = Sizes(seconds=1.5, legit_rate=50, players=50, abuse_rate=300, fake_users=2000,
              expired_tokens=50)  # fmt: skip


def measure(settings: Settings, state: Path, sizes: Sizes, progress: Progress) -> dict[str, Any]:
    assert settings.admin_token is not None, "call Settings.with_local_secrets() first"
    assert settings.database_url
    limits = {  # what the api process runs with: the settings', not the bench cluster's
        "FROLIC_RATE_IP_PER_SECOND": str(settings.rate_ip_per_second),
        "FROLIC_RATE_IP_BURST": str(settings.rate_ip_burst),
        "FROLIC_RATE_USER_PER_SECOND": str(settings.rate_user_per_second),
        "FROLIC_RATE_USER_BURST": str(settings.rate_user_burst),
    }
    with running(settings, state, [["api"]], env=limits) as cluster:
        port = cluster.roles[0].port
        game = live_game(cluster.roles[0].url, settings.admin_token.get_secret_value())
        body = orjson.dumps({"gameId": game})
        tag = uuid.uuid4().hex[:6]

        def requests(users: list[str] | None, ttl: int = 86_400) -> list[bytes]:
            if users is None:
                return [play_request(port, body, None)]
            return [play_request(port, body, _bearer(settings, u, ttl)) for u in users]

        legit = Stream(port, requests([f"legit-{tag}-{i}" for i in range(sizes.players)]),
                       sizes.legit_rate, sizes.seconds, 16, PLAYERS_SOURCES)  # fmt: skip
        progress(f"baseline: {sizes.legit_rate:g} plays/s from {sizes.players} players, "
                 f"{sizes.seconds:g} s ...")  # fmt: skip
        [alone] = run([legit])
        accepted = alone.statuses[202]
        result: dict[str, Any] = {"baseline": _players(alone)}

        expired, warmed = _expired_tokens(port, body, settings, sizes, tag)
        accepted += warmed
        attacks = {
            "no_token": (requests(None), sizes.abuse_rate),
            "one_user_100x": (requests([f"greedy-{tag}"]), 100 * settings.rate_user_per_second),
            "fake_users": (requests([f"fake-{tag}-{i}" for i in range(sizes.fake_users)]),
                           sizes.abuse_rate),
            "expired": (expired, sizes.abuse_rate),
        }  # fmt: skip
        for name, (sent, rate) in attacks.items():
            progress(f"{name}: {rate:g} requests/s from one address, with the players ...")
            attacker = Stream(port, sent, rate, sizes.seconds, 32, ATTACKER)
            players, abused = run([legit, attacker])
            accepted += players.statuses[202] + abused.statuses[202]
            result[name] = {**_players(players), **_abuse(name, abused, settings)}
        stored = asyncio.run(count_plays(settings.database_url, game))
    held = all(result[n]["limit_held"] for n in SCENARIOS)
    on_target = all(result[n]["legit_p99_ms"] < P99_TARGET_MS for n in ["baseline", *SCENARIOS])
    return {
        **result, "plays_accepted": accepted, "plays_in_postgres": stored,
        "limits_held": held and stored == accepted, "legit_p99_on_target": on_target,
        "p99_target_ms": P99_TARGET_MS,
        "limits": {"ip_per_s": settings.rate_ip_per_second, "ip_burst": settings.rate_ip_burst,
                   "user_per_s": settings.rate_user_per_second,
                   "user_burst": settings.rate_user_burst},
        "sizes": vars(sizes), "load_average": [round(x, 2) for x in os.getloadavg()],
    }  # fmt: skip


def _expired_tokens(
    port: int, body: bytes, settings: Settings, sizes: Sizes, tag: str
) -> tuple[list[bytes], int]:
    """Requests with expired tokens: half long expired, half played once while valid (so
    the gateway's cache holds them) and replayed once past their expiry and its leeway.
    Also the plays the valid ones made."""
    half = sizes.expired_tokens // 2
    old = [play_request(port, body, f"Bearer {_expired(settings, f'old-{tag}-{i}')}")
           for i in range(half)]  # fmt: skip
    ttl = 2
    fresh = [play_request(port, body, _bearer(settings, f"cached-{tag}-{i}", ttl))
             for i in range(half)]  # fmt: skip
    issued = time.time()
    [warm] = run([Stream(port, fresh, 0, 1.0, 8, ATTACKER)], lead=0.0)
    wait = issued + ttl + LEEWAY_SECONDS + 1 - time.time()
    time.sleep(max(0.0, wait))
    return old + fresh, warm.statuses[202]


def _bearer(settings: Settings, user: str, ttl: int) -> str:
    return f"Bearer {mint_player_token(settings, user, ttl_seconds=ttl)}"


def _expired(settings: Settings, user: str) -> str:
    assert settings.jwt_secret is not None
    now = int(time.time())
    claims = {"sub": user, "iat": now - 3600, "exp": now - 600, "scope": "player"}
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256")


def _players(report: StreamReport) -> dict[str, Any]:
    summary = report.summary()
    return {
        "legit_p50_ms": summary["p50_ms"], "legit_p99_ms": summary["p99_ms"],
        "legit_sent": summary["sent"], "legit_accepted": report.statuses[202],
        "legit_statuses": summary["statuses"],
    }  # fmt: skip


def _abuse(name: str, report: StreamReport, settings: Settings) -> dict[str, Any]:
    """What the attacker saw, and whether the limit held."""
    accepted = report.statuses[202]
    if name in ("no_token", "expired"):
        allowed, refusal = 0, 401
    elif name == "one_user_100x":
        allowed = settings.rate_user_burst + int(settings.rate_user_per_second * report.seconds)
        refusal = 429
    else:
        allowed = settings.rate_ip_burst + int(settings.rate_ip_per_second * report.seconds)
        refusal = 429
    refused_right = report.statuses[refusal] + accepted == report.sent
    held = accepted <= allowed and refused_right and report.no_retry_after == 0
    summary = report.summary()
    return {
        "abuse_sent": summary["sent"], "abuse_rps": summary["rps"],
        "abuse_statuses": summary["statuses"], "abuse_accepted": accepted,
        "abuse_allowed_at_most": allowed, "abuse_429_without_retry_after": report.no_retry_after,
        "abuse_failed_connections": report.failed_connections, "limit_held": held,
    }  # fmt: skip
