"""What other domains ask of brands: which exist, and what they are called."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import BigInteger, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from frolic.db.models import Brand

# One array parameter however many ids: a codes file may name thousands of brands.
_KNOWN = text("SELECT id FROM brands WHERE id = ANY(:ids)").bindparams(
    bindparam("ids", type_=ARRAY(BigInteger))
)


async def known(session: AsyncSession, brands: Collection[int]) -> set[int]:
    """The ids of ``brands`` that are brands."""
    if not brands:
        return set()
    return set((await session.scalars(_KNOWN, {"ids": sorted(set(brands))})).all())


async def names(session: AsyncSession, brands: Collection[int]) -> dict[int, str]:
    rows = await session.execute(select(Brand.id, Brand.name).where(Brand.id.in_(brands)))
    return {brand: name for brand, name in rows}
