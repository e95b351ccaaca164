"""``/admin/coupons``: validate and redeem a code; export the codes a game or brand issued.
Admin token only.

A code travels in the query or the body, never in the path: codes are free text, and a
``/`` or ``?`` in one would change the route.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import ValidationError
from sqlalchemy import Select, select

from frolic.admin.auth import require_admin
from frolic.admin.endpoints import (
    AUTH_RESPONSES,
    BRAND_RESPONSES,
    GAME_RESPONSES,
    BrandId,
    GameId,
    Res,
    transaction,
)
from frolic.coupons import service
from frolic.coupons.schemas import CouponState, Redeem
from frolic.db.models import Brand, Game
from frolic.errors import NotFound, ValidationFailed
from frolic.resources import Resources

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])

CODE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    404: {"description": "no such code"},
}
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "CSV with the header " + ",".join(service.EXPORT_COLUMNS),
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


@router.get("/coupons/validate", responses=CODE_RESPONSES)
async def validate(
    res: Res, code: Annotated[str, Query(min_length=1, max_length=300)]
) -> CouponState:
    """Whether a code exists, whether it was won (by which play and player, in which game),
    and whether it was used. Changes nothing."""
    checked = _code(code)
    async with transaction(res) as session:
        return await service.validate(session, checked)


@router.post(
    "/coupons/redeem",
    responses={
        **CODE_RESPONSES,
        409: {"description": "the code was used already (and when), or nobody has won it"},
    },
)
async def redeem(body: Redeem, res: Res) -> CouponState:
    """Use a code that a player won: ``isUsed`` becomes true and ``usedAt`` now. A code can
    be used once."""
    async with transaction(res) as session:
        return await service.redeem(session, body.code)


@router.get(
    "/games/{game_id}/coupons.csv",
    response_class=StreamingResponse,
    responses={**GAME_RESPONSES, **CSV_RESPONSE},
)
async def export_game_codes(game_id: GameId, res: Res) -> StreamingResponse:
    """Every code the game has issued, in the order it issued them."""
    async with transaction(res) as session:
        if await session.scalar(select(Game.id).where(Game.id == game_id)) is None:
            raise NotFound(f"no game {game_id}")
    return _csv(res, f"game-{game_id}-coupons.csv", service.export_query(game_id=game_id))


@router.get(
    "/brands/{brand_id}/coupons.csv",
    response_class=StreamingResponse,
    responses={**BRAND_RESPONSES, **CSV_RESPONSE},
)
async def export_brand_codes(brand_id: BrandId, res: Res) -> StreamingResponse:
    """Every code of the brand that a game has issued, in the order they were issued."""
    async with transaction(res) as session:
        if await session.scalar(select(Brand.id).where(Brand.id == brand_id)) is None:
            raise NotFound(f"no brand {brand_id}")
    return _csv(res, f"brand-{brand_id}-coupons.csv", service.export_query(brand_id=brand_id))


def _csv(res: Resources, filename: str, query: Select[Any]) -> StreamingResponse:
    return StreamingResponse(
        service.export_csv(res.db, query),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _code(raw: str) -> str:
    """The query's code checked as a body's would be, with the same 422."""
    try:
        return Redeem(code=raw).code
    except ValidationError as e:
        raise ValidationFailed(
            [
                {"loc": ["query", "code"], "msg": err["msg"], "type": err["type"]}
                for err in e.errors()
            ]
        ) from None
