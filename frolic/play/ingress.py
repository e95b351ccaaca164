"""``POST /play`` served as plain ASGI, in front of FastAPI.

A play is the one request that comes by the thousand a second, and FastAPI's stack (its
body-limit and telemetry wrappers, Starlette's middleware, routing, request objects,
dependency solving) cost more CPU per request than the play's own gateway work
(``docs/performance.md``, Ingest). ``FrolicApp`` hands a play to ``play`` here before
any of it runs; every other request goes on to FastAPI. The ingress answers with the code
the documented route runs (``endpoints.accept_play``), renders refusals with
``frolic.errors.render`` as the app does, and turns an unexpected error into the app's
logged 500. FastAPI's own telemetry therefore does not see plays; ``/metrics`` counts them.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from frolic.errors import FrolicError, InternalError, PayloadTooLarge
from frolic.play.endpoints import MAX_BODY_BYTES, accept_play
from frolic.web import error_response

log = logging.getLogger(__name__)
_JSON = [(b"content-type", b"application/json")]


def is_play(scope: Scope) -> bool:
    return bool(scope["type"] == "http" and scope["path"] == "/play" and scope["method"] == "POST")


class FrolicApp(FastAPI):
    """The app: FastAPI, with ``POST /play`` answered before FastAPI's stack when its
    process runs the api role."""

    serves_plays = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.serves_plays and is_play(scope):
            await play(self, scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


async def play(app: FastAPI, scope: Scope, receive: Receive, send: Send) -> None:
    authorization = key = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value.decode("latin-1")
        elif name == b"idempotency-key":
            key = value.decode("latin-1")
    client = scope.get("client")
    try:
        body = await _body(receive)
        answer = await accept_play(
            app.state.resources.settings, app.state.plays, authorization, key, body,
            client[0] if client else "unknown",
        )  # fmt: skip
    except FrolicError as exc:
        await error_response(exc)(scope, receive, send)
        return
    except Exception:
        log.exception("unhandled error on POST /play")
        await error_response(InternalError())(scope, receive, send)
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
