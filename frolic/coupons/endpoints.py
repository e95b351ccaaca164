"""``/admin/coupons``: import codes from CSV, validate and redeem a code; export the codes
a game or brand issued.

A code travels in the query or the body, never in the path: codes are free text, and a
``/`` or ``?`` in one would change the route.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import ValidationError
from sqlalchemy import Select

from frolic.coupons import service
from frolic.coupons.schemas import CouponImport, CouponState, Redeem
from frolic.db.models import Brand, Game
from frolic.db.rows import found
from frolic.errors import BadRequest, PayloadTooLarge, ValidationFailed
from frolic.resources import Resources
from frolic.schemas import BIGINT_MAX
from frolic.web import AUTH_RESPONSES, PathId, Res, responses_of, transaction

router = APIRouter(prefix="/admin", tags=["admin"])

IMPORT_PATH = "/admin/coupons/import"
MAX_IMPORT_BYTES = 256 * 1024 * 1024  # some 8M codes; split bigger files
CSV_TYPES = {"text/csv", "application/csv"}

CODE_RESPONSES = responses_of("code")
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "CSV with the header " + ",".join(service.EXPORT_COLUMNS),
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


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
    responses={**responses_of("game"), **CSV_RESPONSE},
)
async def export_game_codes(game_id: PathId, res: Res) -> StreamingResponse:
    """Every code the game has issued, in the order it issued them."""
    async with transaction(res) as session:
        await found(session, Game, game_id)
    return _csv(res, f"game-{game_id}-coupons.csv", service.export_query(game_id=game_id))


@router.get(
    "/brands/{brand_id}/coupons.csv",
    response_class=StreamingResponse,
    responses={**responses_of("brand"), **CSV_RESPONSE},
)
async def export_brand_codes(brand_id: PathId, res: Res) -> StreamingResponse:
    """Every code of the brand that a game has issued, in the order they were issued."""
    async with transaction(res) as session:
        await found(session, Brand, brand_id)
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
