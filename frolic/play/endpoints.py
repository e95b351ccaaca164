"""``POST /play`` and ``GET /plays/{id}``: a player's requests."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Header, Request, Response

from frolic.auth.players import bearer, player_id
from frolic.config import Settings
from frolic.errors import PayloadTooLarge
from frolic.play.schemas import PlayAccepted, PlayRequest, PlayView, parse_play
from frolic.play.service import PlayService
from frolic.web import resources

router = APIRouter(tags=["play"])

ERRORS = {
    401: {"description": "missing or bad player token"},
    403: {"description": "the player is blocked"},
    404: {"description": "no such game or play"},
    422: {"description": "bad body, or the game is not open"},
    429: {"description": "over a rate limit or a game's per-player limit"},
    503: {"description": "the play could not be recorded"},
}


def player(request: Request, authorization: Annotated[str | None, Header()] = None) -> str:
    """The calling player's external id, from their bearer token."""
    return player_id(resources(request).settings, bearer(authorization))


def plays(request: Request) -> PlayService:
    service: PlayService = request.app.state.plays
    return service


# The route documents POST /play; in the app, ``ingress.FrolicApp`` serves it without
# FastAPI's per-request machinery. Both run accept_play.
_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": PlayRequest.model_json_schema()}},
    }
}
MAX_BODY_BYTES = 16_384  # a gameId and a small device object


async def accept_play(
    settings: Settings, service: PlayService, authorization: str | None, key: str | None,
    body: bytes, ip: str,
) -> bytes:  # fmt: skip
    """The 202 answer's JSON body; a ``FrolicError`` for a refused play."""
    user = player_id(settings, bearer(authorization))
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"a play's body is at most {MAX_BODY_BYTES} bytes")
    request = parse_play(body)
    accepted = await service.accept(
        user, request.gameId, ip=ip, key=key, device=request.device,
        client_seed=request.clientSeed or "",
    )  # fmt: skip
    return orjson.dumps(accepted.answer())


@router.post(
    "/play", status_code=202, response_model=PlayAccepted, responses=ERRORS,  # type: ignore[arg-type]
    openapi_extra=_BODY_DOC,
)  # fmt: skip
async def play(request: Request) -> Response:
    """Queue a play; its outcome is revealed at ``revealAt`` over the WebSocket.

    Body: ``{"gameId": <id>, "device": {...}?, "clientSeed": "..."?}``; optional header
    ``Idempotency-Key``. The answer's ``playNumber`` and ``clientSeed`` are the play's
    receipt: with the game's seed, revealed when it ends, they give its draw
    (docs/fairness.md)."""
    answer = await accept_play(
        resources(request).settings, plays(request), request.headers.get("authorization"),
        request.headers.get("idempotency-key"), await request.body(),
        request.client.host if request.client else "unknown",
    )  # fmt: skip
    return Response(answer, status_code=202, media_type="application/json")


@router.get("/plays/{play_id}", responses=ERRORS)  # type: ignore[arg-type]
async def get_play(
    play_id: str,
    user: Annotated[str, Depends(player)],
    service: Annotated[PlayService, Depends(plays)],
) -> PlayView:
    """One of the caller's plays; its outcome only once it is revealed."""
    return await service.view(user, play_id)
