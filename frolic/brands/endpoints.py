"""``/admin/brands`` (DESIGN.md §7)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from frolic.brands import service
from frolic.brands.schemas import BrandCreate, BrandRead, BrandUpdate
from frolic.schemas import Page
from frolic.web import (
    AUTH_RESPONSES,
    After,
    Limit,
    NameFilter,
    PathId,
    Res,
    responses_of,
    transaction,
)

router = APIRouter(prefix="/admin", tags=["admin"])

BRAND_RESPONSES = responses_of("brand")


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
async def get_brand(brand_id: PathId, res: Res) -> BrandRead:
    async with transaction(res) as session:
        return await service.get_brand(session, brand_id)


@router.patch("/brands/{brand_id}", responses=BRAND_RESPONSES)
async def update_brand(brand_id: PathId, body: BrandUpdate, res: Res) -> BrandRead:
    """Change the fields sent; ``logoUrl: null`` clears it."""
    async with transaction(res) as session:
        return await service.update_brand(session, brand_id, body)


@router.delete(
    "/brands/{brand_id}",
    status_code=204,
    responses={**BRAND_RESPONSES, 409: {"description": "the brand has codes or budgets"}},
)
async def delete_brand(brand_id: PathId, res: Res) -> Response:
    async with transaction(res) as session:
        await service.delete_brand(session, brand_id)
    return Response(status_code=204)
