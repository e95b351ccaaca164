"""The strategies' promises, as properties over any traffic and any clock."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frolic.engine.engine import Engine
from frolic.engine.paced import Horizon, PacedStrategy, expected_rate
from frolic.engine.rules import STRATEGIES, GameRules, PacingState, StrategyName
from frolic.engine.store import MemoryStore
from frolic.engine.strategies import (
    FixedOddsStrategy,
    SlotStrategy,
    WinningMomentsStrategy,
    make_strategy,
    winning_moments,
)
from frolic.engine.strategy import Play, Strategy
from tests.engine.conftest import new_rules


async def run(rules: GameRules, stock: dict[int, int], batches: list[list[float]],
              seed: int = 0) -> tuple[MemoryStore, Engine, list[list[bool]]]:  # fmt: skip
    store = MemoryStore()
    await store.load(rules, stock)
    engine, draw = Engine(store), random.Random(seed).random
    wins = []
    n = 0
    for batch in batches:
        plays = [Play.drawn(f"p{n + i}", t, draw) for i, t in enumerate(batch)]
        n += len(batch)
        wins.append([o.win for o in await engine.decide(rules, plays)])
    return store, engine, wins


clock = st.floats(-500, 700, allow_nan=False)  # the game runs 0..100: skew both ways


@settings(max_examples=150, deadline=None)
@given(
    strategy=st.sampled_from(STRATEGIES),
    stock=st.tuples(st.integers(0, 30), st.integers(0, 30)),
    batches=st.lists(st.lists(clock, min_size=1, max_size=40), min_size=1, max_size=8),
    odds=st.integers(1, 5),
    void=st.booleans(),
    seed=st.integers(0, 2**32),
)
async def test_every_strategy_respects_the_budget_at_any_clock(
    strategy: StrategyName, stock: tuple[int, int], batches: list[list[float]],
    odds: int, void: bool, seed: int,
) -> None:  # fmt: skip
    budget = sum(stock)
    rules = new_rules(strategy=strategy, budget=max(budget, 1), odds=odds, moments_void=void)
    store, _, wins = await run(rules, {7: stock[0], 8: stock[1]}, batches, seed)
    left = await store.stock(rules)
    awarded = sum(map(sum, wins))
    assert awarded <= budget
    assert min(left.values()) >= 0
    assert awarded == budget - sum(left.values())
    assert (await store.state(rules)).awarded == awarded


async def test_a_replayed_batch_gets_the_same_outcomes() -> None:
    rules = new_rules(budget=20)
    store = MemoryStore()
    await store.load(rules, {7: 10, 8: 10})
    engine, draw = Engine(store), random.Random(1).random
    plays = [Play.drawn(f"p{i}", i * 0.1, draw) for i in range(300)]
    first = await engine.decide(rules, plays)
    again = await engine.decide(rules, plays)
    assert [o.brand for o in again] == [o.brand for o in first]
    assert all(o.replay for o in again)


@settings(max_examples=60, deadline=None)
@given(
    bursts=st.lists(st.tuples(st.floats(0, 99), st.integers(1, 400)), min_size=1, max_size=6),
    budget=st.integers(1, 200),
)
async def test_paced_never_spends_ahead_of_its_line(
    bursts: list[tuple[float, int]], budget: int
) -> None:
    rules = new_rules(budget=budget, slot_seconds=2.0)
    times = sorted(t + i * 1e-4 for t, n in bursts for i in range(n))
    batches = [times[i : i + 25] for i in range(0, len(times), 25)]
    _, _, wins = await run(rules, {7: budget, 8: 0}, batches)
    flat = [w for batch in wins for w in batch]
    awarded = 0
    ahead = Horizon().ahead(budget)
    for t, won in zip(times, flat, strict=True):
        awarded += won
        assert awarded <= math.ceil(budget * min(t, rules.end) / rules.duration + ahead)


async def test_paced_winners_are_not_predictable() -> None:
    rules = new_rules(budget=100, end=1000.0, slot_seconds=5.0)
    batches = [[i * 0.05 + j * 0.01 for j in range(5)] for i in range(4000)]
    winners = []
    for seed in (1, 2):
        _, _, wins = await run(rules, {7: 100, 8: 0}, batches, seed)
        flat = [w for batch in wins for w in batch]
        winners.append({i for i, w in enumerate(flat) if w})
    a, b = winners
    assert abs(len(a) - len(b)) <= 2  # same pace ...
    assert len(a & b) / len(a | b) < 0.2  # ... different winners


def test_slot_strategy_case_1_is_the_seed_probability() -> None:
    rules = new_rules(strategy="slot", end=1000.0, slot_seconds=5.0)
    state = PacingState(remaining=10)
    # 1000 s left in 5 s slots: 200 slots, P_base = 10 / 200
    (decision,) = SlotStrategy().plan(rules, state, [Play("a", 0.0, 0.01, 0.01)])
    assert decision.p == pytest.approx(0.05)
    assert decision.want  # 0.01 < 0.05


def test_slot_strategy_case_2_fixes_the_slots_share() -> None:
    rules = new_rules(strategy="slot", end=100.0, slot_seconds=5.0)
    state = PacingState(remaining=50)  # 20 slots left: P_base = 2.5
    low = SlotStrategy().plan(rules, state, [Play("a", 0.0, 0.1, 0.1)])[0]
    high = SlotStrategy().plan(rules, state, [Play("a", 0.0, 0.9, 0.9)])[0]
    assert (low.slot_cap, high.slot_cap) == (3, 2)  # floor 2, plus 1 when draw < 0.5
    assert low.want
    assert high.want


@pytest.mark.parametrize(
    ("void", "wins"), [(False, [True, True, True]), (True, [True, False, False])]
)
async def test_moments_roll_over_or_die(void: bool, wins: list[bool]) -> None:
    rules = new_rules(strategy="winning_moments", budget=3, moments_void=void, moments_seed=5)
    moments = winning_moments(rules, PacingState(remaining=3))
    assert moments == sorted(moments)
    assert len(moments) == 3
    assert winning_moments(rules, PacingState(remaining=3)) == moments  # every allocator agrees
    after_all = moments[-1] + 0.001
    _, _, got = await run(rules, {7: 3, 8: 0}, [[after_all] * 3])
    assert got == [wins]


async def test_moments_are_claimed_by_the_first_play_at_or_after_them() -> None:
    rules = new_rules(strategy="winning_moments", budget=2, moments_seed=9)
    first, second = winning_moments(rules, PacingState(remaining=2))
    times = [first - 0.01, first, first + 0.001, second + 0.001]
    _, _, got = await run(rules, {7: 2, 8: 0}, [times])
    assert got == [[False, True, False, True]]


async def test_fixed_odds_win_one_in_n() -> None:
    rules = new_rules(strategy="fixed_odds", budget=5000, odds=10, end=1000.0)
    batches = [[i * 0.05] for i in range(20000)]
    _, _, wins = await run(rules, {7: 5000, 8: 0}, batches)
    assert 1800 < sum(map(sum, wins)) < 2200


def test_expected_plays_blend_forecast_and_observation() -> None:
    # A 4 s slot from 0 to 4; expected plays left = rate x seconds left.
    forecast_only = expected_rate(0.0, 0.0, 4.0, 4.0, 1, 40.0) * 4.0
    assert forecast_only == pytest.approx(40.0)  # 10/s for the whole slot
    halfway = expected_rate(2.0, 0.0, 4.0, 4.0, 40, 40.0) * 2.0
    # observed 20/s, planned 10/s, half the slot gone: 15/s for the 2 s left
    assert halfway == pytest.approx(30.0)
    assert expected_rate(0.0, 0.0, 4.0, 4.0, 1, None) == math.inf  # nothing known yet


async def test_paced_refused_wants_do_not_use_up_the_batch() -> None:
    # Batches of 10 s: at the end of the game one batch holds the last coupon's unlock and
    # many plays that want to win before it; those refused must not end the batch's tries.
    rules = new_rules(budget=50, end=100.0, slot_seconds=5.0)
    times = [i * 0.02 for i in range(5000)]
    batches = [times[i : i + 500] for i in range(0, len(times), 500)]
    store, _, _ = await run(rules, {7: 50, 8: 0}, batches)
    assert (await store.state(rules)).awarded == 50


async def test_slot_case_is_fixed_per_slot_across_a_batch() -> None:
    # P_base = 20 coupons / 20 slots = 1: case 2, one coupon a slot. One batch spans many
    # slots; a slot must never open uncapped because the batch counted refused wants.
    rules = new_rules(strategy="slot", budget=20, end=20.0, slot_seconds=1.0)
    times = [i * 0.01 for i in range(2000)]
    batches = [times[i : i + 400] for i in range(0, len(times), 400)]
    _, _, wins = await run(rules, {7: 20, 8: 0}, batches)
    flat = [w for batch in wins for w in batch]
    per_slot = [sum(flat[s * 100 : (s + 1) * 100]) for s in range(20)]
    assert max(per_slot) <= 2  # floor(P_base), plus one by chance
    assert sum(per_slot[:10]) <= 12  # not spent in the first half


async def test_paced_spreads_a_mid_game_top_up_over_the_time_left() -> None:
    # 100 s, 100 coupons, 50 plays a second; at t = 50 the budget doubles. The line was 50
    # there: from then on it runs to 200 at the end, 3 a second, not 2 (the line B' t / T
    # would owe 50 coupons at once, dumped on the plays of the next second).
    rules = new_rules(budget=100, end=100.0, slot_seconds=1.0)
    store = MemoryStore()
    await store.load(rules, {7: 100, 8: 0})
    engine, draw = Engine(store), random.Random(3).random
    awarded_by_second: list[int] = []
    for second in range(100):
        if second == 50:
            assert await store.top_up(rules, 8, 100, "top-up", 50.0)
        plays = [Play.drawn(f"p{second}-{i}", second + i / 50, draw) for i in range(50)]
        awarded_by_second.append(sum(o.win for o in await engine.decide(rules, plays)))
    cumulative = list(itertools.accumulate(awarded_by_second))
    assert cumulative[-1] == 200
    # About 3 a second, drawn: a fair lottery's seconds vary; a dump would be ~50.
    assert max(awarded_by_second[50:]) <= 8
    for second in range(50, 100):
        target = 50 + 3 * (second + 1 - 50)
        assert target - 4 <= cumulative[second] <= target + 1  # the cap's lead


async def test_paced_spreads_a_late_starts_budget_over_the_time_left() -> None:
    # 100 s, 100 coupons, 50 plays a second, but the budget is loaded (the game goes live)
    # only at t = 50. Anchored there at 0, the line runs to 100 at the end, 2 a second; the
    # line B t / T would owe 50 coupons at once, dumped on the plays of the first second.
    rules = new_rules(budget=100, end=100.0, slot_seconds=1.0)
    store = MemoryStore()
    await store.load(rules, {7: 100, 8: 0}, t=50.0)
    engine, draw = Engine(store), random.Random(3).random
    awarded_by_second: list[int] = []
    for second in range(50, 100):
        plays = [Play.drawn(f"p{second}-{i}", second + i / 50, draw) for i in range(50)]
        awarded_by_second.append(sum(o.win for o in await engine.decide(rules, plays)))
    cumulative = list(itertools.accumulate(awarded_by_second))
    assert cumulative[-1] == 100
    assert max(awarded_by_second) <= 4  # about 2 a second, nothing dumped
    for n, done in enumerate(cumulative):
        target = 2 * (n + 1)
        assert target - 3 <= done <= target + 1  # the cap's lead


async def test_paced_spreads_what_is_left_after_a_pause_over_the_time_left() -> None:
    # 90 s, 90 coupons, 50 plays a second, paused from 30 s to 60 s: no plays then, but the
    # line kept rising to 60. Re-anchored at the resume at the ~30 awarded, the line runs
    # to 90 at the end, 2 a second; left at 60, it would owe 30 coupons at once, dumped on
    # the plays of the first second. The engine last saw the state before the pause: it
    # must plan on the new anchor all the same.
    rules = new_rules(budget=90, end=90.0, slot_seconds=1.0)
    store = MemoryStore()
    await store.load(rules, {7: 90, 8: 0})
    engine, draw = Engine(store), random.Random(3).random
    awarded_by_second: dict[int, int] = {}
    for second in itertools.chain(range(30), range(60, 90)):
        if second == 60:
            paused_with = (await store.state(rules)).awarded
            assert await store.resume(rules, 60.0) == (60.0, paused_with)
        plays = [Play.drawn(f"p{second}-{i}", second + i / 50, draw) for i in range(50)]
        awarded_by_second[second] = sum(o.win for o in await engine.decide(rules, plays))
    assert 27 <= paused_with <= 31
    assert sum(awarded_by_second.values()) == 90
    assert max(awarded_by_second[s] for s in range(60, 90)) <= 4  # about 2, nothing dumped
    done = paused_with
    for second in range(60, 90):
        done += awarded_by_second[second]
        target = paused_with + (90 - paused_with) * (second + 1 - 60) / 30
        assert target - 3 <= done <= target + 1  # the cap's lead


async def moments_by_second(
    store: MemoryStore, rules: GameRules, seconds: Iterable[int],
    event: tuple[int, Callable[[], Awaitable[None]]] | None = None,
) -> dict[int, int]:  # fmt: skip
    """Awards per second of ``winning_moments`` at 50 plays a second, ``event`` run at the
    start of its second."""
    engine, draw = Engine(store), random.Random(3).random
    awarded: dict[int, int] = {}
    for second in seconds:
        if event is not None and second == event[0]:
            await event[1]()
        plays = [Play.drawn(f"p{second}-{i}", second + (i + 1) / 50, draw) for i in range(50)]
        awarded[second] = sum(o.win for o in await engine.decide(rules, plays))
    return awarded


def near_line(awarded: dict[int, int], start: int, per_second: float, owed: int = 0) -> bool:
    """Whether the awards from ``start`` on keep near ``owed`` then ``per_second`` a second.
    n instants drawn uniformly stray from their line by about sqrt(n) (Kolmogorov-Smirnov:
    beyond 2 sqrt(n) one draw in a few thousand)."""
    seconds = sorted(s for s in awarded if s >= start)
    slack = 2 * math.sqrt(per_second * len(seconds)) + 1  # + 1: a claim waits for a play
    done = 0
    for second in seconds:
        done += awarded[second]
        if abs(done - owed - per_second * (second + 1 - start)) > slack:
            return False
    return True


def awarded_before(awarded: dict[int, int], start: int) -> int:
    return sum(n for s, n in awarded.items() if s < start)


async def test_moments_spread_a_late_starts_budget_over_the_time_left() -> None:
    # 100 s, 100 coupons, live only at t = 50: drawn over the whole game, the 50 instants
    # already past would go to the plays of the first second.
    rules = new_rules(strategy="winning_moments", budget=100, end=100.0, moments_seed=11)
    store = MemoryStore()
    await store.load(rules, {7: 100, 8: 0}, t=50.0)
    awarded = await moments_by_second(store, rules, range(50, 100))
    assert sum(awarded.values()) == 100
    assert max(awarded.values()) <= 12  # about 2 a second, nothing dumped
    assert near_line(awarded, 50, 2.0)


async def test_moments_spread_a_mid_game_top_up_over_the_time_left() -> None:
    # 100 s, 100 coupons, doubled at t = 50: the line was 50 there and runs to 200, 3 a
    # second. Drawn again over the whole game, ~100 instants would be past at the top-up
    # and ~50 of them go to the plays of the next second. Now 50 are drawn before it and
    # 150 after: the next second pays only what the first draw had left behind the line
    # (instants drawn at random are a few ahead or behind it), then 3 a second.
    rules = new_rules(strategy="winning_moments", budget=100, end=100.0, moments_seed=11)
    store = MemoryStore()
    await store.load(rules, {7: 100, 8: 0})

    async def top_up() -> None:
        assert await store.top_up(rules, 8, 100, "top-up", 50.0)

    awarded = await moments_by_second(store, rules, range(100), (50, top_up))
    owed = 50 - awarded_before(awarded, 50)
    assert sum(awarded.values()) == 200
    assert max(awarded[s] for s in range(50, 100)) <= max(0, owed) + 12
    assert near_line(awarded, 50, 3.0, owed)


async def test_moments_spread_what_is_left_after_a_pause_over_the_time_left() -> None:
    # 90 s, 90 coupons, paused from 30 s to 60 s: the instants of the pause would all be
    # due at the resume. Re-anchored there, what is left runs to the end, 2 a second.
    rules = new_rules(strategy="winning_moments", budget=90, end=90.0, moments_seed=11)
    store = MemoryStore()
    await store.load(rules, {7: 90, 8: 0})

    async def resume() -> None:
        await store.resume(rules, 60.0)

    seconds = itertools.chain(range(30), range(60, 90))
    awarded = await moments_by_second(store, rules, seconds, (60, resume))
    paused_with = awarded_before(awarded, 60)
    assert 15 <= paused_with <= 45  # a third of 90 instants drawn uniformly
    assert sum(awarded.values()) == 90
    assert max(awarded[s] for s in range(60, 90)) <= 12  # about 2 a second, nothing dumped
    assert near_line(awarded, 60, (90 - paused_with) / 30)


@settings(max_examples=60, deadline=None)
@given(
    strategy=st.sampled_from(STRATEGIES),
    batches=st.lists(st.lists(clock, min_size=1, max_size=30), min_size=1, max_size=6),
    top_ups=st.lists(st.tuples(st.integers(0, 5), st.sampled_from([7, 8]), st.integers(1, 20),
                               clock), max_size=4),
    seed=st.integers(0, 2**32),
)  # fmt: skip
async def test_top_ups_at_any_time_never_overspend(
    strategy: StrategyName, batches: list[list[float]],
    top_ups: list[tuple[int, int, int, float]], seed: int,
) -> None:  # fmt: skip
    rules = new_rules(strategy=strategy, budget=10)
    store = MemoryStore()
    await store.load(rules, {7: 5, 8: 5})
    engine, draw = Engine(store), random.Random(seed).random
    budget, awarded = 10, 0
    for n, batch in enumerate(batches):
        for i, (before, brand, coupons, t) in enumerate(top_ups):
            if before == n:
                assert await store.top_up(rules, brand, coupons, f"op{i}", t)
                budget += coupons
        plays = [Play.drawn(f"p{n}-{i}", t, draw) for i, t in enumerate(batch)]
        awarded += sum(o.win for o in await engine.decide(rules, plays))
        left = await store.stock(rules)
        assert min(left.values()) >= 0
        assert awarded == budget - sum(left.values())


def recorded_p(strategy: Strategy, rules: GameRules, state: PacingState, t: float) -> float:
    """The ``p`` that ``plan`` writes into the audit of one play at ``t`` from ``state``."""
    (decision,) = strategy.plan(rules, state, [Play("next", t, 0.5, 0.5)])
    return decision.p


@settings(max_examples=150, deadline=None)
@given(
    strategy=st.sampled_from(STRATEGIES),
    stock=st.integers(0, 40),
    batches=st.lists(st.lists(clock, min_size=1, max_size=30), max_size=6),
    at=st.lists(clock, min_size=1, max_size=5),
    odds=st.integers(1, 5),
    void=st.booleans(),
    slot_seconds=st.sampled_from([1.0, 3.0, 5.0]),
    seed=st.integers(0, 2**32),
)
async def test_chance_is_the_p_plan_records_for_the_next_play(
    strategy: StrategyName, stock: int, batches: list[list[float]], at: list[float],
    odds: int, void: bool, slot_seconds: float, seed: int,
) -> None:  # fmt: skip
    """From any state a game's plays lead to (case 1 and 2 of ``slot``, a share used up,
    stock out, instants claimed or not, paced's slots opened or not), at any clock; but
    ``fixed_odds`` out of stock, whose ``plan`` leaves the stock to the store."""
    rules = new_rules(strategy=strategy, budget=max(stock, 1), odds=odds, moments_void=void,
                      moments_seed=seed % 1000, slot_seconds=slot_seconds)  # fmt: skip
    store, _, _ = await run(rules, {7: stock, 8: 0}, batches, seed)
    state = await store.state(rules)
    for t in at:
        chooser = make_strategy(rules)
        chance, recorded = chooser.chance(rules, state, t), recorded_p(chooser, rules, state, t)
        assert 0.0 <= chance <= 1.0
        if strategy == "fixed_odds" and state.remaining == 0:
            assert chance == 0.0
            assert recorded == pytest.approx(1 / odds, rel=1e-5)
            continue
        assert chance == pytest.approx(recorded, rel=1e-5, abs=1e-9)


def test_slot_chance_is_one_until_the_share_is_used_then_none() -> None:
    rules = new_rules(strategy="slot", end=100.0, slot_seconds=5.0)
    slot = SlotStrategy()
    opened = PacingState(remaining=50, slot=0, slot_cap=2.0, slot_awarded=1)
    assert slot.chance(rules, opened, 1.0) == recorded_p(slot, rules, opened, 1.0) == 1.0
    used = replace(opened, slot_awarded=2)
    assert slot.chance(rules, used, 1.0) == recorded_p(slot, rules, used, 1.0) == 0.0
    (late,) = slot.plan(rules, used, [Play("late", 1.0, 0.5, 0.5)])
    assert not late.want  # recorded with p 0, it does not try to win either
    # The next slot is not opened yet: 50 coupons over 19 slots left, case 2 again.
    assert slot.chance(rules, used, 5.0) == recorded_p(slot, rules, used, 5.0) == 1.0
    few = PacingState(remaining=10, slot=0, slot_awarded=0)  # case 1: P_base = 10 / 20
    assert slot.chance(rules, few, 1.0) == recorded_p(slot, rules, few, 1.0) == 0.5


def test_fixed_odds_chance_is_one_in_odds_while_stock_lasts() -> None:
    rules = new_rules(strategy="fixed_odds", odds=4)
    fixed = FixedOddsStrategy()
    stocked, empty = PacingState(remaining=1), PacingState(remaining=0)
    assert fixed.chance(rules, stocked, 10.0) == recorded_p(fixed, rules, stocked, 10.0) == 0.25
    assert fixed.chance(rules, empty, 10.0) == 0.0
    # plan still lets the play try: the store may hold stock this state has not seen yet.
    assert recorded_p(fixed, rules, empty, 10.0) == 0.25


def test_moments_chance_is_one_once_an_unclaimed_instant_is_due() -> None:
    rules = new_rules(strategy="winning_moments", budget=2, moments_seed=9)
    state = PacingState(remaining=2)
    first, second = winning_moments(rules, state)
    moments = WinningMomentsStrategy()
    for t, chance in [(first - 0.01, 0.0), (first, 1.0), (second + 1, 1.0)]:
        assert moments.chance(rules, state, t) == recorded_p(moments, rules, state, t) == chance
    claimed = replace(state, consumed=1, awarded=1, remaining=1)
    assert moments.chance(rules, claimed, first + 0.01) == 0.0
    assert recorded_p(moments, rules, claimed, first + 0.01) == 0.0
    assert moments.chance(rules, claimed, second) == 1.0


async def test_paced_chance_is_the_p_of_the_next_play_mid_game() -> None:
    """After plays in the open slot (its count and awards move the rate and what is held),
    in the same slot, the next one, and a later one."""
    rules = new_rules(budget=200, end=1000.0, slot_seconds=5.0)
    batches = [[i * 0.1 + j * 0.01 for j in range(10)] for i in range(700)]
    store, _, _ = await run(rules, {7: 200, 8: 0}, batches, seed=4)
    state = await store.state(rules)
    assert state.slot is not None
    assert state.awarded > 0
    paced = PacedStrategy()
    chances = {t: paced.chance(rules, state, t) for t in (69.995, 70.5, 74.9, 75.0, 83.2, 999.0)}
    assert all(0 < chances[t] < 1 for t in (69.995, 70.5, 75.0))  # a lottery, not a rule
    for t, chance in chances.items():
        assert chance == pytest.approx(recorded_p(paced, rules, state, t), rel=1e-5)
