"""``/admin/users``: find players, see their plays and wins, block and unblock them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from frolic.schemas import Page, Storable
from frolic.users import service
from frolic.users.schemas import UserRead
from frolic.web import AUTH_RESPONSES, After, Limit, PathId, Res, responses_of, transaction

router = APIRouter(prefix="/admin", tags=["admin"])

USER_RESPONSES = responses_of("user")


@router.get("/users", responses=AUTH_RESPONSES)
async def list_users(
    res: Res,
    external_id: Annotated[
        Storable | None,
        Query(
            alias="externalId",
            min_length=1,
            max_length=255,
            description="The player's id in the client's system (exact).",
        ),
    ] = None,
    blocked: bool | None = None,
    limit: Limit = 50,
    after: After = 0,
) -> Page[UserRead]:
    """Players by id, a page at a time, with their plays and wins."""
    async with transaction(res) as session:
        return await service.list_users(
            session, limit=limit, after=after, external_id=external_id, blocked=blocked
        )


@router.get("/users/{user_id}", responses=USER_RESPONSES)
async def get_user(user_id: PathId, res: Res) -> UserRead:
    async with transaction(res) as session:
        return await service.get_user(session, user_id)


@router.post("/users/{user_id}/block", responses=USER_RESPONSES)
async def block_user(user_id: PathId, res: Res) -> UserRead:
    """Refuse the player's plays (403) from the moment this answers, on every gateway.
    Plays queued before stay queued and are decided as usual."""
    async with transaction(res) as session:
        return await service.set_blocked(session, user_id, True)


@router.post("/users/{user_id}/unblock", responses=USER_RESPONSES)
async def unblock_user(user_id: PathId, res: Res) -> UserRead:
    """Let the player play again, from the moment this answers, on every gateway."""
    async with transaction(res) as session:
        return await service.set_blocked(session, user_id, False)
