"""``/admin/users``: find players, see their plays and wins, block and unblock them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from frolic.admin import users
from frolic.admin.auth import require_admin
from frolic.admin.endpoints import AUTH_RESPONSES, After, Limit, Res, transaction
from frolic.admin.schemas import BIGINT_MAX, Page, Storable, UserRead

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])

UserId = Annotated[int, Path(ge=1, le=BIGINT_MAX)]
USER_RESPONSES: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    404: {"description": "no such user"},
}


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
        return await users.list_users(
            session, limit=limit, after=after, external_id=external_id, blocked=blocked
        )


@router.get("/users/{user_id}", responses=USER_RESPONSES)
async def get_user(user_id: UserId, res: Res) -> UserRead:
    async with transaction(res) as session:
        return await users.get_user(session, user_id)


@router.post("/users/{user_id}/block", responses=USER_RESPONSES)
async def block_user(user_id: UserId, res: Res) -> UserRead:
    """Refuse the player's plays (403) from the moment this answers, on every gateway.
    Plays queued before stay queued and are decided as usual."""
    async with transaction(res) as session:
        return await users.set_blocked(session, user_id, True)


@router.post("/users/{user_id}/unblock", responses=USER_RESPONSES)
async def unblock_user(user_id: UserId, res: Res) -> UserRead:
    """Let the player play again, from the moment this answers, on every gateway."""
    async with transaction(res) as session:
        return await users.set_blocked(session, user_id, False)
