"""``/admin/games/{id}/...``: start, pause, resume and end a game. Admin token only."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from frolic.admin import lifecycle
from frolic.admin.auth import require_admin
from frolic.admin.endpoints import GAME_RESPONSES, GameId, Res, transaction
from frolic.admin.schemas import GameRead
from frolic.engine.redis_store import store_for

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])


@router.post(
    "/games/{game_id}/start",
    responses={
        **GAME_RESPONSES,
        409: {"description": "a brand has too few codes, or the game has ended"},
        503: {"description": "Redis did not take the budget"},
    },
)
async def start_game(game_id: GameId, res: Res) -> GameRead:
    """Make a draft game live and load its budget into Redis; a live game stays as it is."""
    store = store_for(res.settings, res.redis)
    async with transaction(res) as session:
        return await lifecycle.start_game(session, res.db, store, game_id)


LIFECYCLE_RESPONSES = {
    **GAME_RESPONSES,
    409: {"description": "the game is not in a state this applies to"},
}


@router.post("/games/{game_id}/pause", responses=LIFECYCLE_RESPONSES)
async def pause_game(game_id: GameId, res: Res) -> GameRead:
    """Stop taking plays (queued ones are still decided); a paused game stays paused."""
    async with transaction(res) as session:
        return await lifecycle.change_status(session, game_id, "pause")


@router.post("/games/{game_id}/resume", responses=LIFECYCLE_RESPONSES)
async def resume_game(game_id: GameId, res: Res) -> GameRead:
    """Take plays again, with the budget and pacing state the game had."""
    async with transaction(res) as session:
        return await lifecycle.change_status(session, game_id, "resume")


@router.post("/games/{game_id}/end", responses=LIFECYCLE_RESPONSES)
async def end_game(game_id: GameId, res: Res) -> GameRead:
    """End the game for good; plays already queued are still decided."""
    async with transaction(res) as session:
        return await lifecycle.change_status(session, game_id, "end")
