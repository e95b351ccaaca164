"""``/ws`` under bad input, on a served app with the ws role: frames of every wrong kind,
frames too big, bursts, bad tokens and clients that vanish mid-way. The server stays up,
a bystander's socket keeps getting its reveals, and nothing is logged at ERROR."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import random
import time
from collections.abc import AsyncIterator, Iterator

import orjson
import pytest
from confluent_kafka import Producer
from pydantic import SecretStr
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from frolic import topics
from frolic.app import create_app
from frolic.auth.tokens import mint_player_token
from frolic.config import Settings
from frolic.reveal.endpoints import MAX_FRAME_BYTES
from tests.reveal.conftest import Server, final_for, player, received
from tests.support.factories import with_own_topics
from tests.support.serving import serving

PONG = {"type": "pong"}
WRONG_SHAPES = [
    "", " ", "null", "true", "0", "-1e999", '"ping"', "[]", '["ping"]', "{}",
    '{"type": null}', '{"type": 1}', '{"type": ["ping"]}', '{"type": "PING"}',
    '{"type": "result", "playId": "x", "couponCode": "steal"}', '{"type": "ping"',
    '{"type": "ping", "type": "pong"}', "[" * 1000 + "]" * 1000, '{"a":' * 500 + "1" + "}" * 500,
    "\x00", "ping\x00", "\ud7ff\ue000\U0010ffff",
]  # fmt: skip


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[Server]:
    mine = with_own_topics(settings, "wsfuzz")
    app = create_app(mine, roles=("ws",))
    producer = Producer(topics.client_config(mine, **{"linger.ms": 0}))
    try:
        with serving(app, name="fuzz-ws", timeout=30) as address:
            yield Server(mine, app, f"ws://{address}/ws", producer)
    finally:
        producer.flush(5)


@pytest.fixture
async def bystander(server: Server) -> AsyncIterator[tuple[str, ClientConnection]]:
    """A well-behaved player's socket, open while a test misbehaves; it must still get its
    reveal afterwards, and nothing may have been logged at ERROR."""
    user = player()
    async with server.connect(user) as ws:
        await ping(ws)
        yield user, ws
        final = final_for(user, time.time() + 0.2)
        server.publish(final)
        assert await received(ws, timeout=5) == final.reveal()


@pytest.fixture(autouse=True)
def no_error_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.WARNING)
    yield
    records = [*caplog.get_records("setup"), *caplog.get_records("call"), *caplog.records]
    bad = [r for r in records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [r.getMessage() for r in bad]


async def ping(ws: ClientConnection) -> None:
    await ws.send("ping")
    assert await received(ws) == PONG


async def close_code(ws: ClientConnection, timeout: float = 5) -> int | None:
    """The code the server closed the socket with."""
    async with asyncio.timeout(timeout):
        await ws.wait_closed()
    return ws.close_code


def junk_frames(seed: int, count: int) -> list[str | bytes]:
    """Binary frames, random text and JSON of the wrong shape, all within the size limit."""
    rnd = random.Random(seed)
    frames: list[str | bytes] = list(WRONG_SHAPES)
    for _ in range(count):
        size = rnd.choice([0, 1, 2, 17, 512, MAX_FRAME_BYTES])
        kind = rnd.randrange(3)
        if kind == 0:
            frames.append(rnd.randbytes(size))
        elif kind == 1:
            chars = [chr(rnd.choice([rnd.randrange(32, 127), rnd.randrange(0xA0, 0xD800)]))
                     for _ in range(size // 4)]  # fmt: skip
            frames.append("".join(chars))
        else:
            value = rnd.choice([{"type": rnd.random()}, [rnd.random()] * 20, {"ping": True}])
            frames.append(orjson.dumps(value).decode())
    return frames


async def test_junk_frames_are_ignored_and_the_socket_keeps_its_reveals(
    server: Server, bystander: tuple[str, ClientConnection]
) -> None:
    user = player()
    async with server.connect(user) as ws:
        for frame in junk_frames(seed=7, count=300):
            await ws.send(frame)
        await ping(ws)
        final = final_for(user, time.time() + 0.2)
        server.publish(final)
        assert await received(ws) == final.reveal()


async def test_a_burst_of_frames_leaves_the_socket_answering(
    server: Server, bystander: tuple[str, ClientConnection]
) -> None:
    async with server.connect(player()) as ws:
        for frame in junk_frames(seed=11, count=3000):
            await ws.send(frame)
        await ping(ws)
        # Pings faster than they are read: answered, or closed as too far behind (1013);
        # either way the server goes on.
        for _ in range(2000):
            await ws.send("ping")
        pongs = 0
        try:
            async with asyncio.timeout(10):
                while pongs < 2000:
                    assert orjson.loads(await ws.recv()) == PONG
                    pongs += 1
        except ConnectionClosed:
            assert ws.close_code == 1013
    async with server.connect(player()) as again:
        await ping(again)


@pytest.mark.parametrize(
    "frame",
    [
        "x" * (MAX_FRAME_BYTES + 1),
        b"\x00" * (MAX_FRAME_BYTES + 1),
        "\U0001f600" * (MAX_FRAME_BYTES // 4 + 1),
        b"\x01" * (17 * 2**20),  # over uvicorn's own limit (16 MiB): refused before the app
    ],
    ids=["text", "binary", "emoji", "17MiB"],
)
async def test_a_frame_over_the_limit_closes_1009(
    server: Server, bystander: tuple[str, ClientConnection], frame: str | bytes
) -> None:
    async with server.connect(player()) as ws:
        await ping(ws)
        await ws.send(frame)
        assert await close_code(ws) == 1009


async def test_a_text_frame_that_is_not_utf8_closes_1007(
    server: Server, bystander: tuple[str, ClientConnection], caplog: pytest.LogCaptureFixture
) -> None:
    async with server.connect(player()) as ws:
        await ping(ws)
        await ws.send(b"\xff\xfe ping", text=True)
        assert await close_code(ws) == 1007
    # uvicorn logs it; the client's fault, a warning (an ERROR is caught by no_error_logged).
    assert any("UTF-8" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")


def _foreign_token(server: Server) -> str:
    other = server.settings.model_copy(update={"jwt_secret": SecretStr("another-secret-" * 4)})
    return mint_player_token(other, player())


def _unsigned_token() -> str:
    def part(value: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(value)).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part({'sub': 'mallory'})}."


@pytest.mark.parametrize(
    "credentials",
    [
        {},
        {"query": ""},
        {"query": "garbage"},
        {"header": "Bearer"},
        {"header": "Bearer "},
        {"header": "Token abc"},
        {"header": "Bearer a.b.c"},
        {"expired": True},
        {"foreign": True},
        {"unsigned": True},
        {"admin": True},
        {"query": "x" * 6000},
    ],
    ids=lambda c: next(iter(c), "none") + ("-" + str(c[next(iter(c))])[:12] if c else ""),
)
async def test_a_bad_token_is_refused_cleanly(
    server: Server, bystander: tuple[str, ClientConnection], credentials: dict[str, object]
) -> None:
    url, headers = server.url, {}
    if "query" in credentials:
        url = f"{url}?token={credentials['query']}"
    if "header" in credentials:
        headers["Authorization"] = str(credentials["header"])
    if credentials.get("expired"):
        headers["Authorization"] = f"Bearer {server.token(player(), ttl_seconds=-60)}"
    if credentials.get("foreign"):
        headers["Authorization"] = f"Bearer {_foreign_token(server)}"
    if credentials.get("unsigned"):
        headers["Authorization"] = f"Bearer {_unsigned_token()}"
    if credentials.get("admin"):
        assert server.settings.admin_token is not None
        headers["Authorization"] = f"Bearer {server.settings.admin_token.get_secret_value()}"
    async with connect(url, additional_headers=headers) as ws:
        assert await close_code(ws) == 4401
        assert ws.close_reason


def _handshake(token: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET /ws?token={token} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


async def test_clients_that_vanish_are_let_go(
    server: Server, bystander: tuple[str, ClientConnection]
) -> None:
    host, port = server.url.removeprefix("ws://").removesuffix("/ws").split(":")
    user = player()
    # Mid-handshake, after it, and halfway through a frame: the TCP connection just ends.
    for raw in (
        _handshake(server.token(user))[:40],
        _handshake(server.token(user)),
        _handshake(server.token(user)) + b"\x81\xfe\x10",
    ):
        _, writer = await asyncio.open_connection(host, int(port))
        writer.write(raw)
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.transport.abort()
    # A real client whose connection drops with no close frame, with a reveal pending.
    async with server.connect(user) as ws:
        await ping(ws)
        server.publish(final_for(user, time.time() + 0.3))
        ws.transport.abort()
    deadline = time.monotonic() + 5
    while server.reveal.hub.connected(user) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert server.reveal.hub.connected(user) == 0
    await asyncio.sleep(0.5)  # the pending reveal fires at a socket that is gone
    async with server.connect(user) as ws:
        await ping(ws)
