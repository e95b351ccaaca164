"""The admin API's bodies, in the camelCase JSON of DESIGN.md §7.

Everything a client sends is checked here, so that nothing reaches PostgreSQL that it
would refuse with an error of its own (a 500 to the client): ids fit a BIGINT, counts an
INTEGER, texts hold no NUL and encode as UTF-8, and times carry a zone.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic.alias_generators import to_camel

from frolic.engine.rules import StrategyName

BIGINT_MAX = 2**63 - 1
INTEGER_MAX = 2**31 - 1


def _storable(text: str) -> str:
    if "\x00" in text:
        raise ValueError("must not contain a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return text


def _utc(moment: datetime) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range") from None


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
    AfterValidator(_storable),
]
LongText = Annotated[str, Field(max_length=10_000), AfterValidator(_storable)]
Id = Annotated[int, Field(ge=1, le=BIGINT_MAX)]
Moment = Annotated[AwareDatetime, AfterValidator(_utc)]


class Schema(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are refused, so a typo
    ("campaign_Id") is a 422 and not a silently dropped setting."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="forbid",
    )


class _Window(Schema):
    start_time: Moment
    end_time: Moment

    @model_validator(mode="after")
    def _ends_after_start(self) -> Self:
        if not self.end_time > self.start_time:
            raise ValueError("endTime must be after startTime")
        return self


# Campaigns


class CampaignCreate(_Window):
    name: Name
    description: LongText | None = None


class CampaignRead(Schema):
    id: int
    name: str
    description: str | None
    start_time: datetime
    end_time: datetime
    status: str = Field(description="draft when created.")


# Brands


class BrandCreate(Schema):
    name: Name
    logo_url: LongText | None = None


class BrandRead(Schema):
    id: int
    name: str
    logo_url: str | None


# Games


class BudgetCreate(Schema):
    brand_id: Id
    coupons: Annotated[int, Field(ge=0, le=INTEGER_MAX)]


class GameCreate(_Window):
    name: Name
    campaign_id: Id
    probability_type: StrategyName = "paced"
    budgets: Annotated[list[BudgetCreate], Field(min_length=1, max_length=1000)]
    slot_seconds: Annotated[int, Field(ge=1, le=5)] = 5
    odds: Annotated[int, Field(ge=1, le=INTEGER_MAX)] = 100
    moments_void: bool = False
    max_plays_per_day: Annotated[int, Field(ge=1, le=INTEGER_MAX)] | None = None
    cooldown_seconds: Annotated[int, Field(ge=0, le=INTEGER_MAX)] = 0

    @model_validator(mode="after")
    def _one_budget_per_brand(self) -> Self:
        counts = Counter(b.brand_id for b in self.budgets)
        twice = sorted(brand for brand, n in counts.items() if n > 1)
        if twice:
            raise ValueError(f"each brand may have one budget; repeated brandId: {twice}")
        if sum(b.coupons for b in self.budgets) > INTEGER_MAX:
            raise ValueError(f"the budgets add up to more than {INTEGER_MAX} coupons")
        return self

    @property
    def total_budget(self) -> int:
        return sum(b.coupons for b in self.budgets)


class BudgetRead(Schema):
    brand_id: int
    coupons: int = Field(description="The brand's budget: coupons the game may award.")
    remaining: int = Field(description="Coupons of the budget not yet awarded.")
    available_codes: int = Field(
        description="Unissued codes of the brand this game may draw from: the brand's "
        "shared codes and those reserved for this game."
    )


class GameRead(Schema):
    id: int
    campaign_id: int
    name: str
    start_time: datetime
    end_time: datetime
    probability_type: str
    status: str = Field(description="draft, then live once started.")
    total_budget: int
    slot_seconds: int
    odds: int
    moments_void: bool
    max_plays_per_day: int | None
    cooldown_seconds: int
    budgets: list[BudgetRead]


# Coupon codes


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
