"""``paced``, the default strategy: a fair lottery over a horizon that tracks the budget's
line (docs/decisions.md, "paced: a fair lottery over a horizon"). Pure: an injected
no random source of its own (each play brings its draws), no I/O."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from frolic.engine.rules import NO_CAP, GameRules, PacingState
from frolic.engine.step import Decision, next_forecast
from frolic.engine.strategy import Play, position


@dataclass(frozen=True)
class Horizon:
    """``paced``'s knobs (docs/decisions.md, "paced: a fair lottery over a horizon").

    ``wins(total)`` is ``k``, the horizon in wins: ``wide`` from ``full`` coupons up, or one
    per ``coupons_per_win`` coupons where that is more; below ``full`` it shrinks with the
    cube of the budget, within ``[least, most]``. A budget of 100 cannot afford to wander a
    coupon from the line (it is held to ``slot``'s tracking, and ``slot`` awards the first
    plays of each slot); one of 1,000 can afford a couple.
    """

    wide: float = 7.0
    coupons_per_win: float = 140.0
    full: float = 500.0
    least: float = 0.5
    most: float = 50.0
    # The deficit that sets p is read at the start of the play's slot, where the horizon
    # spans at least this many slots: p then moves once a slot, never at a win.
    hold_slots: float = 4.0
    catch_up: float = 20.0  # how much faster a deficit beyond the horizon is paid back
    lead: float = 0.01  # the cap: this share of the budget ahead of the line, or k
    surprise: float = 3.0  # standard deviations of a slot's plays that mean a new regime
    scale: float = 1.0  # multiplies ``k``: the report's trade-off curve

    def ahead(self, total: int) -> float:
        """How many coupons the cap lets the awards run ahead of the line: at least the
        horizon, where ``p`` itself reaches 0, so that where plays are scarce and ``p`` is 1
        the cap does not take over from the lottery and award at the line's steps."""
        return max(1.0, total * self.lead, self.wins(total))

    def wins(self, total: int) -> float:
        k = max(self.wide, total / self.coupons_per_win) * min(1.0, (total / self.full) ** 3)
        return min(self.most, max(self.least, k)) * self.scale


DEFAULT_HORIZON = Horizon()


class PacedStrategy:
    """Traffic-aware pacing as a fair lottery, the default (DESIGN.md §5, invariant 7).

    Every play at a given moment wins with the same probability ``p``, and ``p`` moves
    smoothly: it depends on the time, on how far the awards stand from the pacing line and
    on the forecast rate of plays, never on the slot a play falls in or on the line's steps.

    Target: the line ``total * elapsed / duration`` (anchored after a late start, a top-up
    or a resume: ``PacingState``). The strategy aims to be back on it a *horizon* of ``k``
    wins ahead (``k / slope`` seconds) and spreads what that needs evenly over the plays
    forecast in the horizon::

        p = (k + deficit) / (plays forecast in the horizon)

    On the line that is the line's own rate over the play rate. An award lowers ``p`` by
    ``1/k`` of itself and a quiet spell raises it as much; the awards wander
    about ``sqrt(k/2)`` coupons around the line. ``k`` so trades fairness against tracking,
    and grows with the budget (``Horizon``; ``docs/pacing.md`` measures both sides).

    Closed loop: a deficit beyond ``k`` coupons is no lottery's luck but a dead period or a
    forecast gone wrong, and what lies beyond ``k`` is paid back ``catch_up`` times faster.
    Near the end the horizon is what the line has left to climb, so the last plays share
    what is left and nothing is kept back.

    Rate: the store's forecast of plays per slot, the same for every play of a slot. Within
    a slot the plays seen are a play's own neighbours, and letting them move ``p`` would
    make a quiet moment pay better than a busy one; they are used only when they are too
    many or too few for the forecast to be right (``surprise`` standard deviations: a spike
    begins, or ends).

    Cap: each play may win only while ``consumed < line(t) + lead`` (``Horizon.ahead``),
    enforced atomically by the store. A fresh plan almost never meets it; a stale one
    (another allocator's awards, a spike the forecast has not seen) stops there, and the
    last coupon cannot go before ``(total - 1 - lead) / total`` of the game: 98% or later
    for budgets of 100 or more.

    Hold: where the horizon spans ``hold_slots`` slots or more, the deficit is read at the
    start of the play's slot (the store keeps the slot's awards), so ``p`` moves once a
    slot and never at a win: a win, or a quiet spell, within the slot says nothing about
    the odds of the plays that follow it.
    """

    name = "paced"

    def __init__(self, *, horizon: Horizon = DEFAULT_HORIZON) -> None:
        self.horizon = horizon

    def plan(self, rules: GameRules, state: PacingState, plays: Sequence[Play]) -> list[Decision]:
        consumed, remaining = state.consumed, state.remaining
        slot, slot_plays, forecast = state.slot, state.slot_plays, state.forecast
        slot_awarded = state.slot_awarded
        # This loop runs for every play an allocator decides: constants are hoisted.
        start, end, width = rules.start, rules.end, rules.slot_seconds
        last = math.ceil(rules.duration / width) - 1
        odds = _Odds(rules, state, self.horizon)
        alpha = rules.forecast_alpha
        out = []
        for play in plays:
            t = min(max(play.t, start), end)
            k = min(math.floor((t - start) / width), last)
            if slot is None or k > slot:
                if slot is not None:
                    forecast = next_forecast(forecast, slot_plays, k - slot, alpha)
                slot, slot_plays, slot_awarded = k, 0, 0
            slot_plays += 1
            line = odds.line(t)
            cap = odds.cap(line)
            p = odds.p(t, line, k, slot_plays, forecast, consumed, consumed - slot_awarded,
                       remaining)  # fmt: skip
            draw = play.u
            if draw < p and consumed < cap:  # as the store will judge it
                consumed += 1
                remaining -= 1
                slot_awarded += 1
            out.append(Decision(play.play_id, play.t, k, draw < p, cap, NO_CAP, play.brand_u,
                                "", p))  # fmt: skip
        return out

    def chance(self, rules: GameRules, state: PacingState, t: float) -> float:
        """The probability a play made at ``t`` would win with, from ``state`` (the
        dashboard's figure): as ``plan`` computes it for the next play."""
        t, k = position(rules, t)
        forecast, seen = state.forecast, state.slot_plays + 1
        if state.slot is None or k > state.slot:
            if state.slot is not None:
                forecast = next_forecast(
                    forecast, state.slot_plays, k - state.slot, rules.forecast_alpha
                )
            seen = 1
        held = state.consumed - (state.slot_awarded if seen > 1 else 0)
        odds = _Odds(rules, state, self.horizon)
        return odds.p(t, odds.line(t), k, seen, forecast, state.consumed, held, state.remaining)


class _Odds:
    """``paced``'s arithmetic for one game and one batch: the line, the cap, the rate and
    ``p`` for a play at ``t`` (every ``t`` already clamped into the game)."""

    __slots__ = (
        "base",
        "catch_up",
        "end",
        "hold",
        "k",
        "lead",
        "origin",
        "slope",
        "start",
        "surprise",
        "total",
        "width",
    )  # fmt: skip

    def __init__(self, rules: GameRules, state: PacingState, horizon: Horizon) -> None:
        total = state.awarded + state.remaining
        self.start, self.end, self.width = rules.start, rules.end, rules.slot_seconds
        self.origin, self.base = state.line_origin(rules.start), state.line_from
        self.total = total
        span = self.end - self.origin
        self.slope = (total - self.base) / span if span > 0 else 0.0
        self.k = horizon.wins(total)
        self.lead = horizon.ahead(total)
        self.catch_up, self.surprise = horizon.catch_up, horizon.surprise
        self.hold = horizon.hold_slots * rules.slot_seconds  # seconds

    def line(self, t: float) -> float:
        return self.base + self.slope * (t - self.origin)

    def cap(self, line: float) -> float:
        """The most a play may find awarded and still win, where the line is at ``line``."""
        return min(float(self.total), line + self.lead)

    def rate(self, t: float, slot_start: float, seen: int, forecast: float | None) -> float:
        """Plays per second expected from ``t``: the forecast's, unless the ``seen - 1``
        plays before this one in its slot say the forecast is wrong (or there is none)."""
        if forecast is not None:
            expected = forecast * (t - slot_start) / self.width
            if abs(seen - 1 - expected) <= self.surprise * math.sqrt(expected + 1.0):
                return forecast / self.width
        slot_end = min(self.end, slot_start + self.width)
        return expected_rate(t, slot_start, slot_end, self.width, seen, forecast)

    def p(
        self, t: float, line: float, slot: int, seen: int, forecast: float | None,
        consumed: int, held: int, remaining: int,
    ) -> float:  # fmt: skip
        """The ``p`` of the ``seen``-th play of ``slot``, made at ``t`` (where the line is
        at ``line``: the caller has it already) with ``consumed`` awarded (``held`` of them
        at the slot's start): 0 where stock or the cap rules it out."""
        if remaining <= 0 or consumed >= self.cap(line):
            return 0.0
        if self.slope <= 0:
            return 1.0  # the line is at its total: every coupon left is due
        slot_start = self.start + slot * self.width
        rate = self.rate(t, slot_start, seen, forecast)
        horizon = min(self.k, self.slope * (self.end - t))  # what the line has left to climb
        excess = line - consumed
        if excess > horizon:
            excess = horizon + (excess - horizon) * self.catch_up
        elif horizon >= self.slope * self.hold:
            # Read at the slot's start: p stays put through the slot, so neither a win nor
            # a quiet spell within it moves the odds of the plays that follow. A catch-up
            # (above) follows every award, or it would overshoot.
            excess = min(horizon, self.line(max(slot_start, self.origin)) - held)
        need = horizon + excess
        expected = rate * horizon / self.slope
        if expected <= need:
            return 1.0 if need > 0 else 0.0
        return max(0.0, need / expected)


def expected_rate(
    t: float, start: float, end: float, width: float, seen: int, forecast: float | None
) -> float:
    """Plays per second expected from ``t``: the rate seen so far in the slot, blended
    (by how much of the slot has passed) with the forecast's."""
    elapsed = t - start
    if forecast is None:
        # Nothing known yet: a play at the very start of its slot cannot tell the rate,
        # and is not let to count on being the only one.
        return seen / elapsed if elapsed > 0 else math.inf
    planned = forecast / width
    if elapsed <= 0:
        return planned
    weight = elapsed / (end - start)
    return weight * seen / elapsed + (1 - weight) * planned
