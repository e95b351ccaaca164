"""A player as the admin API shows them (DESIGN.md §7)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from frolic.schemas import Schema


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
