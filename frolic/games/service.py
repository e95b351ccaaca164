"""Games: create, list, read, change and delete them, each with one budget per brand.

Each function works inside the caller's session and only flushes; the endpoint that opened
the transaction commits it (CONVENTIONS.md), after which its answer is sent.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic.alias_generators import to_camel
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from frolic.brands import repository as brands
from frolic.coupons import repository as coupons
from frolic.db.models import Campaign, Game, GameBrandBudget
from frolic.db.rows import found, page_of
from frolic.errors import Conflict
from frolic.games.repository import DRAFT, budgets_of
from frolic.games.schemas import BudgetCreate, BudgetRead, GameCreate, GameRead, GameUpdate
from frolic.plays.repository import game_has_plays
from frolic.schemas import Page, apply_window, invalid


async def create_game(session: AsyncSession, body: GameCreate) -> GameRead:
    """A draft game and one budget row per brand (remaining = total = its coupons).

    The game need not lie inside its campaign's window: a campaign's dates are its
    marketing period, and a game may run a little before or after it.
    """
    if await session.get(Campaign, body.campaign_id) is None:
        raise invalid(["body", "campaignId"], f"no campaign {body.campaign_id}")
    await _check_brands(session, body.budgets)
    game = Game(
        campaign_id=body.campaign_id,
        name=body.name,
        start_time=body.start_time,
        end_time=body.end_time,
        total_budget=body.total_budget,
        probability_type=body.probability_type,
        status=DRAFT,
        slot_seconds=body.slot_seconds,
        odds=body.odds,
        moments_void=body.moments_void,
        max_plays_per_day=body.max_plays_per_day,
        cooldown_seconds=body.cooldown_seconds,
    )
    session.add(game)
    await session.flush()
    session.add_all(
        GameBrandBudget(
            game_id=game.id,
            brand_id=b.brand_id,
            total_coupons=b.coupons,
            remaining_coupons=b.coupons,
        )
        for b in body.budgets
    )
    await session.flush()
    return await read_game(session, game)


async def _check_brands(session: AsyncSession, budgets: Sequence[BudgetCreate]) -> None:
    wanted = [b.brand_id for b in budgets]
    known = await brands.known(session, wanted)
    for i, brand_id in enumerate(wanted):
        if brand_id not in known:
            raise invalid(["body", "budgets", i, "brandId"], f"no brand {brand_id}")


async def get_game(session: AsyncSession, game_id: int) -> GameRead:
    return await read_game(session, await found(session, Game, game_id))


async def list_games(
    session: AsyncSession, *, limit: int, after: int, status: str | None,
    campaign_id: int | None, name: str | None,
) -> Page[GameRead]:  # fmt: skip
    query = select(Game)
    if status is not None:
        query = query.where(Game.status == status)
    if campaign_id is not None:
        query = query.where(Game.campaign_id == campaign_id)
    if name is not None:
        query = query.where(Game.name.icontains(name, autoescape=True))
    games, next_after = await page_of(session, query, Game.id, limit=limit, after=after)
    return Page[GameRead](items=await read_games(session, games), next_after=next_after)


async def update_game(session: AsyncSession, game_id: int, body: GameUpdate) -> GameRead:
    """Change a game. Once it has left the draft, only ``GameUpdate.ANY_STATUS`` fields:
    the window, strategy and budgets are what its Redis budget and pacing were planned on.

    The game's row stays locked until the caller commits, as starting a game locks it, so a
    draft cannot be started between the status check and the change.
    """
    game = await found(session, Game, game_id, lock=True)
    changes = body.changes()
    frozen = set(changes) - GameUpdate.ANY_STATUS
    if game.status != DRAFT and frozen:
        raise Conflict(
            f"game {game_id} is {game.status}: {_camel(list(frozen))} can change only while it "
            "is a draft"
            + ("; a started game's budget grows with a top-up" if "budgets" in frozen else "")
        )
    if "campaign_id" in changes and await session.get(Campaign, body.campaign_id) is None:
        raise invalid(["body", "campaignId"], f"no campaign {body.campaign_id}")
    changes.pop("budgets", None)
    if body.budgets is not None:
        await _check_brands(session, body.budgets)
        await session.execute(delete(GameBrandBudget).where(GameBrandBudget.game_id == game_id))
        session.add_all(
            GameBrandBudget(
                game_id=game_id,
                brand_id=b.brand_id,
                total_coupons=b.coupons,
                remaining_coupons=b.coupons,
            )
            for b in body.budgets
        )
        changes["total_budget"] = sum(b.coupons for b in body.budgets)
    apply_window(game, changes)
    await session.flush()
    return await read_game(session, game)


def _camel(names: Sequence[str]) -> str:
    return ", ".join(to_camel(n) for n in sorted(names))


async def delete_game(session: AsyncSession, game_id: int, *, release_codes: bool) -> None:
    """Only a draft game nobody has played. Codes reserved for it are not deleted with it:
    the caller must ask for them to go back to their brand's shared codes."""
    game = await found(session, Game, game_id, lock=True)
    if game.status != DRAFT:
        raise Conflict(
            f"game {game_id} is {game.status}; only a draft game can be deleted (end it instead)"
        )
    if await game_has_plays(session, game_id):
        raise Conflict(f"game {game_id} has plays; they are its audit trail")
    reserved = await coupons.reserved_for(session, game_id)
    if reserved and not release_codes:
        raise Conflict(
            f"game {game_id} has {reserved} coupon code(s) reserved for it; delete it with "
            "releaseCodes=true to return them to their brands' shared codes"
        )
    if reserved:
        await coupons.release(session, game_id)
    await session.execute(delete(GameBrandBudget).where(GameBrandBudget.game_id == game_id))
    await session.delete(game)
    await session.flush()


async def read_game(
    session: AsyncSession,
    game: Game,
    *,
    budgets: list[GameBrandBudget] | None = None,
    available: dict[int, int] | None = None,
) -> GameRead:
    """The game as the admin API shows it: with its budgets, and per brand the unissued
    codes it may draw."""
    if budgets is None:
        budgets = await budgets_of(session, game.id)
    if available is None:
        brand_ids = [b.brand_id for b in budgets]
        available = (await coupons.available(session, [game.id], brand_ids))[game.id]
    return GameRead(
        id=game.id,
        campaign_id=game.campaign_id,
        name=game.name,
        start_time=game.start_time,
        end_time=game.end_time,
        probability_type=game.probability_type,
        status=game.status,
        total_budget=game.total_budget,
        slot_seconds=game.slot_seconds,
        odds=game.odds,
        moments_void=game.moments_void,
        max_plays_per_day=game.max_plays_per_day,
        cooldown_seconds=game.cooldown_seconds,
        budgets=[
            BudgetRead(
                brand_id=b.brand_id,
                coupons=b.total_coupons,
                remaining=b.remaining_coupons,
                available_codes=available.get(b.brand_id, 0),
            )
            for b in budgets
        ],
    )


async def read_games(session: AsyncSession, games: Sequence[Game]) -> list[GameRead]:
    """``read_game`` for many games, in three queries whatever their number."""
    ids = [g.id for g in games]
    budgets: dict[int, list[GameBrandBudget]] = {g: [] for g in ids}
    for budget in await session.scalars(
        select(GameBrandBudget)
        .where(GameBrandBudget.game_id.in_(ids))
        .order_by(GameBrandBudget.game_id, GameBrandBudget.brand_id)
    ):
        budgets[budget.game_id].append(budget)
    brand_ids = sorted({b.brand_id for rows in budgets.values() for b in rows})
    available = await coupons.available(session, ids, brand_ids)
    return [
        await read_game(session, game, budgets=budgets[game.id], available=available[game.id])
        for game in games
    ]
