"""``/admin``: campaigns, brands and games (DESIGN.md §7), and coupon code import. Admin
token only.

Each endpoint opens one transaction, lets the service work in it, and commits before it
answers: a 2xx means the change is stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from frolic.admin import service
from frolic.admin.auth import require_admin
from frolic.admin.schemas import (
    BIGINT_MAX,
    BrandCreate,
    BrandRead,
    BrandUpdate,
    CampaignCreate,
    CampaignRead,
    CampaignUpdate,
    CouponImport,
    GameCreate,
    GameRead,
    GameUpdate,
    Page,
    Storable,
)
from frolic.errors import BadRequest, Conflict, PayloadTooLarge
from frolic.resources import Resources
from frolic.web import resources

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])

Res = Annotated[Resources, Depends(resources)]
GameId = Annotated[int, Path(ge=1, le=BIGINT_MAX)]
CampaignId = Annotated[int, Path(ge=1, le=BIGINT_MAX)]
BrandId = Annotated[int, Path(ge=1, le=BIGINT_MAX)]
Limit = Annotated[int, Query(ge=1, le=500, description="Items per page.")]
After = Annotated[
    int, Query(ge=0, le=BIGINT_MAX, description="The nextAfter of the previous page.")
]
NameFilter = Annotated[
    Storable | None,
    Query(min_length=1, max_length=255, description="Part of the name, any case."),
]
StatusFilter = Annotated[Storable | None, Query(min_length=1, max_length=50)]

IMPORT_PATH = "/admin/coupons/import"
MAX_IMPORT_BYTES = 256 * 1024 * 1024  # some 8M codes; split bigger files
CSV_TYPES = {"text/csv", "application/csv"}

AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or wrong admin token"},
    403: {"description": "a player's token"},
    422: {"description": "the body or a parameter is not valid"},
}
GAME_RESPONSES: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    404: {"description": "no such game"},
}
CAMPAIGN_RESPONSES: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    404: {"description": "no such campaign"},
}
BRAND_RESPONSES: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    404: {"description": "no such brand"},
}


@asynccontextmanager
async def transaction(res: Resources) -> AsyncIterator[AsyncSession]:
    """One session and transaction: committed when the block ends, rolled back on error.

    Validation catches bad input before the database does; should the database still refuse
    a change (a row that vanished under us), the client gets a 4xx and not a 500.
    """
    try:
        async with AsyncSession(res.db, expire_on_commit=False) as session, session.begin():
            yield session
    except IntegrityError as e:
        raise Conflict(f"the change conflicts with stored data ({_constraint(e)})") from None
    except DataError:
        raise BadRequest("a value is out of range for the database") from None


def _constraint(e: IntegrityError) -> str:
    name = getattr(getattr(e.orig, "__cause__", None), "constraint_name", None)
    return f"constraint {name}" if name else "integrity"


# Campaigns


@router.post("/campaigns", status_code=201, responses=AUTH_RESPONSES)
async def create_campaign(body: CampaignCreate, res: Res) -> CampaignRead:
    """A campaign, in status ``draft``."""
    async with transaction(res) as session:
        return await service.create_campaign(session, body)


@router.get("/campaigns", responses=AUTH_RESPONSES)
async def list_campaigns(
    res: Res, status: StatusFilter = None, name: NameFilter = None, limit: Limit = 50,
    after: After = 0,
) -> Page[CampaignRead]:  # fmt: skip
    """Campaigns by id, a page at a time."""
    async with transaction(res) as session:
        return await service.list_campaigns(
            session, limit=limit, after=after, status=status, name=name
        )


@router.get("/campaigns/{campaign_id}", responses=CAMPAIGN_RESPONSES)
async def get_campaign(campaign_id: CampaignId, res: Res) -> CampaignRead:
    async with transaction(res) as session:
        return await service.get_campaign(session, campaign_id)


@router.patch("/campaigns/{campaign_id}", responses=CAMPAIGN_RESPONSES)
async def update_campaign(campaign_id: CampaignId, body: CampaignUpdate, res: Res) -> CampaignRead:
    """Change the fields sent; ``description: null`` clears it."""
    async with transaction(res) as session:
        return await service.update_campaign(session, campaign_id, body)


@router.delete(
    "/campaigns/{campaign_id}",
    status_code=204,
    responses={**CAMPAIGN_RESPONSES, 409: {"description": "the campaign has games"}},
)
async def delete_campaign(campaign_id: CampaignId, res: Res) -> Response:
    async with transaction(res) as session:
        await service.delete_campaign(session, campaign_id)
    return Response(status_code=204)


# Brands


@router.post("/brands", status_code=201, responses=AUTH_RESPONSES)
async def create_brand(body: BrandCreate, res: Res) -> BrandRead:
    async with transaction(res) as session:
        return await service.create_brand(session, body)


@router.get("/brands", responses=AUTH_RESPONSES)
async def list_brands(
    res: Res, name: NameFilter = None, limit: Limit = 50, after: After = 0
) -> Page[BrandRead]:
    """Brands by id, a page at a time."""
    async with transaction(res) as session:
        return await service.list_brands(session, limit=limit, after=after, name=name)


@router.get("/brands/{brand_id}", responses=BRAND_RESPONSES)
async def get_brand(brand_id: BrandId, res: Res) -> BrandRead:
    async with transaction(res) as session:
        return await service.get_brand(session, brand_id)


@router.patch("/brands/{brand_id}", responses=BRAND_RESPONSES)
async def update_brand(brand_id: BrandId, body: BrandUpdate, res: Res) -> BrandRead:
    """Change the fields sent; ``logoUrl: null`` clears it."""
    async with transaction(res) as session:
        return await service.update_brand(session, brand_id, body)


@router.delete(
    "/brands/{brand_id}",
    status_code=204,
    responses={**BRAND_RESPONSES, 409: {"description": "the brand has codes or budgets"}},
)
async def delete_brand(brand_id: BrandId, res: Res) -> Response:
    async with transaction(res) as session:
        await service.delete_brand(session, brand_id)
    return Response(status_code=204)


# Games


@router.post("/games", status_code=201, responses=AUTH_RESPONSES)
async def create_game(body: GameCreate, res: Res) -> GameRead:
    """A draft game with one budget per brand; its total budget is their sum."""
    async with transaction(res) as session:
        return await service.create_game(session, body)


@router.get("/games", responses=AUTH_RESPONSES)
async def list_games(
    res: Res,
    status: StatusFilter = None,
    campaign_id: Annotated[int | None, Query(alias="campaignId", ge=1, le=BIGINT_MAX)] = None,
    name: NameFilter = None,
    limit: Limit = 50,
    after: After = 0,
) -> Page[GameRead]:
    """Games by id, a page at a time, each as ``GET /admin/games/{id}`` shows it."""
    async with transaction(res) as session:
        return await service.list_games(
            session, limit=limit, after=after, status=status, campaign_id=campaign_id, name=name
        )


@router.get("/games/{game_id}", responses=GAME_RESPONSES)
async def get_game(game_id: GameId, res: Res) -> GameRead:
    """The game, its budgets, and per brand the unissued codes it may draw."""
    async with transaction(res) as session:
        return await service.get_game(session, game_id)


@router.patch(
    "/games/{game_id}",
    responses={
        **GAME_RESPONSES,
        409: {"description": "a field that only a draft game may change"},
    },
)
async def update_game(game_id: GameId, body: GameUpdate, res: Res) -> GameRead:
    """Change the fields sent. A draft takes any of them, ``budgets`` replacing all its
    budgets; a game that has started takes only its name, campaign and player limits."""
    async with transaction(res) as session:
        return await service.update_game(session, game_id, body)


@router.delete(
    "/games/{game_id}",
    status_code=204,
    responses={
        **GAME_RESPONSES,
        409: {"description": "not a draft, has plays, or has codes reserved for it"},
    },
)
async def delete_game(
    game_id: GameId,
    res: Res,
    release_codes: Annotated[
        bool,
        Query(
            alias="releaseCodes",
            description="Return the codes reserved for the game to their brands' shared codes.",
        ),
    ] = False,
) -> Response:
    """Delete a draft game that nobody has played, with its budgets."""
    async with transaction(res) as session:
        await service.delete_game(session, game_id, release_codes=release_codes)
    return Response(status_code=204)


# Coupon codes


@router.post(
    IMPORT_PATH.removeprefix(router.prefix),
    responses={**AUTH_RESPONSES, 400: {"description": "not a brand_id,code CSV file"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": "brand_id,code\n1,SPRING-0001\n1,SPRING-0002\n",
                }
            },
        }
    },
)
async def import_coupons(
    request: Request,
    res: Res,
    game_id: Annotated[
        int | None,
        Query(alias="gameId", ge=1, le=BIGINT_MAX, description="Reserve the codes for a game."),
    ] = None,
) -> CouponImport:
    """Import coupon codes from a ``text/csv`` body with the header ``brand_id,code``.

    Rows that are malformed or name an unknown brand are rejected by line number; codes
    already stored or repeated in the file are counted as duplicates. The rest are stored.
    """
    body = await _csv_body(request)
    async with transaction(res) as session:
        return await service.import_coupons(session, body, game_id)


async def _csv_body(request: Request) -> bytes:
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type not in CSV_TYPES:
        raise BadRequest(
            f"send the codes as a CSV file (Content-Type: text/csv), not {media_type or 'none'}"
        )
    too_big = PayloadTooLarge(f"the file is larger than {MAX_IMPORT_BYTES // 2**20} MiB; split it")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_IMPORT_BYTES:
        raise too_big
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_IMPORT_BYTES:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)
