"""``frolic demo``: ``frolic serve`` with the demo on, and beside it a thread that waits for
the server, seeds the demo game through the admin API, prints where to look, and drives
the bots until Ctrl-C (or SIGTERM).

The server runs on the main thread, on ``serve``'s own code path, so the demo stops the way
``frolic serve`` does: the roles drain, then the embedded servers stop. The bots' thread is
told to stop after that; by then its plays only meet a closed port.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from frolic.config import ALL_ROLES, Role, Settings
from frolic.demo.campaign import Admin, AdminError, DemoGame, find_or_seed, seed
from frolic.demo.players import Players
from frolic.stack.process import free_port

log = logging.getLogger(__name__)

WILDCARDS = {"", "0.0.0.0", "::"}


@dataclass(frozen=True)
class DemoPlan:
    players_per_second: float
    minutes: float
    budget: int


def run(
    settings: Settings, plan: DemoPlan, serve: Callable[[Settings, Sequence[Role]], None],
    echo: Callable[[str], None] = print,
) -> None:  # fmt: skip
    """``serve`` (``frolic.serve.serve``, given by the CLI: the demo sits below the app that
    mounts its page) runs on this thread until it is stopped; the players drive it from
    another."""
    settings = settings.model_copy(update={"demo": True})
    if settings.port == 0:  # the URLs must be printed, so the port must be known
        settings = settings.model_copy(update={"port": free_port()})
    stop = threading.Event()
    crowd = threading.Thread(
        target=_drive, args=(settings, plan, stop, echo), name="demo", daemon=True
    )
    crowd.start()
    try:
        serve(settings, ALL_ROLES)
    finally:
        stop.set()
        crowd.join(15)


def base_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in WILDCARDS else settings.host
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.port}"


def _drive(
    settings: Settings, plan: DemoPlan, stop: threading.Event, echo: Callable[[str], None]
) -> None:
    base = base_url(settings)
    if not _ready(base, stop):
        return
    assert settings.admin_token is not None, "call Settings.with_local_secrets() first"
    admin = Admin(base, settings.admin_token.get_secret_value())
    try:
        game, new = find_or_seed(admin, minutes=plan.minutes, budget=plan.budget)
    except (AdminError, OSError) as e:
        log.error("could not set up the demo game: %s", e)
        return
    echo(_banner(base, admin.token, game, new, plan))
    players = Players(settings, base, per_second=plan.players_per_second)
    while not stop.is_set():
        players.play_until(game.id, game.end, stop)
        if stop.is_set():
            break
        try:
            game = seed(admin, minutes=plan.minutes, budget=plan.budget)
        except (AdminError, OSError) as e:
            log.error("could not seed the next demo game: %s", e)
            stop.wait(30)
            continue
        echo(f"the demo game ended; game {game.id} took its place")


def _ready(base: str, stop: threading.Event) -> bool:
    """Wait for ``/readyz``; False if told to stop first."""
    while not stop.is_set():
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        stop.wait(0.3)
    return False


def _banner(base: str, token: str, game: DemoGame, new: bool, plan: DemoPlan) -> str:
    minutes_left = max(0, round((game.end - time.time()) / 60))
    how = "seeded" if new else "picked up again"
    return "\n".join([
        "",
        f"Frolic demo: game {game.id} {how}, {minutes_left} min to go; "
        f"bots play {plan.players_per_second:g} times a second.",
        f"  dashboard  {base}/dashboard#token={token}",
        f"  play       {base}/demo",
        "Ctrl-C stops everything.",
        "",
    ])  # fmt: skip
