"""What importing, validating and redeeming coupon codes take and answer (camelCase JSON)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from frolic.schemas import Schema

CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _printable(code: str) -> str:
    """An import never stores a code with a control character, so no such code exists."""
    if CONTROL.search(code):
        raise ValueError("a coupon code holds no control characters")
    return code


Code = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
    AfterValidator(_printable),
]


class Redeem(Schema):
    code: Code


class CouponState(Schema):
    code: str
    brand_id: int
    game_id: int | None = Field(
        description="The game that issued the code, or that it is reserved for; null for a "
        "brand's shared code not yet issued."
    )
    status: Literal["unissued", "issued", "used"] = Field(
        description="unissued: nobody won it yet; issued: won, not yet used; used: redeemed."
    )
    issued_at: datetime | None
    play_id: str | None = Field(description="The play that won it.")
    user_external_id: str | None = Field(description="The player who won it.")
    is_used: bool
    used_at: datetime | None


class Duplicates(Schema):
    count: int = Field(
        description="Rows whose code was already known: earlier in the file or stored before."
    )
    in_file: int
    existing: int
    codes: list[str] = Field(description="The first 100 duplicate codes, in file order.")


class Rejection(Schema):
    line: int = Field(description="1-based line of the file; the header is line 1.")
    reason: str


class CouponImport(Schema):
    imported: int
    duplicates: Duplicates
    rejected_count: int
    rejected: list[Rejection] = Field(description="The first 100 rejected rows, by line.")
