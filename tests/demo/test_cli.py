"""``frolic demo`` as a process on the session's servers: it seeds the demo game through the
admin API, prints where to look, its bots play, SIGTERM stops it cleanly, and a second run
picks the same game up again."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from frolic.config import Settings
from frolic.demo.campaign import BRANDS, CODES_PER_COUPON, DEMO_GAME
from frolic.stack.process import free_port
from frolic_bench.cluster import environment
from tests.support.factories import with_own_topics

BANNER = re.compile(r"game (\d+) (seeded|picked up again).*\n\s+dashboard\s+(\S+)\n\s+play\s+(\S+)")


@contextmanager
def demo(settings: Settings, state: Path, port: int) -> Iterator[re.Match[str]]:
    """Run ``frolic demo`` until its banner is out; SIGTERM it at the end, which must be a
    clean exit."""
    out = state / f"demo-{time.monotonic_ns()}.log"
    argv = [sys.executable, "-m", "frolic.cli", "demo", "--port", str(port),
            "--players-per-second", "20", "--minutes", "20", "--budget", "60"]  # fmt: skip
    with open(out, "wb") as log:
        process = subprocess.Popen(
            argv, env=environment(settings, state), stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 90
        while (found := BANNER.search(out.read_text())) is None:
            assert process.poll() is None, out.read_text()[-3000:]
            assert time.monotonic() < deadline, out.read_text()[-3000:]
            time.sleep(0.2)
        yield found
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert code == 0, out.read_text()[-3000:]


def get(url: str, token: str | None = None, *, method: str = "GET", body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    request = urllib.request.Request(url, data, headers, method=method)
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def a_guest_plays(base: str, game_id: int) -> None:
    """What the /demo page does: a guest session, a play, and its outcome once revealed.

    This also makes sure the demo's workers have joined their consumer groups before the
    test stops the process (a stop in the middle of a join stalled the next test's group).
    """
    session = get(f"{base}/demo/session", method="POST")
    assert session["gameId"] == game_id
    play = get(f"{base}/play", session["token"], method="POST", body={"gameId": game_id})
    deadline = time.monotonic() + 60
    while (view := get(f"{base}/plays/{play['playId']}", session["token"]))["status"] != "REVEALED":
        assert time.monotonic() < deadline, view
        time.sleep(0.3)
    assert view["outcome"] in ("WIN", "LOSE")
    assert (view["couponCode"] is not None) == (view["outcome"] == "WIN")


def test_demo_seeds_plays_stops_and_picks_up_again(settings: Settings, tmp_path: Path) -> None:
    s = with_own_topics(settings, "demo", reveal_seconds=1.0)
    assert s.admin_token is not None
    token = s.admin_token.get_secret_value()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with demo(s, tmp_path, port) as banner:
        game_id, how, dashboard, page = int(banner[1]), banner[2], banner[3], banner[4]
        assert how == "seeded"
        assert dashboard == f"{base}/dashboard#token={token}"
        assert page == f"{base}/demo"

        board = get(f"{base}/admin/dashboard", token)
        game = next(g for g in board["games"] if g["id"] == game_id)
        assert (game["name"], game["phase"], game["strategy"]) == (DEMO_GAME, "running", "paced")
        assert game["budget"] == 60
        assert [b["name"] for b in game["brands"]] == [name for name, _ in BRANDS]
        for brand in game["brands"]:
            assert brand["codesAvailable"] >= CODES_PER_COUPON * brand["total"] - brand["total"]
        # The bots play: wait for their plays to show on the dashboard.
        deadline = time.monotonic() + 60
        while sum(m["plays"] for m in game["minutes"]) < 20:
            assert time.monotonic() < deadline, game["minutes"]
            time.sleep(0.5)
            board = get(f"{base}/admin/dashboard", token)
            game = next(g for g in board["games"] if g["id"] == game_id)
        a_guest_plays(base, game_id)

    with demo(s, tmp_path, port) as banner:
        assert (int(banner[1]), banner[2]) == (game_id, "picked up again")
        a_guest_plays(base, game_id)
