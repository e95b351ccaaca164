"""``POST /play`` served as plain ASGI, in front of FastAPI's routing.

A play is the one request that comes by the thousand a second, and FastAPI's stack
(exception and exit-stack middleware, routing, request objects, dependency solving) cost
more CPU per request than the play's own gateway work (``docs/performance.md``, Ingest).
This middleware answers ``POST /play`` itself with the same code the documented route runs
(``endpoints.accept_play``) and renders errors with ``frolic.errors.render``, as the app
does; every other request goes on to FastAPI. It sits inside Starlette's
ServerErrorMiddleware, so an unexpected error still becomes the usual 500.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from frolic.errors import FrolicError, PayloadTooLarge
from frolic.play.endpoints import MAX_BODY_BYTES, accept_play
from frolic.web import error_response

_JSON = [(b"content-type", b"application/json")]


class PlayIngress:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/play" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        authorization = key = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"idempotency-key":
                key = value.decode("latin-1")
        client = scope.get("client")
        app = scope["app"]
        try:
            body = await _body(receive)
            answer = await accept_play(
                app.state.resources.settings, app.state.plays, authorization, key, body,
                client[0] if client else "unknown",
            )  # fmt: skip
        except FrolicError as exc:
            await error_response(exc)(scope, receive, send)
            return
        length = (b"content-length", str(len(answer)).encode())
        await send({"type": "http.response.start", "status": 202, "headers": [*_JSON, length]})
        await send({"type": "http.response.body", "body": answer})


async def _body(receive: Receive) -> bytes:
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b""  # the client went away; an empty body fails validation harmlessly
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"a play's body is at most {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
