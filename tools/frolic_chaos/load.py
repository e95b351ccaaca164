"""The load of a chaos run: players pressing play at a steady rate, as real clients do.

Each play is one ``(player, Idempotency-Key)``. A request that fails (a 5xx, a 429, no
answer) is sent again with the same key after a short back-off, as a mobile client retries;
a share of the answered ones is sent again too, a little later (a client that timed out
while the answer was on its way). Every request and answer goes into ``LoadProgress.sent``
for the history checker.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Coroutine, Sequence
from typing import Any

import httpx

from frolic.auth.tokens import mint_player_token
from frolic.config import Settings
from frolic_chaos.fault import LoadProgress

ATTEMPTS = 8  # per play, before the client gives up (about 15 s of back-off in all)
BACKOFF = 0.25  # doubled each attempt, up to 4 s


class Load:
    def __init__(
        self, settings: Settings, api_url: str, games: Sequence[int], progress: LoadProgress,
        *, players: int, retry_share: float, seed: int = 7,
    ) -> None:  # fmt: skip
        self.api_url = api_url
        self.games = list(games)
        self.progress = progress
        self.retry_share = retry_share
        self.random = random.Random(seed)
        # The run's own players: an Idempotency-Key is the player's, and a player of an
        # earlier run on the same Redis sending the same key would get that run's play back.
        tag = uuid.uuid4().hex[:12]
        self.tokens = {
            f"chaos-{tag}-{i}": mint_player_token(settings, f"chaos-{tag}-{i}")
            for i in range(players)
        }
        self.users = list(self.tokens)
        self._pending: set[asyncio.Task[None]] = set()
        self.game_of: dict[str, int] = {}

    async def run(self, fault_done: asyncio.Event) -> None:
        """Send plays at ``progress.rate`` for ``progress.seconds``, then wait for every
        request still under way (retries included) and for the fault to be done: until
        then it may still ask for bursts and replays."""
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(base_url=self.api_url, timeout=10, limits=limits) as client:
            p = self.progress
            p.started = time.monotonic()
            extra = iter(range(1_000_000_000))

            def burst(count: int) -> None:
                for _ in range(count):
                    self._spawn(self._play(client, next(extra), "b"))

            def again(count: int) -> int:
                answered = list(p.sent.answers)
                chosen = self.random.sample(answered, min(count, len(answered)))
                for user, key in chosen:
                    self._spawn(self._resend(client, user, key))
                return len(chosen)

            p.burst, p.again = burst, again
            n = 0
            while (due := p.started + n / p.rate) < p.started + p.seconds:
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                self._spawn(self._play(client, n, "k"))
                n += 1
            await fault_done.wait()
            p.burst = lambda count: None
            p.again = lambda count: 0
            while self._pending:
                await asyncio.gather(*list(self._pending), return_exceptions=True)
        p.done.set()

    def _spawn(self, play: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(play)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _play(self, client: httpx.AsyncClient, n: int, prefix: str) -> None:
        """The ``n``-th play (of the steady load, or of bursts), with its retries."""
        user, game = self.users[n % len(self.users)], self.games[n % len(self.games)]
        key = f"{prefix}{n}"
        self.game_of[key] = game
        sent = self.progress.sent
        sent.plays += 1
        play_id = await self._send(client, user, game, key)
        if play_id is not None and self.random.random() < self.retry_share:
            await asyncio.sleep(self.random.uniform(0.2, 2.0))
            await self._send(client, user, game, key)

    async def _resend(self, client: httpx.AsyncClient, user: str, key: str) -> None:
        await self._send(client, user, self.game_of[key], key)

    async def _send(self, client: httpx.AsyncClient, user: str, game: int, key: str) -> str | None:
        """POST /play until answered (or ``ATTEMPTS`` tries); the playId, if accepted."""
        sent = self.progress.sent
        headers = {"Authorization": f"Bearer {self.tokens[user]}", "Idempotency-Key": key}
        for attempt in range(ATTEMPTS):
            sent.requests += 1
            try:
                response = await client.post("/play", json={"gameId": game}, headers=headers)
            except httpx.TransportError:
                status = 0  # no answer: the api process may be restarting
            else:
                status = response.status_code
                if status == 202:
                    play_id: str = response.json()["playId"]
                    sent.answered(user, key, play_id)
                    return play_id
                if status < 500 and status != 429:
                    sent.refused[status] += 1
                    return None
            if attempt == ATTEMPTS - 1:
                sent.refused[status] += 1
                return None
            await asyncio.sleep(min(4.0, BACKOFF * 2**attempt))
        return None
