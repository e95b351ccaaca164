"""A game's bodies (DESIGN.md §7): the game with its per-brand budgets, and a top-up."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Annotated, Any, ClassVar, Self

from pydantic import Field, model_validator

from frolic.engine.rules import StrategyName
from frolic.schemas import INTEGER_MAX, Id, Name, Schema, Window, WindowPatch


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


class GameCreate(Window):
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


class TopUpCreate(Schema):
    coupons: Annotated[int, Field(ge=1, le=INTEGER_MAX)]


class DecisionLog(Schema):
    """Where a game's decision log stands (``GET /games/{id}/audit.jsonl`` once it ends)."""

    length: int  # entries chained
    head: str  # the last entry's hash, hex
    # The game has ended, every play it took is decided and every decision chained: the
    # log will not grow, and ``frolic verify`` checks all of it.
    complete: bool


class Fairness(Schema):
    """A game's fairness commitment (``GET /games/{id}/fairness``, docs/fairness.md)."""

    game_id: int
    algorithm: str
    commitment: str  # SHA-256 of the seed, hex
    terms: dict[str, Any]
    terms_digest: str
    revealed: bool
    seed: str | None  # hex, once the game has ended
    chain: DecisionLog | None = None  # None until the game's first decision is chained
