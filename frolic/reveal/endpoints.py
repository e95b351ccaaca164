"""``/ws``: a player's socket, which receives each of their results at its ``revealAt``.

    client                                  server
    connect /ws (Bearer header or ?token=)  -> bad token: accept, then close 4401 + reason
                                            <- recent results (last 10 min), at once if due
                                            <- {"type": "result", ...} at each revealAt
                                            <- {"type": "pending", "playId", "retryAfter"}
                                               at a revealAt whose result is not recorded
                                               yet; its result follows once it is
    "ping" or {"type": "ping"}              <- {"type": "pong"}
    any other frame                         (ignored)
    a frame over 4 KiB                      -> close 1009

A bad token is refused *after* the handshake: refused before it, the client would see only
an HTTP 403 (browsers not even that), while a close code and reason reach every client.
"""

from __future__ import annotations

import logging

import orjson
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketDisconnected, WebSocketState

from frolic.auth.players import bearer, player_id
from frolic.errors import Unauthorized
from frolic.reveal.history import RECENT_SECONDS, recent
from frolic.reveal.hub import Outbox
from frolic.reveal.service import Reveal

log = logging.getLogger(__name__)

router = APIRouter(tags=["reveal"])

MAX_FRAME_BYTES = 4096
UNAUTHORIZED = 4401
TOO_BIG = 1009
PONG = orjson.dumps({"type": "pong"}).decode()
GONE = (WebSocketDisconnect, WebSocketDisconnected, OSError)
"""What Starlette and uvicorn raise when the client is no longer there."""


@router.websocket("/ws")
async def reveal_socket(websocket: WebSocket) -> None:
    try:
        await _serve(websocket)
    except GONE:
        pass  # the client left mid-handshake or mid-close: nothing is owed to it


async def _serve(websocket: WebSocket) -> None:
    reveal: Reveal = websocket.app.state.reveal
    await websocket.accept()
    try:
        user = player_id(reveal.settings, _token(websocket))
    except Unauthorized as exc:
        await websocket.close(UNAUTHORIZED, _reason(str(exc.detail)))
        return
    outbox = reveal.hub.connect(user, websocket)
    try:
        # Held first, history second: a result decided in between reaches this socket one
        # way or the other (the hub sends each play to a socket once).
        await _send_recent(reveal, user, outbox)
        code = await _read_frames(websocket, outbox)
    finally:
        reveal.hub.disconnect(user, websocket)
    if code is not None and websocket.application_state is WebSocketState.CONNECTED:
        await websocket.close(code)


def _token(websocket: WebSocket) -> str:
    header = websocket.headers.get("authorization")
    if header is not None:
        return bearer(header)
    token = websocket.query_params.get("token")
    if not token:
        raise Unauthorized("missing token: send Authorization: Bearer <token> or ?token=")
    return token


async def _send_recent(reveal: Reveal, user: str, outbox: Outbox) -> None:
    if not await reveal.listener.ready(reveal.ready_timeout):
        log.warning("the final listener has no partitions yet; results may be missed")
    try:
        history = await recent(
            reveal.db, user, reveal.hub.clock() - RECENT_SECONDS, reveal.settings.reveal_seconds
        )
    except Exception:
        # Live results still flow; the player gets the rest on their next connect.
        log.exception("could not read the recent plays of %s", user)
        return
    for final in history.decided:
        reveal.hub.schedule(final, only=outbox, replay=True)
    for play_id, reveal_at in history.pending.items():
        reveal.hub.expect(play_id, user, reveal_at)  # told pending if still undecided when due


async def _read_frames(websocket: WebSocket, outbox: Outbox) -> int | None:
    """Answer pings until the client leaves (None) or must be closed (a close code)."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return None
        text: str | None = message.get("text")
        data: bytes | None = message.get("bytes")
        if data is not None:
            if len(data) > MAX_FRAME_BYTES:
                return TOO_BIG
        elif text is not None:
            if _too_big(text):
                return TOO_BIG
            if _is_ping(text):
                outbox.push(PONG)


def _too_big(text: str) -> bool:
    # A character is 1 to 4 bytes in UTF-8: encode only when its count cannot tell.
    if len(text) > MAX_FRAME_BYTES:
        return True
    return len(text) * 4 > MAX_FRAME_BYTES and len(text.encode()) > MAX_FRAME_BYTES


def _reason(text: str) -> str:
    """A close reason fits in 123 bytes of UTF-8."""
    return text.encode()[:123].decode(errors="ignore")


def _is_ping(text: str) -> bool:
    stripped = text.strip()
    if stripped == "ping":
        return True
    if not stripped.startswith("{"):
        return False
    try:
        frame = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        return False
    return isinstance(frame, dict) and frame.get("type") == "ping"
