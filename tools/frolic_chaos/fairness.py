"""Each chaos game, once drained, ended and checked as an outsider checks it: its fairness
document and decision log fetched over HTTP and run through ``frolic verify``'s checks. A
fault (a killed allocator, a lost Redis, a restarted broker) may delay the log; it must
never leave a game whose log does not verify."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from frolic.config import Settings
from frolic.fairness.chain import Head
from frolic.fairness.terms import Terms
from frolic.fairness.verify import verify

COMPLETE_TIMEOUT = 60.0  # for the chainer to catch up once every play is decided


async def verify_games(
    settings: Settings, api: str, games: list[int], say: Callable[[str], None]
) -> dict[str, Any]:
    """End each game, wait for its log to be complete, verify it. Per game: the entries,
    the checks that failed (with their first problems) and the report's statistics."""
    assert settings.admin_token is not None
    admin = {"Authorization": f"Bearer {settings.admin_token.get_secret_value()}"}
    found: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=api, timeout=60) as client:
        for game in games:
            ended = await client.post(f"/admin/games/{game}/end", headers=admin)
            ended.raise_for_status()
            document = await _complete(client, game)
            lines = (await client.get(f"/games/{game}/audit.jsonl")).text.splitlines()
            log = [json.loads(line) for line in lines if line]
            published = document.get("chain") or {"head": "", "length": 0}
            report = verify(
                Terms.parse(document["terms"]), document["commitment"],
                bytes.fromhex(document["seed"]), log,
                terms_digest=document["termsDigest"],
                head=Head(published["head"], published["length"]),
            )  # fmt: skip
            found[str(game)] = {
                "entries": len(log), "complete": bool(published.get("complete")),
                "failed": {c.name: c.problems for c in report.checks if not c.ok},
                "dropped": report.stats.get("decisions dropped at Redis losses (seq gaps)", 0),
            }  # fmt: skip
            verdict = (
                "verified"
                if report.ok
                else "NOT verified: " + ", ".join(found[str(game)]["failed"])
            )
            say(f"game {game}: {len(log):,} log entries, {verdict}")
    return found


async def _complete(client: httpx.AsyncClient, game: int) -> dict[str, Any]:
    """The game's fairness document once its log is complete (or as it is at the timeout:
    ``verify`` then says what is missing)."""
    deadline = time.monotonic() + COMPLETE_TIMEOUT
    while True:
        document: dict[str, Any] = (await client.get(f"/games/{game}/fairness")).json()
        if (document.get("chain") or {}).get("complete") or time.monotonic() > deadline:
            return document
        await asyncio.sleep(0.5)
