"""The admin API's bodies, in the camelCase JSON of DESIGN.md §7.

Everything a client sends is checked here, so that nothing reaches PostgreSQL that it
would refuse with an error of its own (a 500 to the client): ids fit a BIGINT, counts an
INTEGER, texts hold no NUL and encode as UTF-8, and times carry a zone.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Annotated, ClassVar, Generic, Self, TypeVar

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


# PostgreSQL's driver stores 0001-01-01T00:00Z as -infinity and the last microsecond of
# 9999 as infinity, and reads them back without a time zone: keep moments well inside.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


def _utc(moment: datetime) -> datetime:
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range") from None
    if not EARLIEST <= moment < LATEST:
        raise ValueError(f"must be from {EARLIEST.year} to before {LATEST.year}")
    return moment


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
    AfterValidator(_storable),
]
Storable = Annotated[str, AfterValidator(_storable)]
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


class Patch(Schema):
    """A partial update: fields left out keep their value. ``null`` is accepted only by the
    fields listed in ``nullable`` (it clears them); elsewhere it is a 422, not a silent no-op.
    """

    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _null_only_where_allowed(self) -> Self:
        cleared = sorted(
            to_camel(name)
            for name in self.model_fields_set - self.nullable
            if getattr(self, name) is None
        )
        if cleared:
            raise ValueError(f"cannot be null: {', '.join(cleared)}")
        return self

    def changes(self) -> dict[str, object]:
        """The fields the client sent, by their Python (column) names."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class WindowPatch(Patch):
    start_time: Moment | None = None
    end_time: Moment | None = None

    @model_validator(mode="after")
    def _ends_after_start(self) -> Self:
        if self.start_time and self.end_time and not self.end_time > self.start_time:
            raise ValueError("endTime must be after startTime")
        return self


T = TypeVar("T")


class Page(Schema, Generic[T]):
    items: list[T]
    next_after: int | None = Field(
        description="Pass as ``after`` for the next page; null on the last page."
    )


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


class CampaignUpdate(WindowPatch):
    nullable = frozenset({"description"})

    name: Name | None = None
    description: LongText | None = None


# Brands


class BrandCreate(Schema):
    name: Name
    logo_url: LongText | None = None


class BrandRead(Schema):
    id: int
    name: str
    logo_url: str | None


class BrandUpdate(Patch):
    nullable = frozenset({"logo_url"})

    name: Name | None = None
    logo_url: LongText | None = None


# Games


class BudgetCreate(Schema):
    brand_id: Id
    coupons: Annotated[int, Field(ge=0, le=INTEGER_MAX)]


Budgets = Annotated[list[BudgetCreate], Field(min_length=1, max_length=1000)]
SlotSeconds = Annotated[int, Field(ge=1, le=5)]
Odds = Annotated[int, Field(ge=1, le=INTEGER_MAX)]
MaxPlaysPerDay = Annotated[int, Field(ge=1, le=INTEGER_MAX)]
CooldownSeconds = Annotated[int, Field(ge=0, le=INTEGER_MAX)]


def check_budgets(budgets: list[BudgetCreate]) -> None:
    counts = Counter(b.brand_id for b in budgets)
    twice = sorted(brand for brand, n in counts.items() if n > 1)
    if twice:
        raise ValueError(f"each brand may have one budget; repeated brandId: {twice}")
    if sum(b.coupons for b in budgets) > INTEGER_MAX:
        raise ValueError(f"the budgets add up to more than {INTEGER_MAX} coupons")


class GameCreate(_Window):
    name: Name
    campaign_id: Id
    probability_type: StrategyName = "paced"
    budgets: Budgets
    slot_seconds: SlotSeconds = 5
    odds: Odds = 100
    moments_void: bool = False
    max_plays_per_day: MaxPlaysPerDay | None = None
    cooldown_seconds: CooldownSeconds = 0

    @model_validator(mode="after")
    def _one_budget_per_brand(self) -> Self:
        check_budgets(self.budgets)
        return self

    @property
    def total_budget(self) -> int:
        return sum(b.coupons for b in self.budgets)


class GameUpdate(WindowPatch):
    """What PATCH may change. A game that is not a draft takes only ``ANY_STATUS`` fields:
    its window, strategy and budgets are what its live budget and pacing were planned on."""

    ANY_STATUS: ClassVar[frozenset[str]] = frozenset(
        {"name", "campaign_id", "max_plays_per_day", "cooldown_seconds"}
    )
    nullable = frozenset({"max_plays_per_day"})

    name: Name | None = None
    campaign_id: Id | None = None
    probability_type: StrategyName | None = None
    budgets: Budgets | None = Field(
        default=None, description="Replaces every budget of the game; draft games only."
    )
    slot_seconds: SlotSeconds | None = None
    odds: Odds | None = None
    moments_void: bool | None = None
    max_plays_per_day: MaxPlaysPerDay | None = None
    cooldown_seconds: CooldownSeconds | None = None

    @model_validator(mode="after")
    def _one_budget_per_brand(self) -> Self:
        if self.budgets is not None:
            check_budgets(self.budgets)
        return self


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
    status: str = Field(description="draft, scheduled, live, paused or ended.")
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


# Players


class UserRead(Schema):
    id: int
    external_id: str | None = Field(
        description="The player's id in the client's system: the ``sub`` of their token."
    )
    name: str | None
    blocked: bool
    created_at: datetime | None
    plays: int = Field(description="Plays the player made, in every game.")
    wins: int
