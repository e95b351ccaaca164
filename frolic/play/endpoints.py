from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request

from frolic.auth.players import bearer, player_id
from frolic.play.schemas import PlayAccepted, PlayRequest, PlayView
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


@router.post("/play", status_code=202, responses=ERRORS)  # type: ignore[arg-type]
async def play(
    body: PlayRequest,
    request: Request,
    user: Annotated[str, Depends(player)],
    service: Annotated[PlayService, Depends(plays)],
    idempotency_key: Annotated[str | None, Header()] = None,
) -> PlayAccepted:
    """Queue a play; its outcome is revealed at ``revealAt`` over the WebSocket."""
    ip = request.client.host if request.client else "unknown"
    return await service.accept(user, body.gameId, ip=ip, key=idempotency_key, device=body.device)


@router.get("/plays/{play_id}", responses=ERRORS)  # type: ignore[arg-type]
async def get_play(
    play_id: str,
    user: Annotated[str, Depends(player)],
    service: Annotated[PlayService, Depends(plays)],
) -> PlayView:
    """One of the caller's plays; its outcome only once it is revealed."""
    return await service.view(user, play_id)
