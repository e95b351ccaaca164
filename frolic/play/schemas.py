from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
import orjson
from pydantic import BaseModel, ConfigDict, Field

from frolic.errors import ValidationFailed
from frolic.fairness.draws import CLIENT_SEED

# Field names are the public JSON names of DESIGN.md §7 (camelCase).


class PlayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gameId: int = Field(gt=0, lt=2**63)
    device: dict[str, Any] | None = Field(None, max_length=32)
    clientSeed: str | None = Field(
        None, pattern=f"^{CLIENT_SEED.pattern}$",
        description="Any text of up to 64 of A-Z a-z 0-9 . _ ~ -: bound into the play's "
        "draw with its number, so the operator could not have computed the draw before the "
        "play was made (docs/fairness.md).",
    )  # fmt: skip


class PlayBody(msgspec.Struct, forbid_unknown_fields=True):
    """PlayRequest as ``POST /play`` parses it (PlayRequest documents it); keep them alike."""

    gameId: Annotated[int, msgspec.Meta(gt=0, le=2**63 - 1)]
    device: Annotated[dict[str, Any], msgspec.Meta(max_length=32)] | None = None
    clientSeed: Annotated[str, msgspec.Meta(pattern=f"^{CLIENT_SEED.pattern}$")] | None = None


# Not strict: like pydantic, take "7" for 7.
_play_body = msgspec.json.Decoder(PlayBody, strict=False)


def parse_play(body: bytes) -> PlayBody:
    try:
        play = _play_body.decode(body)
    except msgspec.DecodeError as exc:  # ValidationError is one too
        raise _invalid(["body"], str(exc)) from None
    if play.device is not None:
        _check_storable(play.device)
    return play


def _invalid(loc: list[str], msg: str) -> ValidationFailed:
    return ValidationFailed([{"loc": loc, "msg": msg, "type": "value_error"}])


def _check_storable(device: dict[str, Any]) -> None:
    """The ledger keeps the device in a jsonb column, written with orjson in a batch of
    plays: a device neither can take (an integer past 64 bits, nesting past 255, a NUL)
    failed the whole batch, every player's play in it, so it is refused here."""
    try:
        orjson.dumps(device)
    except orjson.JSONEncodeError as exc:
        raise _invalid(["body", "device"], str(exc)) from None
    pending: list[Any] = [device]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value)
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str) and "\x00" in value:
            raise _invalid(["body", "device"], "must not contain a NUL character")


class PlayAccepted(BaseModel):
    playId: str
    status: Literal["QUEUED"] = "QUEUED"
    revealAt: float
    playNumber: int | None = Field(
        description="The play's number in the game for this player (1, 2, 3...): its "
        "receipt, with clientSeed (docs/fairness.md)."
    )
    clientSeed: str = Field(description="The client seed the play's draw binds ('' for none).")


class PlayReceipt(BaseModel):
    """What lets a player check their play after the game (docs/fairness.md)."""

    playNumber: int | None = Field(description="The play's number in the game for its player "
                                   "(1, 2, 3...): bound into its draw. Null for a play from "
                                   "before play numbers.")  # fmt: skip
    clientSeed: str = Field(description="The client seed the play was sent with ('' for none).")
    entry: str | None = Field(None, description="The hash of the play's decision log entry, "
                              "once revealed and chained; null before.")  # fmt: skip
    n: int | None = Field(None, description="The entry's position in the game's log.")


class PlayView(BaseModel):
    playId: str
    gameId: int
    # QUEUED before revealAt; REVEALED with its outcome; PENDING: due, not recorded yet.
    status: Literal["QUEUED", "REVEALED", "PENDING"]
    revealAt: float
    outcome: Literal["WIN", "LOSE"] | None = None
    brand: int | None = None
    couponCode: str | None = None
    receipt: PlayReceipt | None = None
    probability: float | None = Field(
        None, ge=0, le=1,
        description="The probability the play was decided with: its strategy's p, as the "
        "play's audit records it (a winning_moments play: 1 if it claimed a due instant, "
        "else 0). Disclosed with the outcome, once revealed; null before, or when the "
        "audit has none.",
    )  # fmt: skip
