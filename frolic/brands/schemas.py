"""A brand's bodies (DESIGN.md §7)."""

from __future__ import annotations

from frolic.schemas import LongText, Name, Patch, Schema


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
