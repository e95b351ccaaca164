"""What every admin API body is made of, in the camelCase JSON of DESIGN.md §7; each
domain's ``schemas`` builds its bodies from these.

Everything a client sends is checked here, so that nothing reaches PostgreSQL that it
would refuse with an error of its own (a 500 to the client): ids fit a BIGINT, counts an
INTEGER, texts hold no NUL and encode as UTF-8, and times carry a zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Generic, Protocol, Self, TypeVar

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

from frolic.errors import ValidationFailed

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


class Window(Schema):
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


def invalid(loc: Sequence[str | int], msg: str) -> ValidationFailed:
    """A 422 shaped like FastAPI's own: ``[{"loc", "msg", "type"}]``, for what only the
    database can tell (a body naming a campaign that does not exist)."""
    return ValidationFailed([{"loc": list(loc), "msg": msg, "type": "not_found"}])


class _Timestamped(Protocol):
    start_time: datetime
    end_time: datetime
    updated_at: datetime | None


def apply_window(row: _Timestamped, changes: dict[str, Any]) -> None:
    """Set the changed columns, once the window they leave behind is known to be sound."""
    start = changes.get("start_time", row.start_time)
    end = changes.get("end_time", row.end_time)
    if not end > start:
        raise invalid(["body"], "endTime must be after startTime")
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_at = datetime.now(UTC)
