"""The probability strategies (DESIGN.md §5), and the one that a game's rules name.
Pure: each play brings its draws, no I/O. ``paced``, the default, is ``engine.paced``; the
others are the seed's slot formula, the industry's winning moments and fixed odds."""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Sequence

from frolic.engine.paced import DEFAULT_HORIZON, Horizon, PacedStrategy
from frolic.engine.rules import NO_CAP, GameRules, PacingState
from frolic.engine.step import Decision
from frolic.engine.strategy import Play, Strategy, position


class SlotStrategy:
    """The seed's formula exactly (seed-design.md §4.4): P_base = remaining / slots left.

    Case 1, P_base < 1: each play wins with probability P_base.
    Case 2, P_base >= 1: the slot's share is floor(P_base), plus one with probability
    frac(P_base); every play of the slot wins until the share is used. The store fixes
    the share when the slot's first play arrives, so all allocators agree on it.
    """

    name = "slot"

    def plan(self, rules: GameRules, state: PacingState, plays: Sequence[Play]) -> list[Decision]:
        remaining = state.remaining
        # The open slot as the store has it: its share (NO_CAP in case 1) and its awards.
        slot, share, given = state.slot, state.slot_cap, state.slot_awarded
        out = []
        for play in plays:
            t, k = position(rules, play.t)
            p_base = remaining / math.ceil(max(1.0, rules.end - t) / rules.slot_seconds)
            draw = play.u
            if slot is None or k > slot:
                # A slot's first play fixes its case and share, for every play of the slot.
                share = NO_CAP
                if p_base >= 1:
                    fixed = math.floor(p_base)
                    share = float(min(fixed + (1 if draw < p_base - fixed else 0), remaining))
                slot, given = k, 0
            if share < NO_CAP:
                # Case 2: every play wins until the share is used; after that none can.
                p = 1.0 if given < share and remaining > 0 else 0.0
            else:
                p = min(1.0, p_base)  # case 1
            want = draw < p
            if want and given < share and remaining > 0:
                given += 1
                remaining -= 1
            out.append(Decision(play.play_id, play.t, k, want, NO_CAP, share, play.brand_u,
                                "", p))  # fmt: skip
        return out

    def chance(self, rules: GameRules, state: PacingState, t: float) -> float:
        """``plan``'s ``p`` for a play at ``t`` from ``state``: in the open slot, 1 while its
        share (case 2) has coupons left and 0 after; in an uncapped slot, or a slot not
        opened yet (whose first play fixes a share of at least one if ``P_base >= 1``),
        ``P_base``, at most 1."""
        t, k = position(rules, t)
        if state.slot is not None and k <= state.slot and state.slot_cap < NO_CAP:
            left = state.slot_awarded < state.slot_cap and state.remaining > 0
            return 1.0 if left else 0.0
        p_base = state.remaining / math.ceil(max(1.0, rules.end - t) / rules.slot_seconds)
        return min(1.0, p_base)


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
            t, slot = position(rules, play.t)
            passed = bisect.bisect_right(instants, t)
            want = consumed < passed
            meta = ""
            if want:
                meta = f'"moment":{instants[consumed]:.3f}'
                consumed = passed if rules.moments_void else consumed + 1
            out.append(Decision(play.play_id, play.t, slot, want, float(passed), NO_CAP,
                                play.brand_u, meta, 1.0 if want else 0.0))  # fmt: skip
        return out

    def chance(self, rules: GameRules, state: PacingState, t: float) -> float:
        """1 if an instant not yet claimed is due at ``t`` (a play then claims it), else 0:
        the ``p`` that ``plan`` records."""
        t, _ = position(rules, t)
        passed = bisect.bisect_right(self.instants(rules, state), t)
        return 1.0 if state.consumed < passed else 0.0


class FixedOddsStrategy:
    """One win in ``odds`` plays, while stock lasts: the classic, for comparison."""

    name = "fixed_odds"

    def plan(self, rules: GameRules, state: PacingState, plays: Sequence[Play]) -> list[Decision]:
        p = 1 / rules.odds
        out = []
        for play in plays:
            _, slot = position(rules, play.t)
            out.append(Decision(play.play_id, play.t, slot, play.u < p, NO_CAP, NO_CAP,
                                play.brand_u, "", p))  # fmt: skip
        return out

    def chance(self, rules: GameRules, state: PacingState, t: float) -> float:
        """``1 / odds`` while stock remains, else 0. ``plan`` records ``1 / odds`` even out
        of stock: it leaves the stock to the store, whose view may be a batch fresher than
        ``state`` (a top-up), so a play it would not have let try may still win."""
        return 1 / rules.odds if state.remaining > 0 else 0.0


def make_strategy(rules: GameRules, horizon: Horizon = DEFAULT_HORIZON) -> Strategy:
    if rules.strategy == "paced":
        return PacedStrategy(horizon=horizon)
    if rules.strategy == "slot":
        return SlotStrategy()
    if rules.strategy == "winning_moments":
        return WinningMomentsStrategy()
    return FixedOddsStrategy()
