"""The probability strategies (DESIGN.md §5). Pure: an injected random source, no I/O.

Each turns a batch of plays into ``ledger.Decision`` intents from the last known state.
The state may be a batch old, or shared with other allocators; the caps in each intent
are enforced atomically by the store, so a stale view can cost precision, never budget.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from frolic.engine.ledger import FORECAST_ALPHA, Decision, next_forecast
from frolic.engine.rules import NO_CAP, GameRules, PacingState

RandomSource = Callable[[], float]


@dataclass(frozen=True)
class Play:
    play_id: str
    t: float  # request time, on the rules' clock


class Strategy(Protocol):
    def plan(
        self, rules: GameRules, state: PacingState, plays: Sequence[Play]
    ) -> list[Decision]: ...


def _meta(p: float, draw: float) -> str:
    """The audit fragment of a result: the probability and the draw it was decided by (the
    strategy is the game's ``probability_type``)."""
    return f'"p":{p:.6g},"draw":{draw:.6g}'


def _clock(rules: GameRules, t: float) -> tuple[float, int]:
    """The play's time inside the game and its slot (a skewed clock is clamped)."""
    t = min(max(t, rules.start), rules.end)
    last = math.ceil(rules.duration / rules.slot_seconds) - 1
    return t, min(rules.slot_of(t), last)


class SlotStrategy:
    """The seed's formula exactly (seed-design.md §4.4): P_base = remaining / slots left.

    Case 1, P_base < 1: each play wins with probability P_base.
    Case 2, P_base >= 1: the slot's share is floor(P_base), plus one with probability
    frac(P_base); every play of the slot wins until the share is used. The store fixes
    the share when the slot's first play arrives, so all allocators agree on it.
    """

    name = "slot"

    def __init__(self, rng: RandomSource) -> None:
        self.rng = rng

    def plan(self, rules: GameRules, state: PacingState, plays: Sequence[Play]) -> list[Decision]:
        remaining = state.remaining
        # The open slot as the store has it: its share (NO_CAP in case 1) and its awards.
        slot, share, given = state.slot, state.slot_cap, state.slot_awarded
        out = []
        for play in plays:
            t, k = _clock(rules, play.t)
            p_base = remaining / math.ceil(max(1.0, rules.end - t) / rules.slot_seconds)
            draw = self.rng()
            if slot is None or k > slot:
                # A slot's first play fixes its case and share, for every play of the slot.
                share = NO_CAP
                if p_base >= 1:
                    fixed = math.floor(p_base)
                    share = float(min(fixed + (1 if draw < p_base - fixed else 0), remaining))
                slot, given = k, 0
            if share < NO_CAP:
                want, p = True, 1.0  # case 2: every play wins until the share is used
            else:
                want, p = draw < p_base, p_base  # case 1
            if want and given < share and remaining > 0:
                given += 1
                remaining -= 1
            out.append(Decision(play.play_id, play.t, k, want, NO_CAP, share, self.rng(),
                                _meta(p, draw)))  # fmt: skip
        return out


class PacedStrategy:
    """Traffic-aware pacing, the default.

    Target: the line ``total * elapsed / duration``. Each play's cap is the line at the
    play's own time, enforced atomically by the store, so no spike spends ahead of it and
    the last coupon goes no earlier than the hindsight oracle's would. After a top-up the
    line runs from its value at the top-up (the state's anchor) to the new total at the
    end: the coupons added spread over the time left (``ledger.line_after_top_up``). A
    game loaded after its start runs from 0 at the load (``ledger.line_at_load``), and a
    resumed one from what it had awarded at the resume (``ledger.line_at_resume``).

    Quota: the line at the end of the play's slot minus what is consumed. It is spread at
    random over the plays expected in the rest of the slot: each play wins with
    probability ``quota / (eagerness * expected plays left)``. Expected plays blend the
    shared forecast (an EWMA of plays per slot, learned in the store) with the rate seen
    so far in this slot. An eagerness below 1 spends a slot's quota in its first part,
    which keeps the curve within a fraction of a coupon of the oracle while the winner is
    still a random pick among many plays (``docs/pacing.md`` measures the trade).

    Closed loop: whatever a slot leaves unspent raises the next slot's quota, so after a
    dead period or a forecast that ran high the deficit is paid back as plays arrive.

    End game: once the plays expected before the end are no more than the coupons left,
    every play the line allows wins, as the oracle's would; nothing is left for later.
    """

    name = "paced"

    def __init__(
        self, rng: RandomSource, *, alpha: float = FORECAST_ALPHA, eagerness: float = 0.25
    ) -> None:
        self.rng = rng
        self.alpha = alpha
        self.eagerness = eagerness

    def plan(self, rules: GameRules, state: PacingState, plays: Sequence[Play]) -> list[Decision]:
        total = state.awarded + state.remaining
        consumed, remaining = state.consumed, state.remaining
        slot, slot_plays, forecast = state.slot, state.slot_plays, state.forecast
        # This loop runs for every play an allocator decides: constants are hoisted.
        start, end, width = rules.start, rules.end, rules.slot_seconds
        origin, base = state.line_origin(start), state.line_from
        per_second = (total - base) / (end - origin) if end > origin else 0.0
        last = math.ceil(rules.duration / width) - 1
        eagerness, rng = self.eagerness, self.rng
        out = []
        for play in plays:
            t = min(max(play.t, start), end)
            k = min(math.floor((t - start) / width), last)
            if slot is None or k > slot:
                if slot is not None:
                    forecast = next_forecast(forecast, slot_plays, k - slot, self.alpha)
                slot, slot_plays = k, 0
            slot_plays += 1
            slot_start = start + k * width
            slot_end = min(end, slot_start + width)
            quota = base + per_second * (slot_end - origin) - consumed
            cap = base + per_second * (t - origin)
            p = 0.0
            if quota > 0 and remaining > 0:
                rate = expected_rate(t, slot_start, slot_end, width, slot_plays, forecast)
                p = min(1.0, quota / max(1.0, eagerness * rate * (slot_end - t)))
                if rate * (end - t) <= remaining:
                    p = 1.0  # end game: no more plays are coming than coupons are left
            draw = rng()
            want = draw < p
            if want and consumed < cap:  # as the store will judge it
                consumed += 1
                remaining -= 1
            out.append(Decision(play.play_id, play.t, k, want, cap, NO_CAP, rng(),
                                _meta(p, draw)))  # fmt: skip
        return out


def expected_rate(
    t: float, start: float, end: float, width: float, seen: int, forecast: float | None
) -> float:
    """Plays per second expected from ``t``: the rate seen so far in the slot, blended
    (by how much of the slot has passed) with the forecast's."""
    elapsed = t - start
    if forecast is None:
        return seen / elapsed if elapsed > 0 else 0.0
    planned = forecast / width
    if elapsed <= 0:
        return planned
    weight = elapsed / (end - start)
    return weight * seen / elapsed + (1 - weight) * planned


def winning_moments(rules: GameRules, state: PacingState) -> list[float]:
    """The game's winning instants, sorted, one per coupon (``awarded + remaining``), drawn
    from its secret seed: every allocator derives the same. Uniform over the game while
    the pacing line has no anchor. Once it has one (a late start, a top-up, a resume: see
    ``PacingState``), the first ``line_from`` instants fall before the anchor and the rest
    after it, so the instants not yet due spread over the time left instead of all falling
    due at once and going to the next plays."""
    total = state.awarded + state.remaining
    draw = random.Random(rules.moments_seed).random
    if state.line_t is None:
        return sorted(rules.start + draw() * rules.duration for _ in range(total))
    anchor = min(max(state.line_t, rules.start), rules.end)
    due = min(total, max(0, math.floor(state.line_from)))
    before = [rules.start + draw() * (anchor - rules.start) for _ in range(due)]
    after = [anchor + draw() * (rules.end - anchor) for _ in range(total - due)]
    return sorted(before + after)


class WinningMomentsStrategy:
    """The instant-win industry's standard: one instant per coupon drawn uniformly over the
    game from a secret per-game seed (``winning_moments``); the first play at or after an
    instant claims it. Unclaimed instants roll over to later plays, or die at the next
    claim when the game voids them (``moments_void``)."""

    name = "winning_moments"

    def __init__(self) -> None:
        self._drawn: tuple[tuple[GameRules, float | None, float, int], list[float]] | None = None

    def instants(self, rules: GameRules, state: PacingState) -> list[float]:
        """Drawn again only when the rules, the coupons or the line's anchor change."""
        key = (rules, state.line_t, state.line_from, state.awarded + state.remaining)
        if self._drawn is None or self._drawn[0] != key:
            self._drawn = (key, winning_moments(rules, state))
        return self._drawn[1]

    def plan(self, rules: GameRules, state: PacingState, plays: Sequence[Play]) -> list[Decision]:
        instants = self.instants(rules, state)
        consumed = state.consumed
        out = []
        for play in plays:
            t, slot = _clock(rules, play.t)
            passed = bisect.bisect_right(instants, t)
            want = consumed < passed
            meta = '"p":0,"draw":null'
            if want:
                meta = f'"p":1,"moment":{instants[consumed]:.3f}'
                consumed = passed if rules.moments_void else consumed + 1
            out.append(Decision(play.play_id, play.t, slot, want, float(passed), NO_CAP, 0.5, meta))
        return out


class FixedOddsStrategy:
    """One win in ``odds`` plays, while stock lasts: the classic, for comparison."""

    name = "fixed_odds"

    def __init__(self, rng: RandomSource) -> None:
        self.rng = rng

    def plan(self, rules: GameRules, state: PacingState, plays: Sequence[Play]) -> list[Decision]:
        p = 1 / rules.odds
        out = []
        for play in plays:
            _, slot = _clock(rules, play.t)
            draw = self.rng()
            out.append(Decision(play.play_id, play.t, slot, draw < p, NO_CAP, NO_CAP, self.rng(),
                                _meta(p, draw)))  # fmt: skip
        return out


def make_strategy(rules: GameRules, rng: RandomSource) -> Strategy:
    if rules.strategy == "paced":
        return PacedStrategy(rng)
    if rules.strategy == "slot":
        return SlotStrategy(rng)
    if rules.strategy == "winning_moments":
        return WinningMomentsStrategy()
    return FixedOddsStrategy(rng)
