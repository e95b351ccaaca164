from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Field names are the public JSON names of DESIGN.md §7 (camelCase).


class PlayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gameId: int = Field(gt=0, lt=2**63)
    device: dict[str, Any] | None = Field(None, max_length=32)


class PlayAccepted(BaseModel):
    playId: str
    status: Literal["QUEUED"] = "QUEUED"
    revealAt: float


class PlayView(BaseModel):
    playId: str
    gameId: int
    status: Literal["QUEUED", "REVEALED"]
    revealAt: float
    outcome: Literal["WIN", "LOSE"] | None = None
    brand: int | None = None
    couponCode: str | None = None
