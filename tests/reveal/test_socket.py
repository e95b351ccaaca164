"""``/ws`` end to end: a real server, the real broker, the ``websockets`` client."""

from __future__ import annotations

import asyncio
import time

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.reveal.conftest import Server, final_for, player, received

PONG = {"type": "pong"}


async def ping(ws: ClientConnection) -> None:
    """A round trip: the socket is held by the hub, its history sent, nothing else queued."""
    await ws.send("ping")
    assert await received(ws) == PONG


async def closed_with(ws: ClientConnection) -> tuple[int | None, str | None]:
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(3):
            await ws.recv()
    return ws.close_code, ws.close_reason


async def test_a_result_reaches_each_socket_of_its_player_once_at_reveal_at(
    server: Server,
) -> None:
    ann, bob = player(), player()
    async with (
        server.connect(ann) as first,
        server.connect(ann, header=False) as second,
        server.connect(bob) as other,
    ):
        for ws in (first, second, other):
            await ping(ws)
        final = final_for(ann, time.time() + 1.0)
        server.publish(final)
        for ws in (first, second):
            message = await received(ws)
            lateness = time.time() - final.reveal_at
            assert message == final.reveal()
            assert 0 <= lateness < 0.05, f"revealed {lateness * 1000:.1f} ms late"
        server.publish(final)  # redelivered: no socket gets it twice
        await asyncio.sleep(0.5)
        for ws in (first, second, other):
            await ping(ws)  # the next message is the pong: nothing else came


async def test_undecodable_messages_are_skipped_and_late_finals_go_out_at_once(
    server: Server,
) -> None:
    ann = player()
    async with server.connect(ann) as ws:
        await ping(ws)
        late = final_for(ann, time.time() - 5, outcome="LOSE", brand=None, coupon_code=None)
        server.publish(b"not a final", b'{"play_id": 1}', late)
        assert await received(ws) == late.reveal()


@pytest.mark.parametrize(
    ("auth", "reason"),
    [
        ({}, "missing token"),
        ({"token": "not-a-jwt"}, "not valid"),
        ({"header": "Bearer not-a-jwt"}, "not valid"),
        ({"header": "Basic abc"}, "Bearer"),
        ({"expired": True}, "expired"),
    ],
)
async def test_a_bad_token_is_closed_with_4401(
    server: Server, auth: dict[str, object], reason: str
) -> None:
    url, headers = server.url, {}
    if "token" in auth:
        url = f"{url}?token={auth['token']}"
    if "header" in auth:
        headers["Authorization"] = str(auth["header"])
    if auth.get("expired"):
        headers["Authorization"] = f"Bearer {server.token(player(), ttl_seconds=-60)}"
    async with connect(url, additional_headers=headers) as ws:
        code, why = await closed_with(ws)
    assert code == 4401
    assert reason in (why or "")


async def test_pings_are_answered_and_other_frames_ignored(server: Server) -> None:
    async with server.connect(player()) as ws:
        await ws.send('{"type": "ping"}')
        assert await received(ws) == PONG
        for junk in ("hello", "{not json", "[1, 2]", '{"type": 5}', "null", "", b"\x00\xff"):
            await ws.send(junk)
        await ws.send("é" * 2000)  # 4000 bytes: within the limit
        await ping(ws)


@pytest.mark.parametrize("frame", ["x" * 4097, "é" * 2049, b"\x00" * 5000])
async def test_a_frame_over_4_kib_closes_the_socket_with_1009(
    server: Server, frame: str | bytes
) -> None:
    async with server.connect(player()) as ws:
        await ping(ws)
        await ws.send(frame)
        code, _ = await closed_with(ws)
    assert code == 1009


async def test_lateness_over_200_reveals(server: Server) -> None:
    """Client-side lateness (network included) and the hub's own record, over 200 reveals
    to 4 players, 5 ms apart."""
    users = [player() for _ in range(4)]
    async with (
        server.connect(users[0]) as a,
        server.connect(users[1]) as b,
        server.connect(users[2]) as c,
        server.connect(users[3]) as d,
    ):
        sockets = [a, b, c, d]
        for ws in sockets:
            await ping(ws)
        start = time.time() + 1.0
        finals = [final_for(users[i % 4], start + i * 0.005) for i in range(200)]
        due = {f.play_id: f.reveal_at for f in finals}
        server.publish(*finals)
        late: list[float] = []

        async def read(ws: ClientConnection) -> None:
            for _ in range(50):
                message = await received(ws, timeout=5)
                late.append((time.time() - due[str(message["playId"])]) * 1000)

        await asyncio.gather(*(read(ws) for ws in sockets))
    late.sort()
    p50, p99 = late[len(late) // 2], late[int(len(late) * 0.99) - 1]
    hub = server.reveal.hub.lateness
    print(
        f"\nclient lateness p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {late[-1]:.2f} ms; "
        f"hub p50 {hub.percentile(50):.2f} ms, p99 {hub.percentile(99):.2f} ms"
    )
    assert late[0] >= 0, "a result was revealed early"
    # The target is 20 ms at p99 (DESIGN.md §2); a shared test machine gets some slack.
    assert p50 < 5
    assert p99 < 50
