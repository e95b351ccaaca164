from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Header, Request, Response

from frolic.auth.players import bearer, player_id
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


# POST /play skips FastAPI's body and response models (and Depends): at thousands of plays
# a second they cost more CPU than the play's own work. The models still document it.
_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": PlayRequest.model_json_schema()}},
    }
}


@router.post(
    "/play", status_code=202, response_model=PlayAccepted, responses=ERRORS,  # type: ignore[arg-type]
    openapi_extra=_BODY_DOC,
)  # fmt: skip
async def play(request: Request) -> Response:
    """Queue a play; its outcome is revealed at ``revealAt`` over the WebSocket.

    Body: ``{"gameId": <id>, "device": {...}?}``; optional header ``Idempotency-Key``."""
    user = player_id(resources(request).settings, bearer(request.headers.get("authorization")))
    body = parse_play(await request.body())
    ip = request.client.host if request.client else "unknown"
    service: PlayService = request.app.state.plays
    play_id, reveal_at = await service.accept(
        user, body.gameId, ip=ip, key=request.headers.get("idempotency-key"), device=body.device
    )
    return Response(
        orjson.dumps({"playId": play_id, "status": "QUEUED", "revealAt": reveal_at}),
        status_code=202, media_type="application/json",
    )  # fmt: skip


@router.get("/plays/{play_id}", responses=ERRORS)  # type: ignore[arg-type]
async def get_play(
    play_id: str,
    user: Annotated[str, Depends(player)],
    service: Annotated[PlayService, Depends(plays)],
) -> PlayView:
    """One of the caller's plays; its outcome only once it is revealed."""
    return await service.view(user, play_id)
