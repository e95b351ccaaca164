"""A game's lifecycle: start (the budget goes to Redis), pause, resume and end.

Like ``service``, each function works inside the caller's session and only flushes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from frolic.admin.schemas import GameRead
from frolic.admin.service import DRAFT, available_codes, brand_names, budgets_of, read_game
from frolic.db.models import Game
from frolic.engine.rules import GameRules
from frolic.errors import Conflict, NotFound, NotReady
from frolic.games.repository import LIVE, load_game


class BudgetLoader(Protocol):
    """The part of a budget store (``frolic.engine.redis_store``) that starting a game uses."""

    async def load(self, rules: GameRules, stock: dict[int, int]) -> None: ...


async def start_game(
    session: AsyncSession, db: AsyncEngine, store: BudgetLoader, game_id: int
) -> GameRead:
    """Make a draft game live, once every brand has codes for its remaining budget.

    The game's row stays locked until the caller commits, so two starts cannot both load
    the budget. Starting a live game again changes nothing: reloading Redis would reset its
    pacing state.

    The budget goes to Redis *before* the status turns live: a live game must always have
    its budget in Redis. Should the commit then fail, the game is still a draft and the next
    start loads it again, which is harmless before any play.
    """
    game = await session.get(Game, game_id, with_for_update=True)
    if game is None:
        raise NotFound(f"no game {game_id}")
    if game.status == LIVE:
        return await read_game(session, game)
    if game.status != DRAFT:
        raise Conflict(f"game {game_id} is {game.status}; only a draft game can be started")
    if game.end_time <= datetime.now(UTC):
        raise Conflict(f"game {game_id} ended at {game.end_time.isoformat()}; it cannot start")
    budgets = await budgets_of(session, game_id)
    available = await available_codes(session, game_id, [b.brand_id for b in budgets])
    short = [b for b in budgets if available.get(b.brand_id, 0) < b.remaining_coupons]
    if short:
        names = await brand_names(session, [b.brand_id for b in short])
        raise Conflict(
            f"game {game_id} cannot start: not enough unissued coupon codes. "
            + "; ".join(
                f"brand {b.brand_id} ({names.get(b.brand_id, '?')}) has "
                f"{available.get(b.brand_id, 0)} codes for a remaining budget of "
                f"{b.remaining_coupons}: {b.remaining_coupons - available.get(b.brand_id, 0)} "
                "short"
                for b in short
            )
            + ". Import codes with POST /admin/coupons/import."
        )
    view = await load_game(db, game_id)
    if view is None:  # the row is locked by us, so this cannot happen
        raise NotFound(f"no game {game_id}")
    try:
        await store.load(view.rules, {b.brand_id: b.remaining_coupons for b in budgets})
    except RedisError as e:
        raise NotReady(f"Redis did not take the budget ({type(e).__name__}); try again") from e
    game.status = LIVE
    game.updated_at = datetime.now(UTC)
    await session.flush()
    return await read_game(session, game, budgets=budgets, available=available)


PAUSED, ENDED = "paused", "ended"
# Where each lifecycle action may start from, and where it leads. Starting is start_game's.
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "pause": (frozenset({LIVE}), PAUSED),
    "resume": (frozenset({PAUSED}), LIVE),
    "end": (frozenset({DRAFT, LIVE, PAUSED}), ENDED),
}


async def change_status(session: AsyncSession, game_id: int, action: str) -> GameRead:
    """Pause, resume or end a game. Asking for the state a game is in already changes
    nothing. A paused or ended game takes no new plays; plays already queued are still
    decided and recorded (DESIGN.md §4: every play answered QUEUED reaches an outcome)."""
    sources, target = TRANSITIONS[action]
    game = await session.get(Game, game_id, with_for_update=True)
    if game is None:
        raise NotFound(f"no game {game_id}")
    if game.status == target:
        return await read_game(session, game)
    if game.status not in sources:
        raise Conflict(f"game {game_id} is {game.status}; it cannot {action}")
    if target == LIVE and game.end_time <= datetime.now(UTC):
        raise Conflict(f"game {game_id} ended at {game.end_time.isoformat()}; it cannot resume")
    game.status = target
    game.updated_at = datetime.now(UTC)
    await session.flush()
    return await read_game(session, game)
