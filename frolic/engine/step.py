"""The atomic step's rules, in Python: the reference that the Lua script mirrors.

``apply`` takes a batch of decisions for one game and the game's state, and says who
wins. It is deterministic given its inputs (every random draw is made before, by the
strategy), which is what lets the in-memory, optimistic and Lua stores be held to the
same outputs by one contract test.

Per play, in order:
  1. A play already decided returns its stored outcome and place in the order (a replay)
     and changes nothing.
  2. A play in a later slot closes the current one: the slot's play count feeds the
     forecast (EWMA, skipped slots count as empty), and the play's ``slot_cap`` becomes
     the new slot's cap. A play from an earlier slot (a late or clock-skewed allocator)
     counts in the current one.
  3. It wins only if it wants to, ``consumed < cap``, ``slot_awarded < slot_cap`` and
     stock remains. The brand is drawn among brands with stock, weighted by their stock.
"""

from __future__ import annotations

import math
from collections.abc import MutableMapping, Sequence
from dataclasses import replace
from typing import NamedTuple

from frolic.engine.rules import PacingState


class Decision(NamedTuple):
    """One play's intent, as the atomic step receives it.

    A NamedTuple rather than a frozen dataclass: a batch builds thousands of these, and a
    frozen dataclass pays ``object.__setattr__`` for every field.
    """

    play_id: str
    t: float  # the play's request time: which hour's processed hash it is stored in
    slot: int
    want: bool
    cap: float
    slot_cap: float
    brand_draw: float  # in [0, 1)
    # A JSON fragment of what the strategy adds to the audit beside ``p`` and the draw (a
    # winning moment's instant), e.g. '"moment":12.5'; it never goes to Redis.
    meta: str = ""
    p: float = 0.0  # the probability ``want`` was drawn against: kept with the outcome


class Outcome(NamedTuple):
    play_id: str
    brand: int | None  # the brand won, or None for a loss
    replay: bool = False
    # Its place in the game's decision order under its epoch: the state's ``plays`` just
    # after it (1, 2, 3...; a load or rebuild starts again at 1 under a new epoch). The
    # decision log is chained in (epoch, seq) order. 0 for a replay of an outcome a
    # rebuild restored from the ledger, which was recorded (and chained) long before.
    seq: int = 0
    # A replay's first decision as the store judged it: ``(p, cap, slot_cap)``. A replay is
    # planned again on a later state, but its outcome, and so its log entry, is the first
    # decision's (its publish may have been lost with its allocator). None for a new
    # decision (the caller has its ``Decision``) and for an outcome a rebuild restored.
    judged: tuple[float, float, float] | None = None

    @property
    def win(self) -> bool:
        return self.brand is not None


Stored = tuple[int, int, tuple[float, float, float] | None]
"""What a store keeps of a decided play: the brand won (0: none), its seq, how it was judged."""


def pick_brand(stock: Sequence[int], draw: float) -> int:
    """Index of the brand drawn, weighted by stock; ``sum(stock) > 0`` is required."""
    total = sum(max(s, 0) for s in stock)
    target = min(math.floor(draw * total), total - 1)
    for index, left in enumerate(stock):
        if left > 0:
            if target < left:
                return index
            target -= left
    raise AssertionError("no stock to pick from")


def next_forecast(forecast: float | None, closed_plays: int, gap: int, alpha: float) -> float:
    """The forecast after closing a slot with ``closed_plays`` and skipping ``gap - 1``."""
    value = (
        float(closed_plays) if forecast is None else (1 - alpha) * forecast + alpha * closed_plays
    )
    return value * (1 - alpha) ** (gap - 1)


def apply(
    state: PacingState,
    stock: list[int],
    brands: Sequence[int],
    decisions: Sequence[Decision],
    decided: MutableMapping[str, Stored],
    *,
    void: bool = False,
    alpha: float,
) -> tuple[PacingState, list[Outcome]]:
    """Decide ``decisions`` against ``state``; ``stock`` and ``decided`` change in place.

    ``decided`` maps play ids to the brand won (0 for a loss), the play's ``seq`` and how
    it was judged (``Outcome.judged``); a new play is added to it.
    Returns the new state and one outcome per decision.
    """
    s = state
    consumed, awarded, slot = s.consumed, s.awarded, s.slot
    slot_awarded, slot_cap, slot_plays = s.slot_awarded, s.slot_cap, s.slot_plays
    forecast, plays = s.forecast, s.plays
    total = sum(max(v, 0) for v in stock)
    outcomes: list[Outcome] = []
    for d in decisions:
        prior = decided.get(d.play_id)
        if prior is not None:
            outcomes.append(Outcome(d.play_id, prior[0] or None, True, prior[1], prior[2]))
            continue
        if slot is None or d.slot > slot:
            if slot is not None:
                forecast = next_forecast(forecast, slot_plays, d.slot - slot, alpha)
            slot, slot_awarded, slot_plays, slot_cap = d.slot, 0, 0, d.slot_cap
        slot_plays += 1
        plays += 1
        brand = 0
        if d.want and consumed < d.cap and slot_awarded < slot_cap and total > 0:
            index = pick_brand(stock, d.brand_draw)
            stock[index] -= 1
            total -= 1
            brand = brands[index]
            awarded += 1
            slot_awarded += 1
            consumed = max(consumed + 1, math.floor(d.cap)) if void else consumed + 1
        decided[d.play_id] = (brand, plays, (d.p, d.cap, d.slot_cap))
        outcomes.append(Outcome(d.play_id, brand or None, False, plays))
    after = replace(
        s,
        consumed=consumed, awarded=awarded, slot=slot, slot_awarded=slot_awarded,
        slot_cap=slot_cap, slot_plays=slot_plays, forecast=forecast, plays=plays,
        remaining=total,
    )  # fmt: skip
    return after, outcomes


def line_after_top_up(
    state: PacingState, start: float, end: float, t: float
) -> tuple[float, float]:
    """The pacing line's new anchor ``(line_t, line_from)`` for a top-up at ``t``: the
    line's value there, computed with the total before the top-up. From the anchor the line
    climbs to the new total at the game's end, so the coupons added spread over the time
    left; a line through the new total from the game's start would owe most of them at
    once. ``t`` is clamped into the line's span (a top-up before the start, or a clock
    behind the last anchor, moves nothing). ``scripts.TOP_UP`` computes the same, in the
    same order of operations, so every store agrees to the last bit.
    """
    origin = state.line_origin(start)
    t = _on_the_line(state, start, end, t)
    total = state.awarded + state.remaining
    if end <= origin:
        return t, float(total)
    return t, state.line_from + (total - state.line_from) * ((t - origin) / (end - origin))


def line_at_load(start: float, end: float, t: float | None) -> tuple[float, float] | None:
    """The pacing line's anchor for a budget loaded at ``t``: none when it is loaded before
    the game's start (the line runs from 0 at the start), else ``(t, 0)``. A game that goes
    live late would otherwise owe ``total * elapsed / duration`` at once, and spend it on
    its first plays; anchored at the load, its budget spreads over the time left. ``t`` is
    clamped to the end, as a top-up's is. ``None`` (a load without a time: the simulator,
    the benchmark) is a load before the start."""
    if t is None or t <= start:
        return None
    return min(t, end), 0.0


def line_at_resume(state: PacingState, start: float, end: float, t: float) -> tuple[float, float]:
    """The pacing line's anchor for a game resumed at ``t``: the coupons awarded so far,
    there. A paused game takes no plays but its line keeps rising; left alone, the line
    would owe the pause's share at once and the first plays after the resume would take
    it. Anchored at what was awarded, the coupons left spread over the time left, as after
    a late start. A deficit the game had before the pause is forgiven with the pause's:
    the two cannot be told apart. ``t`` is clamped as a top-up's is; ``scripts.RESUME``
    computes the same."""
    return _on_the_line(state, start, end, t), float(state.awarded)


def _on_the_line(state: PacingState, start: float, end: float, t: float) -> float:
    """``t`` within the line's span: a clock behind the last anchor (or before the game's
    start) moves the anchor nowhere in time, and one past the end stops there."""
    return min(max(t, state.line_origin(start)), end)
