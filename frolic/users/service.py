"""Players as the admin API sees them: find them, count their plays, block and unblock them.

PostgreSQL's ``users.blocked`` is the truth, and gateways cache no player: each play reads
the block in the statement that records it, so a block holds from the moment it commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from frolic.db.models import PlayEvent, User
from frolic.db.rows import found, page_of
from frolic.schemas import Page
from frolic.users.schemas import UserRead


async def _counts(session: AsyncSession, users: Sequence[int]) -> dict[int, tuple[int, int]]:
    """user id -> (plays, wins)."""
    if not users:
        return {}
    rows = await session.execute(
        select(
            PlayEvent.user_id,
            func.count(),
            func.count().filter(PlayEvent.status == "WIN"),
        )
        .where(PlayEvent.user_id.in_(users))
        .group_by(PlayEvent.user_id)
    )
    return {user: (plays, wins) for user, plays, wins in rows}


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
    counts = await _counts(session, [u.id for u in users])
    return Page[UserRead](items=[_read(u, counts) for u in users], next_after=next_after)


async def get_user(session: AsyncSession, user_id: int) -> UserRead:
    user = await found(session, User, user_id)
    return _read(user, await _counts(session, [user.id]))


async def set_blocked(session: AsyncSession, user_id: int, blocked: bool) -> UserRead:
    user = await found(session, User, user_id, lock=True)
    if user.blocked != blocked:
        user.blocked = blocked
        user.updated_at = datetime.now(UTC)
        await session.flush()
    return _read(user, await _counts(session, [user.id]))
