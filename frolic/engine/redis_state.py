"""The pacing state and the outcomes as Redis holds them, and a batch's script arguments:
pure conversions, no I/O, shared by the Lua and the optimistic store."""

from __future__ import annotations

import math
from collections.abc import Sequence

from frolic.engine import keys
from frolic.engine.rules import NO_CAP, PacingState
from frolic.engine.step import Decision, Stored
from frolic.engine.store import GameLost

# "epoch" last: a pacing hash without it is a game Redis lost (scripts.DECIDE_BATCH).
STATE_FIELDS = (
    "consumed", "awarded", "slot", "slot_awarded", "slot_cap", "slot_plays", "forecast", "plays",
    "line_t", "line_from", "epoch",
)  # fmt: skip


def _num(raw: bytes | str | None) -> float | None:
    if raw is None or raw in (b"", ""):
        return None
    return float(raw)


def parse_state(
    values: Sequence[bytes | str | None], remaining: int, game_id: int = 0
) -> PacingState:
    """A ``PacingState`` from the hash fields in ``STATE_FIELDS`` order; ``GameLost`` if the
    epoch is missing."""
    consumed, awarded, slot, slot_awarded, slot_cap, slot_plays, forecast, plays, *rest = map(
        _num, values
    )
    line_t, line_from, epoch = rest
    if epoch is None:
        raise GameLost(game_id)
    return PacingState(
        consumed=int(consumed or 0),
        awarded=int(awarded or 0),
        slot=None if slot is None else int(slot),
        slot_awarded=int(slot_awarded or 0),
        slot_cap=PacingState.slot_cap if slot_cap is None else slot_cap,
        slot_plays=int(slot_plays or 0),
        forecast=forecast,
        plays=int(plays or 0),
        line_t=line_t,
        line_from=line_from or 0.0,
        remaining=remaining,
        epoch=int(epoch),
    )


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def parse_processed(value: bytes | str) -> Stored:
    """A processed hash's value: the brand won (0 for a loss), the decision's seq and how
    it was judged (``"<brand>:<seq>:<p>:<cap>:<slot_cap>"``; a rebuild restores
    ``"<brand>"``: seq 0, not judged here)."""
    brand, _, rest = _text(value).partition(":")
    seq, _, how = rest.partition(":")
    return int(brand), int(seq or 0), parse_judged(how) if how else None


def parse_judged(value: bytes | str) -> tuple[float, float, float]:
    """``"<p>:<cap>:<slot_cap>"`` as the script keeps it ('' for no cap)."""
    p, cap, slot_cap = _text(value).split(":")
    return float(p), float(cap) if cap else NO_CAP, float(slot_cap) if slot_cap else NO_CAP


def parse_top_up(value: bytes | str | None) -> tuple[int, int] | None:
    """A top-up's place in the decision order, from its record in the top-ups hash
    (``"<coupons>:<epoch>:<plays>"``): after the decision whose seq is ``plays`` in
    ``epoch``. None if there is no record, or one from before places were kept."""
    if value is None:
        return None
    parts = _text(value).split(":")
    return (int(parts[1]), int(parts[2])) if len(parts) == 3 else None


def check_run(game_id: int, recorded: bytes | str | None, run: str) -> None:
    """``GameLost`` unless the game's state was loaded under ``run``: a Redis that
    restarted may have come back with an older state of it (``scripts._THIS_RUN``)."""
    if recorded not in (run, run.encode()):
        raise GameLost(game_id)


def state_fields(state: PacingState) -> dict[str, str]:
    """The hash fields the Lua script would write for ``state``."""
    fields = {
        "consumed": str(state.consumed),
        "awarded": str(state.awarded),
        "slot_awarded": str(state.slot_awarded),
        "slot_cap": repr(state.slot_cap),
        "slot_plays": str(state.slot_plays),
        "plays": str(state.plays),
    }
    if state.slot is not None:
        fields["slot"] = str(state.slot)
    if state.forecast is not None:
        fields["forecast"] = repr(state.forecast)
    if state.line_t is not None:
        fields["line_t"] = repr(state.line_t)
        fields["line_from"] = repr(state.line_from)
    return fields


def cap_arg(cap: float) -> float | bytes:
    return b"" if cap >= NO_CAP else cap


def anchor_arg(line: tuple[float, float] | None) -> tuple[float | bytes, float | bytes]:
    """The line's anchor as script arguments; a float goes as its repr, which reads back
    to the same bits."""
    return (b"", b"") if line is None else line


class Buckets:
    """The processed hashes a batch touches, each with its 1-based index."""

    def __init__(self, game_id: int, decisions: Sequence[Decision]) -> None:
        self.processed: dict[int, int] = {}
        self.of: list[int] = []
        # A batch's plays are close in time: the previous play's hour is a fast path.
        lo, hi, index = 0.0, -1.0, 0
        for d in decisions:
            if not lo <= d.t < hi:
                hour = keys.processed_bucket(d.t)
                index = self.processed.setdefault(hour, len(self.processed) + 1)
                lo = hour * keys.PROCESSED_BUCKET_SECONDS
                hi = lo + keys.PROCESSED_BUCKET_SECONDS
            self.of.append(index)
        self.processed_keys = [keys.processed(game_id, h) for h in self.processed]

    def play_ids(self, decisions: Sequence[Decision]) -> dict[str, list[str]]:
        """The play ids to look up in each processed hash."""
        ids: dict[str, list[str]] = {key: [] for key in self.processed_keys}
        for d, b in zip(decisions, self.of, strict=True):
            ids[self.processed_keys[b - 1]].append(d.play_id)
        return ids

    def ttls(self, now: float, processed_ttl: int) -> list[int]:
        """Seconds each hash lives: its hour's end from now (plays of a game on a virtual
        clock have ended long ago), plus how long its records must outlive it."""
        hour = keys.PROCESSED_BUCKET_SECONDS
        return [max(0, math.ceil((h + 1) * hour - now)) + processed_ttl for h in self.processed]
