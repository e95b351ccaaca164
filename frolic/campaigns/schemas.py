"""A campaign's bodies (DESIGN.md §7)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from frolic.schemas import LongText, Name, Schema, Window, WindowPatch


class CampaignCreate(Window):
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
