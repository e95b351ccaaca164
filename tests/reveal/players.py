"""Players in a process of their own (so that their objects are not the server's): each
token's socket connects and has a pong back, then every socket leaves at once, half with a
close handshake and half by dropping the connection.

    python tests/reveal/players.py ws://host:port/ws < tokens (one JSON list)
"""

from __future__ import annotations

import asyncio
import sys

import orjson
from websockets.asyncio.client import ClientConnection, connect

AT_ONCE = 50


async def play(url: str, tokens: list[str]) -> None:
    gate = asyncio.Semaphore(AT_ONCE)

    async def join(token: str) -> ClientConnection:
        async with gate:
            ws = await connect(url, additional_headers={"Authorization": f"Bearer {token}"})
            await ws.send("ping")
            while orjson.loads(await ws.recv()) != {"type": "pong"}:
                pass  # results of earlier plays
            return ws

    sockets = await asyncio.gather(*(join(token) for token in tokens))
    polite, abrupt = sockets[::2], sockets[1::2]
    for ws in abrupt:
        ws.transport.abort()
    await asyncio.gather(*(ws.close() for ws in polite))


if __name__ == "__main__":
    asyncio.run(play(sys.argv[1], orjson.loads(sys.stdin.buffer.read())))
