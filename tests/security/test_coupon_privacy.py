"""A won coupon code reaches its winner and nobody else (invariant 5): one test per path that
can carry a code, each checking that another player and an unauthenticated client never see
it. One process runs every role (and the demo) on uvicorn; the game wins every play (fixed
odds of 1), so the first play holds a code."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect

from frolic.app import create_app
from frolic.auth.tokens import mint_player_token
from frolic.config import Settings
from tests.support.factories import LiveGame, create_live_game, wait_decided, with_own_topics
from tests.support.serving import serving

REVEAL_SECONDS = 1.5


@dataclass(frozen=True)
class Won:
    settings: Settings
    base: str
    game: LiveGame
    play_id: str
    reveal_at: float
    code: str
    winner: str
    frames: dict[str, list[tuple[float, dict[str, object]]]]  # socket's player -> frames

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_player_token(self.settings, user)}"}

    def ws(self, user: str) -> connect:
        return connect(self.base.replace("http://", "ws://") + "/ws",
                       additional_headers=self.auth(user))  # fmt: skip


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[tuple[Settings, str]]:
    mine = with_own_topics(settings, "privacy", reveal_seconds=REVEAL_SECONDS, demo=True)
    with serving(create_app(mine), name="privacy") as address:
        yield mine, f"http://{address}"


async def _listen(socket: ClientConnection, into: list[tuple[float, dict[str, object]]]) -> None:
    async for frame in socket:
        into.append((time.time(), orjson.loads(frame)))


def _results(
    frames: list[tuple[float, dict[str, object]]],
) -> list[tuple[float, dict[str, object]]]:
    """Result frames only: a late play's "pending" frame may come first."""
    return [(at, f) for at, f in frames if f["type"] == "result"]


@pytest.fixture(scope="module")
async def won(server: tuple[Settings, str]) -> Won:
    """A winning play, watched over /ws by its winner and by a stranger from the start."""
    settings, base = server
    game = await create_live_game(settings, budgets=(3,), strategy="fixed_odds", odds=1)
    tag = uuid.uuid4().hex[:6]
    winner, stranger = f"winner-{tag}", f"stranger-{tag}"
    frames: dict[str, list[tuple[float, dict[str, object]]]] = {winner: [], stranger: []}
    probe = Won(settings, base, game, "", 0.0, "", winner, frames)
    async with probe.ws(winner) as mine, probe.ws(stranger) as theirs:
        tasks = [asyncio.create_task(_listen(mine, frames[winner])),
                 asyncio.create_task(_listen(theirs, frames[stranger]))]  # fmt: skip
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            answer = await http.post("/play", json={"gameId": game.game_id},
                                     headers=probe.auth(winner))  # fmt: skip
        assert answer.status_code == 202, answer.text
        play_id, reveal_at = answer.json()["playId"], answer.json()["revealAt"]
        await wait_decided(settings, [play_id])
        deadline = time.monotonic() + REVEAL_SECONDS + 15
        while not _results(frames[winner]) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # room for a frame that should not come to the stranger
        await mine.close()
        await theirs.close()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert _results(frames[winner]), "the winner's reveal did not come"
    code = str(_results(frames[winner])[0][1]["couponCode"])
    assert code in game.codes
    return Won(settings, base, game, play_id, reveal_at, code, winner, frames)


@pytest.fixture
async def http(won: Won) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=won.base, timeout=30) as client:
        yield client


def _stranger(won: Won) -> dict[str, str]:
    return won.auth(f"stranger-{uuid.uuid4().hex[:6]}")


async def test_get_play_shows_the_code_to_its_owner_only(won: Won, http: httpx.AsyncClient) -> None:
    path = f"/plays/{won.play_id}"
    mine = await http.get(path, headers=won.auth(won.winner))
    assert mine.status_code == 200
    assert mine.json()["couponCode"] == won.code
    theirs = await http.get(path, headers=_stranger(won))
    assert theirs.status_code == 404  # as unknown as a play that never was
    assert theirs.json().keys() == {"error", "detail"}
    nobody = await http.get(path)
    assert nobody.status_code == 401
    for answer in (theirs, nobody):
        assert won.code not in answer.text


async def test_get_play_discloses_nothing_before_reveal_at(
    won: Won, http: httpx.AsyncClient
) -> None:
    owner = f"early-{uuid.uuid4().hex[:6]}"
    played = await http.post("/play", json={"gameId": won.game.game_id},
                             headers=won.auth(owner))  # fmt: skip
    assert played.status_code == 202
    play_id = played.json()["playId"]
    await wait_decided(won.settings, [play_id])  # decided, its code issued and locked
    view = await http.get(f"/plays/{play_id}", headers=won.auth(owner))
    assert time.time() < played.json()["revealAt"], "too slow to check before the reveal"
    assert view.json()["status"] == "QUEUED"
    assert view.json()["outcome"] is None
    assert view.json()["couponCode"] is None
    assert view.json()["brand"] is None


def test_the_ws_reveal_goes_to_the_winners_socket_only(won: Won) -> None:
    [(arrived, frame)] = _results(won.frames[won.winner])
    assert frame["playId"] == won.play_id
    assert arrived >= won.reveal_at - 0.05  # not before its revealAt
    assert won.frames[next(u for u in won.frames if u != won.winner)] == []


async def test_ws_history_on_connect_holds_own_plays_only(won: Won) -> None:
    async def first_frames(user: str) -> list[dict[str, object]]:
        got: list[dict[str, object]] = []
        async with won.ws(user) as socket:
            try:
                while True:
                    got.append(orjson.loads(await asyncio.wait_for(socket.recv(), 1.5)))
            except TimeoutError:
                return got

    mine = await first_frames(won.winner)
    assert [
        f["couponCode"] for f in mine if f["playId"] == won.play_id and f["type"] == "result"
    ] == [won.code]
    assert await first_frames(f"stranger-{uuid.uuid4().hex[:6]}") == []
    # An unauthenticated socket is closed at once, with a reason and no history.
    async with connect(won.base.replace("http://", "ws://") + "/ws") as socket:
        await socket.wait_closed()
        assert socket.close_code == 4401


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/coupons/validate?code={code}"),
        ("POST", "/admin/coupons/redeem"),
        ("GET", "/admin/games/{game}/coupons.csv"),
        ("GET", "/admin/brands/{brand}/coupons.csv"),
        ("GET", "/admin/dashboard"),
        ("GET", "/admin/users?limit=500"),
    ],
)
async def test_admin_paths_need_the_admin_token(
    won: Won, http: httpx.AsyncClient, method: str, path: str
) -> None:
    url = path.format(code=won.code, game=won.game.game_id, brand=next(iter(won.game.brands)))
    body = {"code": won.code} if method == "POST" else None
    for headers, status in ((won.auth(won.winner), 403), (_stranger(won), 403), ({}, 401),
                            ({"Authorization": "Bearer not-the-admin-token"}, 401)):  # fmt: skip
        answer = await http.request(method, url, json=body, headers=headers)
        assert answer.status_code == status, (headers, answer.text)
        assert answer.json().keys() == {"error", "detail"}
        assert won.code not in answer.text
    # The admin does see it, and the player's refused redeem above did not use it.
    assert won.settings.admin_token is not None
    admin = {"Authorization": f"Bearer {won.settings.admin_token.get_secret_value()}"}
    if "validate" in path or "coupons.csv" in path:
        answer = await http.request(method, url, headers=admin)
        assert answer.status_code == 200
        assert won.code in answer.text
        if "validate" in path:
            assert answer.json()["isUsed"] is False


async def test_public_pages_demo_and_metrics_hold_no_code(
    won: Won, http: httpx.AsyncClient
) -> None:
    session = await http.post("/demo/session", json={"gameId": won.game.game_id})
    assert session.status_code == 200
    answers = [session] + [await http.get(p) for p in
                           ("/metrics", "/dashboard", "/demo", "/healthz", "/readyz",
                            "/openapi.json")]  # fmt: skip
    for answer in answers:
        assert answer.status_code == 200, answer.request.url
        assert won.code not in answer.text, answer.request.url
