"""What ``GET /admin/dashboard`` answers, in the camelCase JSON of the admin API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Schema(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, serialize_by_alias=True
    )


class BrandStock(Schema):
    brand_id: int
    name: str
    total: int = Field(description="The game's budget of this brand's coupons.")
    remaining: int = Field(description="Budget left in the ledger (PostgreSQL).")
    redis_remaining: int | None = Field(
        description="Budget left in Redis, which decides; null when Redis holds none."
    )
    codes_available: int = Field(
        description="Unissued codes the game may still draw (counted up to 100000)."
    )


class Point(Schema):
    t: float = Field(description="Epoch seconds: the end of the bucket.")
    awarded: int = Field(description="Coupons awarded to plays made up to ``t``.")


class PacePoint(Schema):
    t: float = Field(description="Epoch seconds.")
    coupons: float = Field(description="Where the pace line is at ``t``.")


class Minute(Schema):
    t: float = Field(description="Epoch seconds: the start of the minute.")
    plays: int
    wins: int


Phase = Literal["draft", "scheduled", "running", "paused", "over", "ended"]


class GameStats(Schema):
    id: int
    name: str
    status: str = Field(description="The stored status: draft, live, paused or ended.")
    phase: Phase = Field(
        description="What the game is doing now: a live game is scheduled before its "
        "start, running in its window, and over after its end."
    )
    strategy: str
    start_time: datetime
    end_time: datetime
    budget: int
    awarded: int = Field(description="Coupons the ledger has awarded so far.")
    target: float = Field(description="Where the pace line is now.")
    pace_line: list[PacePoint] = Field(
        description="The pace line's corners, in time order: 0 at the start, the anchor "
        "the pacing runs from (a late start, the last top-up or resume) if any, and the "
        "budget at the end. From the anchor the coupons left are spread evenly over the "
        "time left, as the paced strategy spreads them; how the line ran before the anchor "
        "is not kept, and the start is joined to it straight."
    )
    brands: list[BrandStock]
    series: list[Point] = Field(description="Cumulative awarded over the game, bucketed.")
    minutes: list[Minute] = Field(description="Plays and winners per minute, lately.")
    probability: float | None = Field(
        None, ge=0, le=1,
        description="The probability a play made now would win: the game's strategy's "
        "chance from the state Redis holds. Null when the game is not running (not live, "
        "or outside its window), Redis holds no state of it, or Redis did not answer.",
    )  # fmt: skip
    commitment: str | None = Field(
        None,
        description="SHA-256 of the game's secret seed, in hex (GET /games/{id}/fairness, "
        "docs/fairness.md): published from the moment the game leaves draft; null before.",
    )
    chain_length: int | None = Field(
        None, description="Entries in the game's decision log so far; null before its first."
    )
    chain_head: str | None = Field(
        None, description="The hash of the log's last entry, hex: published as the game runs."
    )


class Lag(Schema):
    group: str
    topic: str
    lag: int = Field(description="Messages the group has yet to commit, all partitions.")
    worst_partition: int = Field(description="The largest lag of one partition.")
    partitions: int


class Alert(Schema):
    level: Literal["warning", "critical"]
    kind: Literal["lag", "pace", "codes", "stock", "drift"]
    game_id: int | None
    message: str


class Dashboard(Schema):
    now: float
    games: list[GameStats]
    lag: list[Lag] | None = Field(description="Null when the broker did not answer.")
    alerts: list[Alert]
