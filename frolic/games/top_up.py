"""Topping up a game's budget: more coupons for one brand (a brand new to the game too),
on a game that has not ended.

PostgreSQL gets the brand's budget row (total and remaining grow; the row is created for
a new brand), the game's ``total_budget``, and the operation id in the row's ``top_ups``.
Redis, where the game's budget is (scheduled, live, paused), gets the brand's stock and
the pacing line's new anchor in one atomic step (``BudgetStore.top_up``), recorded under
the same operation id. So Redis remaining + issued = total still holds afterwards. The
anchor Redis computed is then copied to the game's row, where ``frolic reconcile
--rebuild`` finds it after a Redis loss.

Order: PostgreSQL is changed and flushed, Redis applied, then the caller commits, all
with the game's row locked. A crash between Redis and the commit leaves Redis ahead; the
retry with the same ``Idempotency-Key`` finds the operation in Redis (nothing added there
again) and not in PostgreSQL (added there now). A crash before Redis leaves nothing. A
retry therefore adds once on each side; until it comes, ``frolic reconcile`` shows the
difference.

A game past draft promises its codes (``promises``), so its top-up needs codes for the
new remaining budget. A draft promises nothing yet: its start checks the codes.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Protocol

from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from frolic.db.models import Brand, GameBrandBudget
from frolic.engine.rules import GameRules, PacingState
from frolic.engine.store import GameLost
from frolic.errors import Conflict, NotFound, NotReady
from frolic.fairness import log_rows
from frolic.games import promises
from frolic.games.lifecycle import ENDED, WARM, locked_game
from frolic.games.repository import budgets_of, load_game
from frolic.games.schemas import GameRead
from frolic.games.service import read_game
from frolic.schemas import INTEGER_MAX


class TopUpStore(Protocol):
    """The part of a budget store (``frolic.engine.store.BudgetStore``) a top-up uses."""

    async def top_up(
        self, rules: GameRules, brand_id: int, coupons: int, operation: str, t: float
    ) -> bool: ...

    async def state(self, rules: GameRules) -> PacingState: ...

    async def top_up_place(self, rules: GameRules, operation: str) -> tuple[int, int] | None: ...


async def top_up(
    session: AsyncSession,
    db: AsyncEngine,
    store: TopUpStore,
    game_id: int,
    brand_id: int,
    coupons: int,
    operation: str,
) -> GameRead:
    """Add ``coupons`` to the brand's budget of the game, once per ``operation``."""
    game = await locked_game(session, game_id)
    budgets = await budgets_of(session, game_id)
    done = next((b for b in budgets if operation in b.top_ups), None)
    if done is not None:
        if (done.brand_id, done.top_ups[operation]) != (brand_id, coupons):
            raise Conflict(
                f"Idempotency-Key {operation!r} was used for a top-up of "
                f"{done.top_ups[operation]} coupons for brand {done.brand_id}; "
                "use a new key for a different top-up"
            )
        return await read_game(session, game, budgets=budgets)
    if game.status == ENDED:
        raise Conflict(f"game {game_id} has ended; its budget cannot be topped up")
    if await session.get(Brand, brand_id) is None:
        raise NotFound(f"no brand {brand_id}")
    row = next((b for b in budgets if b.brand_id == brand_id), None)
    if max(game.total_budget, row.total_coupons if row else 0) + coupons > INTEGER_MAX:
        raise Conflict(f"the budget would exceed {INTEGER_MAX} coupons")
    if row is None:
        row = GameBrandBudget(game_id=game_id, brand_id=brand_id, total_coupons=0,
                              remaining_coupons=0, top_ups={})  # fmt: skip
        session.add(row)
        budgets = sorted([*budgets, row], key=lambda b: b.brand_id)
    row.total_coupons += coupons
    row.remaining_coupons += coupons
    row.top_ups = {**row.top_ups, operation: coupons}  # a new dict, so the change is seen
    game.total_budget += coupons
    await session.flush()
    if game.status in WARM:
        await promises.ensure_codes(
            session, game_id, {brand_id: row.remaining_coupons}, "be topped up"
        )
        now = time.time()
        line, place = await _top_up_redis(db, store, game_id, brand_id, coupons, operation, now)
        game.pacing_line_t, game.pacing_line_from = line
        if game.fairness_seed is not None and place is not None:
            # Its entry in the decision log, where Redis placed it among the decisions.
            await log_rows.add_top_up(session, game_id, operation, brand_id, coupons, now, place)
        await session.flush()
    return await read_game(session, game, budgets=budgets)


async def _top_up_redis(
    db: AsyncEngine, store: TopUpStore, game_id: int, brand_id: int, coupons: int,
    operation: str, now: float,
) -> tuple[tuple[float | None, float], tuple[int, int] | None]:  # fmt: skip
    """Apply the top-up in Redis; the pacing line's anchor there afterwards, and the top-up's
    place in the decision order. Read back rather than computed here: a retry finds the
    top-up applied and must still learn what it set, and nothing else moves the anchor
    while we hold the game's row lock."""
    view = await load_game(db, game_id)
    if view is None:  # the row is locked by us, so this cannot happen
        raise NotFound(f"no game {game_id}")
    # The committed rules do not list a brand this top-up adds: the script must see it.
    brands = tuple(sorted({b for b in view.rules.brands if b} | {brand_id}))
    rules = dataclasses.replace(view.rules, brands=brands)
    try:
        await store.top_up(rules, brand_id, coupons, operation, now)
        state = await store.state(rules)
        place = await store.top_up_place(rules, operation)
    except (RedisError, GameLost) as e:  # lost: back once rebuilt (frolic.reconcile.recovery)
        raise NotReady(f"Redis did not take the top-up ({type(e).__name__}); try again") from e
    return (state.line_t, state.line_from), place
