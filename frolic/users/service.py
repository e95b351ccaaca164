"""Players as the admin API sees them: find them, count their plays, block and unblock them.

PostgreSQL's ``users.blocked`` is the truth, and gateways cache no player: each play reads
the block in the statement that records it, so a block holds from the moment it commits.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from frolic.db.models import User
from frolic.db.rows import found, page_of
from frolic.plays.repository import counts_by_user
from frolic.schemas import Page
from frolic.users.schemas import UserRead


def _read(user: User, counts: dict[int, tuple[int, int]]) -> UserRead:
    plays, wins = counts.get(user.id, (0, 0))
    return UserRead(
        id=user.id,
        external_id=user.external_id,
        name=user.name,
        blocked=user.blocked,
        created_at=user.created_at,
        plays=plays,
        wins=wins,
    )


async def list_users(
    session: AsyncSession, *, limit: int, after: int, external_id: str | None,
    blocked: bool | None,
) -> Page[UserRead]:  # fmt: skip
    query = select(User)
    if external_id is not None:
        query = query.where(User.external_id == external_id)
    if blocked is not None:
        query = query.where(User.blocked == blocked)
    users, next_after = await page_of(session, query, User.id, limit=limit, after=after)
    counts = await counts_by_user(session, [u.id for u in users])
    return Page[UserRead](items=[_read(u, counts) for u in users], next_after=next_after)


async def get_user(session: AsyncSession, user_id: int) -> UserRead:
    user = await found(session, User, user_id)
    return _read(user, await counts_by_user(session, [user.id]))


async def set_blocked(session: AsyncSession, user_id: int, blocked: bool) -> UserRead:
    user = await found(session, User, user_id, lock=True)
    if user.blocked != blocked:
        user.blocked = blocked
        user.updated_at = datetime.now(UTC)
        await session.flush()
    return _read(user, await counts_by_user(session, [user.id]))
