"""Brands: create, list, read, change and delete them.

Each function works inside the caller's session and only flushes; the endpoint that opened
the transaction commits it (CONVENTIONS.md), after which its answer is sent.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from frolic.brands.schemas import BrandCreate, BrandRead, BrandUpdate
from frolic.db.models import Brand, Coupon, GameBrandBudget
from frolic.db.rows import found, page_of
from frolic.errors import Conflict
from frolic.schemas import Page


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
    belong to games.

    Both are read from their tables here rather than through the coupons and games
    domains, which depend on brands: a brand's deletion is the one question that looks
    the other way.
    """
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
