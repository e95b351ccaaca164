"""The playable demo: the ``/demo`` page and the guest sessions it plays with.

Both exist only with ``FROLIC_DEMO`` on (``frolic demo`` turns it on). A guest session is
a fresh player token for a random guest id: with it, anyone who can reach the server may
play, which is the point of a demo and never right in production. Elsewhere both are 404.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text

from frolic.auth.tokens import mint_player_token
from frolic.dashboard.endpoints import PAGE_HEADERS, page
from frolic.errors import NotFound
from frolic.play.service import PlayService
from frolic.resources import Resources
from frolic.web import resources

router = APIRouter(tags=["demo"])

GUEST_TOKEN_SECONDS = 3600

_OPEN_GAME = text(
    "SELECT id, name FROM games WHERE status = 'live' AND start_time <= now() "
    "AND end_time > now() AND (CAST(:game AS bigint) IS NULL OR id = :game) "
    "ORDER BY id DESC LIMIT 1"
)
_BRANDS = text(
    "SELECT br.id, br.name FROM game_brand_budgets b JOIN brands br ON br.id = b.brand_id "
    "WHERE b.game_id = :game ORDER BY br.id"
)


class SessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gameId: int | None = Field(None, ge=1, lt=2**63, description="Default: the newest open game.")


class Brand(BaseModel):
    id: int
    name: str


class GuestSession(BaseModel):
    token: str = Field(description="A player token (Bearer) for POST /play and /ws.")
    player: str
    gameId: int
    gameName: str
    revealSeconds: float
    brands: list[Brand]


# The verify page imports its module from this server: 'self' beside the inline scripts.
DEMO_HEADERS = {
    **PAGE_HEADERS,
    "Content-Security-Policy": PAGE_HEADERS["Content-Security-Policy"].replace(
        "script-src 'unsafe-inline'", "script-src 'self' 'unsafe-inline'"
    ),
}


def demo_on(res: Annotated[Resources, Depends(resources)]) -> None:
    if not res.settings.demo:
        raise NotFound("the demo is off (FROLIC_DEMO)")


@router.get("/demo", include_in_schema=False, dependencies=[Depends(demo_on)])
async def demo_page() -> HTMLResponse:
    return HTMLResponse(page("frolic.demo", "demo.html"), headers=DEMO_HEADERS)


@router.get("/demo/verify", include_in_schema=False, dependencies=[Depends(demo_on)])
async def verify_page() -> HTMLResponse:
    """Recomputes a player's draws in their browser once the game's seed is revealed."""
    return HTMLResponse(page("frolic.demo", "verify.html"), headers=DEMO_HEADERS)


@router.get("/demo/fairness.js", include_in_schema=False, dependencies=[Depends(demo_on)])
async def fairness_module() -> Response:
    """The draws' rule in JavaScript (Web Crypto), as ``frolic.fairness.draws`` has it."""
    return Response(
        page("frolic.demo", "fairness.js"), media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )  # fmt: skip


@router.post(
    "/demo/session",
    dependencies=[Depends(demo_on)],
    responses={404: {"description": "the demo is off, or no game is open"},
               429: {"description": "too many requests from this address"}},
)  # fmt: skip
async def guest_session(
    request: Request,
    res: Annotated[Resources, Depends(resources)],
    body: SessionRequest | None = None,
) -> GuestSession:
    """A token for a new guest player, and the open game to play (demo mode only)."""
    plays: PlayService = request.app.state.plays
    # Guests are new players: counted against the address like plays, so a loop that mints
    # them is slowed down like one that plays.
    await plays.limits.rate("ip", request.client.host if request.client else "?", plays.ip_rate)
    wanted = body.gameId if body is not None else None
    async with res.db.connect() as conn:
        game = (await conn.execute(_OPEN_GAME, {"game": wanted})).one_or_none()
        if game is None:
            which = f"game {wanted} is not" if wanted is not None else "no game is"
            raise NotFound(f"{which} open for play right now")
        brands = (await conn.execute(_BRANDS, {"game": game.id})).all()
    player = f"guest-{secrets.token_hex(6)}"
    return GuestSession(
        token=mint_player_token(res.settings, player, ttl_seconds=GUEST_TOKEN_SECONDS),
        player=player, gameId=game.id, gameName=game.name,
        revealSeconds=res.settings.reveal_seconds,
        brands=[Brand(id=b.id, name=b.name) for b in brands],
    )  # fmt: skip
