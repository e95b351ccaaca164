"""Simulated players for the demo: a crowd of bots playing the demo game at a steady rate,
so the dashboard moves while a human plays beside them.

Plays arrive as a Poisson process (random gaps, a steady mean), from a few hundred bots so
that no bot nears its own rate limit. A play the server refuses (game over, rate limited)
is counted and dropped: bots never retry.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from frolic.auth.tokens import mint_player_token
from frolic.config import Settings

log = logging.getLogger(__name__)

BOTS = 300
BOT_TOKEN_SECONDS = 7 * 86_400
IN_FLIGHT = 32  # plays awaiting an answer; beyond it, a slow server makes bots skip


class Players:
    def __init__(self, settings: Settings, base_url: str, *, per_second: float) -> None:
        self.base_url = base_url
        self.per_second = per_second
        self.tokens = [
            mint_player_token(settings, f"bot-{i:03d}", ttl_seconds=BOT_TOKEN_SECONDS)
            for i in range(BOTS)
        ]
        self.answers: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._in_flight = 0
        self._random = random.Random()

    def play_until(self, game_id: int, until: float, stop: threading.Event) -> None:
        """Play ``game_id`` until epoch ``until`` or ``stop``, whichever comes first."""
        if self.per_second <= 0:
            stop.wait(max(0.0, until - time.time()))
            return
        with ThreadPoolExecutor(max_workers=8, thread_name_prefix="demo-bot") as pool:
            due = time.monotonic()
            while not stop.is_set() and time.time() < until:
                due += self._random.expovariate(self.per_second)
                if stop.wait(max(0.0, due - time.monotonic())):
                    break
                with self._lock:
                    if self._in_flight >= IN_FLIGHT:
                        continue
                    self._in_flight += 1
                pool.submit(self._play, game_id, self._random.choice(self.tokens))

    def _play(self, game_id: int, token: str) -> None:
        request = urllib.request.Request(
            self.base_url + "/play",
            json.dumps({"gameId": game_id, "device": {"client": "demo-bot"}}).encode(),
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                status = answer.status
        except urllib.error.HTTPError as e:
            status = e.code
        except OSError:
            status = 0  # the server is restarting or gone: nothing to do but carry on
        finally:
            with self._lock:
                self._in_flight -= 1
        with self._lock:
            self.answers[status] += 1
