"""A game's lifecycle: the states a game goes through, and what each step does.

::

    action             from                              to
    schedule           draft                             scheduled
    unschedule         scheduled                         draft
    start              draft, scheduled                  live
    (startTime comes)  scheduled                         live       the scheduler
    pause              live                              paused
    resume             paused                            live
    end                draft, scheduled, live, paused    ended      for good
    (endTime passes)   scheduled, live, paused           ended      the scheduler

- **draft**: being set up; takes no plays, promises no codes.
- **scheduled**: set to go live by itself at its ``startTime`` (``frolic.games.scheduler``).
  Its budget is in Redis already, and its codes are promised (``frolic.games.promises``).
- **live**: takes plays. Going live (start, or the scheduler) loads the budget into Redis
  afresh, *before* the status turns live: a live game always has its budget in Redis.
  Going live after the ``startTime`` anchors the pacing line at 0 at that moment, so the
  budget spreads over the time left rather than the elapsed share being owed at once; the
  anchor is kept on the game's row too, for ``frolic reconcile --rebuild``.
- **paused**: takes no new plays; plays already queued are still decided and recorded.
  Resuming re-anchors the pacing line at that moment at the coupons awarded so far (in
  Redis and on the row): the line kept rising through the pause, and what is left
  spreads over the time left instead of the pause's share being owed at once.
- **ended**: for good. The scheduler ends every scheduled, live or paused game whose
  ``endTime`` has passed, so a status never says live for a game that cannot take plays.

Going live and scheduling check the codes first: each brand needs unissued codes for the
game's remaining budget that no other game is promised. Every function works inside the
caller's session and only flushes; the row of the game stays locked until the caller
commits, which is what makes each step happen once however many processes try it.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Protocol

from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from frolic.db.models import Game, GameBrandBudget
from frolic.engine import step
from frolic.engine.rules import GameRules
from frolic.engine.store import GameLost
from frolic.errors import Conflict, NotFound, NotReady
from frolic.fairness import draws, log_rows
from frolic.fairness.terms import Terms
from frolic.games import promises
from frolic.games.repository import DRAFT, LIVE, budgets_of, load_game, next_epoch
from frolic.games.schemas import GameRead
from frolic.games.service import read_game

SCHEDULED, PAUSED, ENDED = "scheduled", "paused", "ended"
STATUSES = (DRAFT, SCHEDULED, LIVE, PAUSED, ENDED)
# Where a game's budget is in Redis (loaded when it was scheduled or went live).
WARM = frozenset({SCHEDULED, LIVE, PAUSED})


class BudgetLoader(Protocol):
    """The part of a budget store (``frolic.engine.redis_store``) that going live uses."""

    async def load(
        self, rules: GameRules, stock: dict[int, int], t: float | None = None, epoch: int = 0
    ) -> None: ...


class PacingAnchor(Protocol):
    """The part of a budget store that resuming uses."""

    async def resume(self, rules: GameRules, t: float) -> tuple[float, float]: ...


async def locked_game(session: AsyncSession, game_id: int) -> Game:
    game = await session.get(Game, game_id, with_for_update=True)
    if game is None:
        raise NotFound(f"no game {game_id}")
    return game


async def start_game(
    session: AsyncSession,
    db: AsyncEngine,
    store: BudgetLoader,
    game_id: int,
    *,
    reveal_seconds: float,
    sources: Collection[str] = (DRAFT, SCHEDULED),
) -> GameRead:
    """Make a draft or scheduled game live, once every brand has codes for its remaining
    budget; a live game stays as it is (reloading Redis would reset its pacing state).

    Should the commit fail after Redis took the budget, the game is not live and the next
    start loads it again, which is harmless before any play.
    """
    game = await locked_game(session, game_id)
    if game.status == LIVE:
        return await read_game(session, game)
    if game.status not in sources:
        allowed = " or ".join(f"a {s}" for s in sources)
        raise Conflict(f"game {game_id} is {game.status}; only {allowed} game can be started")
    budgets = await _check_go_live(session, game, "start")
    await _warm(session, db, store, game, budgets)
    if game.status == DRAFT or game.fairness_seed is None:
        commit_fairness(game, budgets, reveal_seconds)
    return await _set_status(session, game, LIVE, budgets)


async def schedule_game(
    session: AsyncSession, db: AsyncEngine, store: BudgetLoader, game_id: int, *,
    reveal_seconds: float,
) -> GameRead:  # fmt: skip
    """Set a draft game to go live by itself at its start time, after the checks of a
    start; its codes are promised from now on. A scheduled game stays as it is.

    Its budget goes to Redis now (and again, afresh, when it goes live), so that every
    game past draft has its budget in Redis, as ``frolic reconcile`` expects.
    """
    game = await locked_game(session, game_id)
    if game.status == SCHEDULED:
        return await read_game(session, game)
    if game.status != DRAFT:
        raise Conflict(f"game {game_id} is {game.status}; only a draft game can be scheduled")
    budgets = await _check_go_live(session, game, "be scheduled")
    await _warm(session, db, store, game, budgets)
    commit_fairness(game, budgets, reveal_seconds)
    return await _set_status(session, game, SCHEDULED, budgets)


def commit_fairness(game: Game, budgets: list[GameBrandBudget], reveal_seconds: float) -> None:
    """A fresh secret seed for a game leaving draft, and the terms its hash is published
    with (docs/fairness.md). A draft may change its terms, so each departure from draft
    commits anew; a scheduled game going live keeps its commitment."""
    game.fairness_seed = draws.new_seed()
    game.moments_seed = draws.moments_seed(game.fairness_seed, game.id)
    game.fairness_terms = Terms(
        game_id=game.id, start=game.start_time.timestamp(), end=game.end_time.timestamp(),
        budgets={b.brand_id: b.total_coupons for b in budgets}, strategy=game.probability_type,
        slot_seconds=float(game.slot_seconds), odds=game.odds, moments_void=game.moments_void,
        reveal_seconds=reveal_seconds,
    ).document()  # fmt: skip


# Where each plain lifecycle action may start from, and where it leads. Starting and
# scheduling check codes and load Redis: they are start_game's and schedule_game's.
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "unschedule": (frozenset({SCHEDULED}), DRAFT),
    "pause": (frozenset({LIVE}), PAUSED),
    "end": (frozenset({DRAFT, SCHEDULED, LIVE, PAUSED}), ENDED),
}


async def change_status(session: AsyncSession, game_id: int, action: str) -> GameRead:
    """Unschedule, pause or end a game. Asking for the state a game is in already
    changes nothing. A paused or ended game takes no new plays; plays already queued are
    still decided and recorded (DESIGN.md §4: every play answered QUEUED reaches an
    outcome)."""
    sources, target = TRANSITIONS[action]
    game = await locked_game(session, game_id)
    if game.status == target:
        return await read_game(session, game)
    if game.status not in sources:
        raise Conflict(f"game {game_id} is {game.status}; it cannot {action}")
    if target == PAUSED and game.fairness_seed is not None:
        await log_rows.add_pause(session, game.id, "pause", time.time())
    return await _set_status(session, game, target)


async def resume_game(
    session: AsyncSession, db: AsyncEngine, store: PacingAnchor, game_id: int
) -> GameRead:
    """Make a paused game live again, its pacing line re-anchored now at the coupons
    awarded so far (``step.line_at_resume``), in Redis and then on the game's row, as a
    top-up's anchor is. A live game stays as it is, its line untouched.

    Should the commit fail after Redis took the anchor, the game is still paused and the
    retry anchors again, at that moment: harmless, since a paused game takes no plays.
    """
    game = await locked_game(session, game_id)
    if game.status == LIVE:
        return await read_game(session, game)
    if game.status != PAUSED:
        raise Conflict(f"game {game_id} is {game.status}; it cannot resume")
    if game.end_time <= datetime.now(UTC):
        raise Conflict(f"game {game_id} ended at {game.end_time.isoformat()}; it cannot resume")
    view = await load_game(db, game.id)
    if view is None:  # the row is locked by us, so this cannot happen
        raise NotFound(f"no game {game.id}")
    try:
        anchor = await store.resume(view.rules, time.time())
    except (RedisError, GameLost) as e:  # lost: back once rebuilt (frolic.reconcile.recovery)
        raise NotReady(f"Redis did not take the resume ({type(e).__name__}); try again") from e
    game.pacing_line_t, game.pacing_line_from = anchor
    if game.fairness_seed is not None:
        await log_rows.add_pause(session, game.id, "resume", time.time())
    return await _set_status(session, game, LIVE)


async def _check_go_live(session: AsyncSession, game: Game, doing: str) -> list[GameBrandBudget]:
    if game.end_time <= datetime.now(UTC):
        raise Conflict(f"game {game.id} ended at {game.end_time.isoformat()}; it cannot {doing}")
    budgets = await budgets_of(session, game.id)
    await promises.ensure_codes(
        session, game.id, {b.brand_id: b.remaining_coupons for b in budgets}, doing
    )
    return budgets


async def _warm(
    session: AsyncSession,
    db: AsyncEngine,
    store: BudgetLoader,
    game: Game,
    budgets: list[GameBrandBudget],
) -> None:
    """Load the budget into Redis now under a new epoch, and keep the epoch and the pacing
    line's anchor that the load set (``step.line_at_load``) on the game's row, where a
    rebuild finds them."""
    view = await load_game(db, game.id)
    if view is None:  # the row is locked by us, so this cannot happen
        raise NotFound(f"no game {game.id}")
    rules, now = view.rules, time.time()
    epoch = await next_epoch(session)
    stock = {b.brand_id: b.remaining_coupons for b in budgets}
    try:
        await store.load(rules, stock, t=now, epoch=epoch)
    except RedisError as e:
        raise NotReady(f"Redis did not take the budget ({type(e).__name__}); try again") from e
    anchor = step.line_at_load(rules.start, rules.end, now)
    game.pacing_line_t, game.pacing_line_from = (None, 0.0) if anchor is None else anchor
    game.redis_epoch = epoch


async def _set_status(
    session: AsyncSession, game: Game, status: str, budgets: list[GameBrandBudget] | None = None
) -> GameRead:
    game.status = status
    game.updated_at = datetime.now(UTC)
    await session.flush()
    return await read_game(session, game, budgets=budgets)
