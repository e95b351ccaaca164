"""What the admin API does: campaigns, brands and games (list, read, change, delete), and
coupon code import.

Each function works inside the caller's session and only flushes; the endpoint that opened
the transaction commits it (CONVENTIONS.md), after which its answer is sent.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from pydantic.alias_generators import to_camel
from sqlalchemy import BigInteger, Select, bindparam, delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from frolic.admin.schemas import (
    BIGINT_MAX,
    BrandCreate,
    BrandRead,
    BrandUpdate,
    BudgetCreate,
    BudgetRead,
    CampaignCreate,
    CampaignRead,
    CampaignUpdate,
    CouponImport,
    Duplicates,
    GameCreate,
    GameRead,
    GameUpdate,
    Page,
    Rejection,
)
from frolic.db.models import Base, Brand, Campaign, Coupon, Game, GameBrandBudget
from frolic.errors import BadRequest, Conflict, NotFound, ValidationFailed
from frolic.plays.repository import game_has_plays

DRAFT = "draft"
REPORT_LIMIT = 100  # duplicates and rejections listed in an import's answer
CODE_MAX = 255  # coupons.code is VARCHAR(255)


def _invalid(loc: Sequence[str | int], msg: str) -> ValidationFailed:
    """A 422 shaped like FastAPI's own: ``[{"loc", "msg", "type"}]``."""
    return ValidationFailed([{"loc": list(loc), "msg": msg, "type": "not_found"}])


# Listing: keyset pages by id, so that a page deep into a long list costs what the first does.


class _HasId(Protocol):
    id: int


R = TypeVar("R", bound=_HasId)


async def page_of(
    session: AsyncSession, query: Select[R], key: InstrumentedAttribute[int],
    *, limit: int, after: int,
) -> tuple[list[R], int | None]:  # fmt: skip
    """Up to ``limit`` rows with ``key`` above ``after``, by ``key``; and the cursor of the
    next page (None on the last)."""
    rows = list(await session.scalars(query.where(key > after).order_by(key).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    del rows[limit:]
    return rows, rows[-1].id


M = TypeVar("M", bound=Base)


async def found(session: AsyncSession, model: type[M], ident: int, *, lock: bool = False) -> M:
    """The row with id ``ident``, or a 404 that names it ("no game 7")."""
    row = await session.get(model, ident, with_for_update=lock)
    if row is None:
        raise NotFound(f"no {model.__tablename__.removesuffix('s')} {ident}")
    return row


class _Timestamped(Protocol):
    start_time: datetime
    end_time: datetime
    updated_at: datetime | None


def _apply(row: _Timestamped, changes: dict[str, Any]) -> None:
    """Set the changed columns, once the window they leave behind is known to be sound."""
    start = changes.get("start_time", row.start_time)
    end = changes.get("end_time", row.end_time)
    if not end > start:
        raise _invalid(["body"], "endTime must be after startTime")
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_at = datetime.now(UTC)


def _camel(names: Sequence[str]) -> str:
    return ", ".join(to_camel(n) for n in sorted(names))


# Campaigns


def campaign_read(campaign: Campaign) -> CampaignRead:
    return CampaignRead(
        id=campaign.id,
        name=campaign.name,
        description=campaign.description,
        start_time=campaign.start_time,
        end_time=campaign.end_time,
        status=campaign.status,
    )


async def create_campaign(session: AsyncSession, body: CampaignCreate) -> CampaignRead:
    campaign = Campaign(
        name=body.name,
        description=body.description,
        start_time=body.start_time,
        end_time=body.end_time,
        status=DRAFT,
    )
    session.add(campaign)
    await session.flush()
    return campaign_read(campaign)


async def list_campaigns(
    session: AsyncSession, *, limit: int, after: int, status: str | None, name: str | None
) -> Page[CampaignRead]:
    query = select(Campaign)
    if status is not None:
        query = query.where(Campaign.status == status)
    if name is not None:
        query = query.where(Campaign.name.icontains(name, autoescape=True))
    rows, next_after = await page_of(session, query, Campaign.id, limit=limit, after=after)
    return Page[CampaignRead](items=[campaign_read(c) for c in rows], next_after=next_after)


async def get_campaign(session: AsyncSession, campaign_id: int) -> CampaignRead:
    return campaign_read(await found(session, Campaign, campaign_id))


async def update_campaign(
    session: AsyncSession, campaign_id: int, body: CampaignUpdate
) -> CampaignRead:
    """A campaign's dates are its marketing period; its games keep their own windows."""
    campaign = await found(session, Campaign, campaign_id, lock=True)
    _apply(campaign, body.changes())
    await session.flush()
    return campaign_read(campaign)


async def delete_campaign(session: AsyncSession, campaign_id: int) -> None:
    campaign = await found(session, Campaign, campaign_id, lock=True)
    games = await _count(session, select(Game.id).where(Game.campaign_id == campaign_id))
    if games:
        raise Conflict(
            f"campaign {campaign_id} has {games} game(s); delete them or move them to "
            "another campaign (PATCH /admin/games/{id} with campaignId) first"
        )
    await session.delete(campaign)
    await session.flush()


async def _count(session: AsyncSession, query: Select[Any]) -> int:
    return int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)


# Brands


def brand_read(brand: Brand) -> BrandRead:
    return BrandRead(id=brand.id, name=brand.name, logo_url=brand.logo_url)


async def create_brand(session: AsyncSession, body: BrandCreate) -> BrandRead:
    brand = Brand(name=body.name, logo_url=body.logo_url)
    session.add(brand)
    await session.flush()
    return brand_read(brand)


async def list_brands(
    session: AsyncSession, *, limit: int, after: int, name: str | None
) -> Page[BrandRead]:
    query = select(Brand)
    if name is not None:
        query = query.where(Brand.name.icontains(name, autoescape=True))
    rows, next_after = await page_of(session, query, Brand.id, limit=limit, after=after)
    return Page[BrandRead](items=[brand_read(b) for b in rows], next_after=next_after)


async def get_brand(session: AsyncSession, brand_id: int) -> BrandRead:
    return brand_read(await found(session, Brand, brand_id))


async def update_brand(session: AsyncSession, brand_id: int, body: BrandUpdate) -> BrandRead:
    brand = await found(session, Brand, brand_id, lock=True)
    for name, value in body.changes().items():
        setattr(brand, name, value)
    brand.updated_at = datetime.now(UTC)
    await session.flush()
    return brand_read(brand)


async def delete_brand(session: AsyncSession, brand_id: int) -> None:
    """Only a brand nothing refers to: its codes are prizes someone may hold, its budgets
    belong to games."""
    brand = await found(session, Brand, brand_id, lock=True)
    games = list(
        await session.scalars(
            select(GameBrandBudget.game_id)
            .where(GameBrandBudget.brand_id == brand_id)
            .order_by(GameBrandBudget.game_id)
        )
    )
    has_codes = await session.scalar(select(Coupon.id).where(Coupon.brand_id == brand_id).limit(1))
    reasons = []
    if has_codes is not None:
        reasons.append("it has coupon codes")
    if games:
        shown = ", ".join(map(str, games[:10])) + (", ..." if len(games) > 10 else "")
        reasons.append(f"games have budgets of it (game {shown})")
    if reasons:
        raise Conflict(f"brand {brand_id} cannot be deleted: {'; '.join(reasons)}")
    await session.delete(brand)
    await session.flush()


# Games


async def create_game(session: AsyncSession, body: GameCreate) -> GameRead:
    """A draft game and one budget row per brand (remaining = total = its coupons).

    The game need not lie inside its campaign's window: a campaign's dates are its
    marketing period, and a game may run a little before or after it.
    """
    if await session.get(Campaign, body.campaign_id) is None:
        raise _invalid(["body", "campaignId"], f"no campaign {body.campaign_id}")
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
    known = set((await session.scalars(select(Brand.id).where(Brand.id.in_(wanted)))).all())
    for i, brand_id in enumerate(wanted):
        if brand_id not in known:
            raise _invalid(["body", "budgets", i, "brandId"], f"no brand {brand_id}")


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
        raise _invalid(["body", "campaignId"], f"no campaign {body.campaign_id}")
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
    _apply(game, changes)
    await session.flush()
    return await read_game(session, game)


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
    reserved = await _count(session, select(Coupon.id).where(Coupon.game_id == game_id))
    if reserved and not release_codes:
        raise Conflict(
            f"game {game_id} has {reserved} coupon code(s) reserved for it; delete it with "
            "releaseCodes=true to return them to their brands' shared codes"
        )
    if reserved:
        await session.execute(update(Coupon).where(Coupon.game_id == game_id).values(game_id=None))
    await session.execute(delete(GameBrandBudget).where(GameBrandBudget.game_id == game_id))
    await session.delete(game)
    await session.flush()


async def budgets_of(session: AsyncSession, game_id: int) -> list[GameBrandBudget]:
    rows = await session.scalars(
        select(GameBrandBudget)
        .where(GameBrandBudget.game_id == game_id)
        .order_by(GameBrandBudget.brand_id)
    )
    return list(rows.all())


async def available_codes(
    session: AsyncSession, game_id: int, brands: Sequence[int]
) -> dict[int, int]:
    """Unissued codes per brand that the game may draw: shared ones and its reserved ones."""
    if not brands:
        return {}
    rows = await session.execute(
        select(Coupon.brand_id, func.count())
        .where(
            Coupon.brand_id.in_(brands),
            or_(Coupon.game_id.is_(None), Coupon.game_id == game_id),
            Coupon.issued_at.is_(None),
        )
        .group_by(Coupon.brand_id)
    )
    return {brand: count for brand, count in rows}


async def brand_names(session: AsyncSession, brands: Sequence[int]) -> dict[int, str]:
    rows = await session.execute(select(Brand.id, Brand.name).where(Brand.id.in_(brands)))
    return {brand: name for brand, name in rows}


async def read_game(
    session: AsyncSession,
    game: Game,
    *,
    budgets: list[GameBrandBudget] | None = None,
    available: dict[int, int] | None = None,
) -> GameRead:
    if budgets is None:
        budgets = await budgets_of(session, game.id)
    if available is None:
        available = await available_codes(session, game.id, [b.brand_id for b in budgets])
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
    brands = sorted({b.brand_id for rows in budgets.values() for b in rows})
    shared: dict[int, int] = {}
    reserved: dict[tuple[int, int], int] = {}
    if brands:
        counts = await session.execute(
            select(Coupon.brand_id, Coupon.game_id, func.count())
            .where(
                Coupon.brand_id.in_(brands),
                or_(Coupon.game_id.is_(None), Coupon.game_id.in_(ids)),
                Coupon.issued_at.is_(None),
            )
            .group_by(Coupon.brand_id, Coupon.game_id)
        )
        for brand, game_id, count in counts:
            if game_id is None:
                shared[brand] = count
            else:
                reserved[(brand, game_id)] = count
    return [
        await read_game(
            session,
            game,
            budgets=budgets[game.id],
            available={
                b.brand_id: shared.get(b.brand_id, 0) + reserved.get((b.brand_id, game.id), 0)
                for b in budgets[game.id]
            },
        )
        for game in games
    ]


# Coupon codes

_BRAND_ID = re.compile(r"[0-9]{1,19}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
HEADER = ["brand_id", "code"]


@dataclass
class ParsedCodes:
    """The rows of a codes file that are well formed, and why the others are not."""

    rows: list[tuple[int, int, str]] = field(default_factory=list)  # (line, brand_id, code)
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)


def decode_csv(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise BadRequest(f"the file is not UTF-8 text (bad byte at offset {e.start})") from None


def parse_codes(text: str) -> ParsedCodes:
    """Rows of ``brand_id,code`` after the header; a bad row is rejected with its line
    number (1-based, the header's line is 1) and does not stop the rest.

    Blank lines are skipped; cells are stripped of surrounding blanks. A file that has no
    ``brand_id,code`` header is refused whole (``BadRequest``): it is not a codes file.
    """
    parsed = ParsedCodes()
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
    header_seen = False
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            if not header_seen:
                raise BadRequest(f"line {line} is not CSV: {e}") from None
            parsed.rejected.append((line, f"not CSV: {e}"))
            continue
        if not any(cell.strip() for cell in row):
            continue
        if not header_seen:
            if [cell.strip().lower() for cell in row] != HEADER:
                raise BadRequest(
                    f"the first line must be the header brand_id,code; it is {_excerpt(row)}"
                )
            header_seen = True
            continue
        reason = _row_fault(row)
        if reason is None:
            parsed.rows.append((line, int(row[0].strip()), row[1].strip()))
        else:
            parsed.rejected.append((line, reason))
    if not header_seen:
        raise BadRequest("the file is empty; it must start with the header brand_id,code")
    return parsed


def _row_fault(row: list[str]) -> str | None:
    if len(row) != 2:
        return f"expected 2 fields (brand_id,code), found {len(row)}"
    brand, code = row[0].strip(), row[1].strip()
    if not _BRAND_ID.fullmatch(brand) or not 0 < int(brand) <= BIGINT_MAX:
        return f"brand_id {_excerpt([brand])} is not a brand id (a positive integer)"
    if not code:
        return "the code is empty"
    if len(code) > CODE_MAX:
        return f"the code is longer than {CODE_MAX} characters"
    if _CONTROL.search(code):
        return "the code holds a control character (a line break: an unclosed quote?)"
    return None


def _excerpt(cells: list[str]) -> str:
    shown = ",".join(cells)
    return repr(shown if len(shown) <= 40 else shown[:40] + "...")


_IMPORT = text(
    """
    WITH inserted AS (
        INSERT INTO coupons (brand_id, code, game_id)
        SELECT brand_id, code, CAST(:game_id AS BIGINT) FROM coupon_import
        ORDER BY code COLLATE "C"
        ON CONFLICT (code) DO NOTHING
        RETURNING code
    ), existing AS (
        SELECT i.line, i.code FROM coupon_import i
        WHERE NOT EXISTS (SELECT 1 FROM inserted x WHERE x.code = i.code)
    )
    SELECT (SELECT count(*) FROM inserted),
           ARRAY(SELECT line FROM existing ORDER BY line LIMIT :limit),
           ARRAY(SELECT code FROM existing ORDER BY line LIMIT :limit)
    """
)


async def import_coupons(session: AsyncSession, body: bytes, game_id: int | None) -> CouponImport:
    """Store the codes of a ``brand_id,code`` file; with ``game_id``, reserve them for it.

    Codes go to a temporary table by COPY and from there to ``coupons`` in one INSERT. A
    code already stored, or seen earlier in the file, is a duplicate: counted and listed,
    not an error. The INSERT takes codes in one fixed order (sorted), so that concurrent
    imports of overlapping files wait on each other instead of deadlocking.

    Parsing a million rows takes a couple of seconds of CPU: it runs in a thread, so that
    the plays this process serves meanwhile are not held up behind it.
    """
    if game_id is not None and await session.get(Game, game_id) is None:
        raise _invalid(["query", "gameId"], f"no game {game_id}")
    parsed = await asyncio.to_thread(lambda: parse_codes(decode_csv(body)))
    known = await _known_brands(session, {brand for _, brand, _ in parsed.rows})
    sorted_out = await asyncio.to_thread(_sort_out, parsed, known)
    imported, existing = await _insert(session, sorted_out.unique, game_id)
    in_file = sorted_out.in_file
    listed = sorted([*in_file[:REPORT_LIMIT], *existing])[:REPORT_LIMIT]
    rejected = sorted_out.rejected
    return CouponImport(
        imported=imported,
        duplicates=Duplicates(
            count=len(in_file) + len(sorted_out.unique) - imported,
            in_file=len(in_file),
            existing=len(sorted_out.unique) - imported,
            codes=[code for _, code in listed],
        ),
        rejected_count=len(rejected),
        rejected=[Rejection(line=line, reason=why) for line, why in rejected[:REPORT_LIMIT]],
    )


@dataclass
class _SortedOut:
    unique: list[tuple[int, int, str]]  # (line, brand_id, code), each code once
    in_file: list[tuple[int, str]]  # (line, code) of codes seen earlier in the file
    rejected: list[tuple[int, str]]  # (line, reason), by line


def _sort_out(parsed: ParsedCodes, known: set[int]) -> _SortedOut:
    out = _SortedOut([], [], list(parsed.rejected))
    seen: set[str] = set()
    for line, brand, code in parsed.rows:
        if brand not in known:
            out.rejected.append((line, f"no brand {brand}"))
        elif code in seen:
            out.in_file.append((line, code))
        else:
            seen.add(code)
            out.unique.append((line, brand, code))
    out.rejected.sort()
    return out


async def _known_brands(session: AsyncSession, brands: set[int]) -> set[int]:
    if not brands:
        return set()
    query = text("SELECT id FROM brands WHERE id = ANY(:ids)").bindparams(
        bindparam("ids", type_=ARRAY(BigInteger))
    )
    return set((await session.scalars(query, {"ids": sorted(brands)})).all())


async def _insert(
    session: AsyncSession, records: list[tuple[int, int, str]], game_id: int | None
) -> tuple[int, list[tuple[int, str]]]:
    """Insert new codes; how many were, and the first duplicates of stored ones (line, code)."""
    if not records:
        return 0, []
    conn = await session.connection()
    await conn.execute(
        text(
            "CREATE TEMP TABLE coupon_import (line integer, brand_id bigint, code text) "
            "ON COMMIT DROP"
        )
    )
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    await driver.copy_records_to_table(
        "coupon_import", records=records, columns=["line", "brand_id", "code"]
    )
    result = await conn.execute(_IMPORT, {"game_id": game_id, "limit": REPORT_LIMIT})
    imported, lines, codes = result.one()
    return int(imported), list(zip(lines, codes, strict=True))
