"""Every budget store keeps the same contract: the ledger's rules, atomically.

The in-memory store is the reference; the Lua store (single Redis and Cluster) and the
optimistic WATCH/MULTI store must give the same outcomes and states for the same input.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio.cluster import RedisCluster

from frolic.engine import keys, scripts
from frolic.engine.redis_store import LuaStore, OptimisticStore
from frolic.engine.rules import NO_CAP, PacingState
from frolic.engine.step import Decision, Outcome
from frolic.engine.store import BudgetStore, GameLost, MemoryStore
from frolic.redis_client import connect
from frolic.stack import Endpoints
from tests.engine.conftest import new_rules


def request_time(play_id: str) -> float:
    """A play's request time, derived from its id so that a replay keeps it; ids spread
    over several hours and 10 s buckets, so batches span more than one of each."""
    return sum(map(ord, play_id)) * 97.0 % 20_000


def want(play_id: str, slot: int = 0, *, cap: float = NO_CAP, slot_cap: float = NO_CAP,
         draw: float = 0.5, wants: bool = True) -> Decision:  # fmt: skip
    return Decision(play_id, request_time(play_id), slot, wants, cap, slot_cap, draw,
                    f'"p":1,"id":"{play_id}"')  # fmt: skip


async def test_load_sets_stock_and_fresh_state(store: BudgetStore) -> None:
    rules = new_rules()
    await store.load(rules, {7: 3, 8: 4})
    assert await store.stock(rules) == {7: 3, 8: 4}
    assert await store.state(rules) == PacingState(remaining=7)


async def test_a_load_after_the_start_anchors_the_line_at_zero(store: BudgetStore) -> None:
    rules = new_rules()  # runs 0..100
    late = 40.123456789012345  # any float goes and comes back to the last bit
    await store.load(rules, {7: 3, 8: 4}, t=late)
    assert await store.state(rules) == PacingState(remaining=7, line_t=late, line_from=0.0)
    # At the start or before it, or with no time, the line has no anchor: it runs from 0
    # at the start, as it always did.
    for t in (0.0, -30.0, None):
        await store.load(rules, {7: 3, 8: 4}, t=t)
        assert await store.state(rules) == PacingState(remaining=7)
    await store.load(rules, {7: 3, 8: 4}, t=250.0)  # after the end: clamped to it
    assert await store.state(rules) == PacingState(remaining=7, line_t=100.0, line_from=0.0)


async def test_a_load_replaces_the_anchor_and_keeps_the_top_ups(store: BudgetStore) -> None:
    """Scheduled, then live: the budget loaded at schedule time (before the start) and
    topped up is loaded afresh at go-live, and that load's anchor is the one that counts."""
    rules = new_rules()
    await store.load(rules, {7: 3, 8: 0}, t=-20.0)
    assert await store.top_up(rules, 7, 2, "op", -10.0)
    await store.load(rules, {7: 5, 8: 0}, t=30.0)
    assert await store.state(rules) == PacingState(remaining=5, line_t=30.0, line_from=0.0)
    assert not await store.top_up(rules, 7, 2, "op", 31.0)  # applied once, still
    assert await store.stock(rules) == {7: 5, 8: 0}


async def test_a_restore_brings_the_anchor_back(store: BudgetStore) -> None:
    if not isinstance(store, LuaStore | OptimisticStore):
        pytest.skip("the in-memory store is never lost, so it has nothing to restore")
    rules = new_rules()
    await store.load(rules, {7: 4, 8: 4}, t=10.0)
    await store.decide(rules, [want("a"), want("b")])
    assert await store.top_up(rules, 8, 5, "op", 1 / 3 * 100)
    before = await store.state(rules)
    assert before.line_t is not None
    assert await store.restore(rules, await store.stock(rules), 2, {},
                               (before.line_t, before.line_from)) == 0  # fmt: skip
    restored = await store.state(rules)
    assert (restored.line_t, restored.line_from) == (before.line_t, before.line_from)
    assert (restored.awarded, restored.remaining) == (2, 11)
    await store.restore(rules, await store.stock(rules), 2, {})  # no anchor to restore
    assert (await store.state(rules)).line_t is None


async def test_a_game_not_loaded_is_lost_never_empty(store: BudgetStore) -> None:
    """A game the store does not hold (never loaded, or Redis lost it) refuses every step
    and writes nothing: it must be rebuilt, never decided as a game without stock."""
    rules = new_rules()
    with pytest.raises(GameLost):
        await store.decide(rules, [want("a")])
    with pytest.raises(GameLost):
        await store.state(rules)
    with pytest.raises(GameLost):
        await store.top_up(rules, 7, 1, "op", 10.0)
    with pytest.raises(GameLost):
        await store.resume(rules, 10.0)
    await store.load(rules, {7: 1, 8: 0}, epoch=5)
    assert (await store.state(rules)).epoch == 5
    state, outcomes = await store.decide(rules, [want("a")])
    assert outcomes == [Outcome("a", 7, seq=1)]  # "a" was not recorded as decided before
    assert state.epoch == 5
    assert await store.top_up(rules, 7, 1, "op", 10.0)  # nor the top-up as applied


async def test_a_state_from_another_redis_run_is_lost(store: BudgetStore) -> None:
    """A Redis started again may come back from older files, the game's epoch included:
    a state loaded under another run (another run_id) is refused like a missing one, until
    a restore marks it this run's."""
    if not isinstance(store, LuaStore | OptimisticStore):
        pytest.skip("the in-memory store has no restarts")
    rules = new_rules()
    await store.load(rules, {7: 2, 8: 0}, epoch=3)
    assert await store.loaded_epochs([rules.game_id]) == [3]
    await store.client.hset(keys.pacing(rules.game_id), "run", "an-older-run")
    assert await store.loaded_epoch(rules.game_id) is None
    with pytest.raises(GameLost):
        await store.decide(rules, [want("a")])
    with pytest.raises(GameLost):
        await store.top_up(rules, 7, 1, "op", 10.0)
    with pytest.raises(GameLost):
        await store.resume(rules, 10.0)
    assert await store.stock(rules) == {7: 2, 8: 0}  # nothing was decided or written
    await store.restore(rules, {7: 1, 8: 0}, 1, {}, epoch=4)
    assert await store.loaded_epoch(rules.game_id) == 4
    _, outcomes = await store.decide(rules, [want("a")])
    assert outcomes == [Outcome("a", 7, seq=1)]  # the rebuilt epoch's first decision


async def test_a_restore_replaces_what_redis_held(store: BudgetStore) -> None:
    """A restore puts back what the ledger holds and nothing else: an outcome Redis had and
    the ledger did not is gone (its play is decided afresh), a recorded one stays."""
    if not isinstance(store, LuaStore | OptimisticStore):
        pytest.skip("the in-memory store is never lost, so it has nothing to restore")
    store.clock = lambda: 10_000.0  # the contract's plays are made in the first hours
    rules = new_rules()
    await store.load(rules, {7: 4, 8: 0}, epoch=3)
    _, first = await store.decide(rules, [want("a"), want("b")])
    assert [o.brand for o in first] == [7, 7]
    recorded = {(keys.processed_bucket(request_time("a")), "a"): 7}
    assert await store.restore(rules, {7: 3, 8: 0}, 1, recorded, epoch=4) == 1
    state, again = await store.decide(rules, [want("a"), want("b", wants=False)])
    # A restored outcome has no place in the new epoch's order; "b" is its first decision.
    assert again == [Outcome("a", 7, replay=True), Outcome("b", None, seq=1)]
    assert (state.epoch, state.awarded, state.remaining) == (4, 1, 3)


async def test_budget_is_never_overspent(store: BudgetStore) -> None:
    rules = new_rules()
    await store.load(rules, {7: 2, 8: 1})
    state, outcomes = await store.decide(rules, [want(f"p{i}") for i in range(10)])
    assert sum(o.win for o in outcomes) == 3
    assert [o.win for o in outcomes] == [True] * 3 + [False] * 7
    assert await store.stock(rules) == {7: 0, 8: 0}
    assert state.awarded == 3
    assert state.remaining == 0


async def test_a_replay_returns_the_stored_outcome_and_changes_nothing(
    store: BudgetStore,
) -> None:
    rules = new_rules()
    await store.load(rules, {7: 1, 8: 0})
    _, first = await store.decide(rules, [want("a"), want("b")])
    before = await store.state(rules)
    # Replayed with different intents: the stored outcome stands.
    after, again = await store.decide(rules, [want("b", wants=True), want("a", wants=False)])
    # A replay keeps its place in the decision order and how it was judged, so its log
    # entry is the first decision's.
    judged = (0.0, NO_CAP, NO_CAP)
    assert again == [Outcome("b", None, True, 2, judged), Outcome("a", 7, True, 1, judged)]
    assert first == [Outcome("a", 7, seq=1), Outcome("b", None, seq=2)]
    assert after == before


async def test_a_replay_is_judged_as_its_first_decision_was(store: BudgetStore) -> None:
    """Planned again on a later state (another ``p``, other caps), a replay gets its first
    decision's ``p`` and caps back, exactly, with its outcome: what its log entry shows."""
    rules = new_rules()
    await store.load(rules, {7: 3, 8: 0})
    first = want("a", cap=2.5, slot_cap=1.0)._replace(p=0.123456789012345678)
    await store.decide(rules, [first, want("b", wants=False)._replace(p=0.5)])
    later = want("a", cap=9.0)._replace(p=0.9)
    _, (again,) = await store.decide(rules, [later])
    assert again == Outcome("a", 7, True, 1, (0.123456789012345678, 2.5, 1.0))
    _, (loss,) = await store.decide(rules, [want("b")])
    assert loss.judged == (0.5, NO_CAP, NO_CAP)


async def test_decisions_are_numbered_in_the_order_of_the_atomic_steps(
    store: BudgetStore,
) -> None:
    """Each new decision gets the next ``seq`` of its epoch (what the decision log is chained
    by), across batches; a play twice in a batch is decided (and numbered) once; a replay
    in a later batch gets its first seq back; a load starts the numbering again."""
    rules = new_rules()
    await store.load(rules, {7: 5, 8: 0}, epoch=2)
    _, first = await store.decide(rules, [want("a"), want("b", wants=False), want("a")])
    assert [(o.play_id, o.seq, o.replay) for o in first] == [
        ("a", 1, False), ("b", 2, False), ("a", 1, True),
    ]  # fmt: skip
    state, second = await store.decide(rules, [want("c"), want("b"), want("d", wants=False)])
    assert [(o.play_id, o.seq, o.replay) for o in second] == [
        ("c", 3, False), ("b", 2, True), ("d", 4, False),
    ]  # fmt: skip
    assert state.plays == 4
    await store.load(rules, {7: 5, 8: 0}, epoch=3)
    _, third = await store.decide(rules, [want("e")])
    assert third[0].seq == 1


async def test_a_top_up_keeps_its_place_in_the_decision_order(store: BudgetStore) -> None:
    """A top-up falls after the decisions made before it (the decision log puts its entry
    there): its place is recorded with it, atomically, and a retry finds the same one."""
    rules = new_rules()
    await store.load(rules, {7: 5, 8: 0}, epoch=4)
    assert await store.top_up(rules, 8, 2, "first", 10.0)
    await store.decide(rules, [want("a"), want("b")])
    assert await store.top_up(rules, 7, 1, "second", 10.0)
    assert not await store.top_up(rules, 7, 1, "second", 10.0)  # a retry
    await store.decide(rules, [want("c")])
    assert await store.top_up_place(rules, "first") == (4, 0)
    assert await store.top_up_place(rules, "second") == (4, 2)
    assert await store.top_up_place(rules, "never") is None


async def test_the_cumulative_cap_holds(store: BudgetStore) -> None:
    rules = new_rules()
    await store.load(rules, {7: 50, 8: 50})
    _, outcomes = await store.decide(rules, [want(f"p{i}", cap=2.5) for i in range(6)])
    assert sum(o.win for o in outcomes) == 3  # consumed 0, 1, 2 are each < 2.5


async def test_the_slot_cap_is_fixed_by_the_slots_first_play(store: BudgetStore) -> None:
    rules = new_rules()
    await store.load(rules, {7: 50, 8: 50})
    plays = [
        want("a", 0, slot_cap=2), want("b", 0, slot_cap=9), want("c", 0),
        want("d", 1, slot_cap=1), want("e", 1),
    ]  # fmt: skip
    state, outcomes = await store.decide(rules, plays)
    assert [o.win for o in outcomes] == [True, True, False, True, False]
    assert (state.slot, state.slot_cap, state.slot_awarded) == (1, 1, 1)


async def test_forecast_learns_from_closed_slots(store: BudgetStore) -> None:
    rules = new_rules()
    await store.load(rules, {7: 0, 8: 0})
    await store.decide(rules, [want(f"a{i}", 0, wants=False) for i in range(10)])
    state, _ = await store.decide(rules, [want("b", 1, wants=False)])
    assert state.forecast == 10  # the first closed slot seeds it
    state, _ = await store.decide(rules, [want("c", 4, wants=False)])
    # slot 1 closed with 1 play, then slots 2 and 3 were empty
    a = rules.forecast_alpha
    assert state.forecast == pytest.approx(((1 - a) * 10 + a * 1) * (1 - a) ** 2)
    assert state.plays == 12


async def test_late_play_counts_in_the_current_slot(store: BudgetStore) -> None:
    rules = new_rules()
    await store.load(rules, {7: 5, 8: 0})
    await store.decide(rules, [want("a", 3, slot_cap=1)])
    state, outcomes = await store.decide(rules, [want("late", 2, slot_cap=5)])
    assert not outcomes[0].win  # slot 3's cap of 1 is used
    assert (state.slot, state.slot_plays) == (3, 2)


async def test_brand_is_drawn_by_remaining_stock(store: BudgetStore) -> None:
    rules = new_rules()
    await store.load(rules, {7: 1, 8: 3})
    # total 4: a draw below 1/4 picks brand 7, the rest brand 8
    _, outcomes = await store.decide(rules, [want("a", draw=0.24), want("b", draw=0.0)])
    assert [o.brand for o in outcomes] == [7, 8]
    _, outcomes = await store.decide(rules, [want(f"c{i}", draw=0.0) for i in range(3)])
    assert [o.brand for o in outcomes] == [8, 8, None]


async def test_void_mode_consumes_every_passed_moment(store: BudgetStore) -> None:
    rules = new_rules(strategy="winning_moments", moments_void=True)
    await store.load(rules, {7: 10, 8: 0})
    # Three moments have passed when the first play claims: the other two die.
    state, outcomes = await store.decide(rules, [want("a", cap=3), want("b", cap=3)])
    assert [o.win for o in outcomes] == [True, False]
    assert (state.awarded, state.consumed) == (1, 3)


async def game_keys(client: Any, game_id: int) -> set[bytes]:
    """Every key of the game's hash tag, on the one node that holds them in a Cluster."""
    pattern = f"*{{{game_id}}}*"
    if isinstance(client, RedisCluster):
        node = client.get_node_from_key(keys.pacing(game_id))
        found = await client.keys(pattern, target_nodes=node)
    else:
        found = await client.keys(pattern)
    return {k if isinstance(k, bytes) else k.encode() for k in found}


async def test_a_decided_play_leaves_its_outcome_and_nothing_else_in_redis(
    store: BudgetStore,
) -> None:
    """Each new play's outcome and seq go into its hour's processed hash, which lives to the
    hour's end plus ``processed_ttl``; no result document is written (nothing reads one),
    and a replay writes nothing."""
    if not isinstance(store, LuaStore | OptimisticStore):
        pytest.skip("the in-memory store has no keys")
    store.clock = lambda: 5_000.0
    rules = new_rules()
    await store.load(rules, {7: 1, 8: 0})
    before = await game_keys(store.client, rules.game_id)
    await store.decide(rules, [want("w"), want("l"), want("w")])
    hours = {keys.processed_bucket(request_time(p)) for p in ("w", "l")}
    written = await game_keys(store.client, rules.game_id) - before
    assert written == {keys.processed(rules.game_id, h).encode() for h in hours}
    # The brand won (0: none), its seq, and its p and caps as judged ('' for none).
    for p, brand in (("w", b"7:1:0.0::"), ("l", b"0:2:0.0::")):
        hour = keys.processed_bucket(request_time(p))
        key = keys.processed(rules.game_id, hour)
        assert await store.client.hget(key, p) == brand
        lives = (hour + 1) * keys.PROCESSED_BUCKET_SECONDS - 5_000 + store.processed_ttl
        assert lives - 2 <= await store.client.ttl(key) <= max(lives, store.processed_ttl)


batches = st.lists(
    st.lists(
        st.tuples(
            st.integers(0, 30),  # play id, small so replays happen
            st.integers(0, 6),  # slot
            st.booleans(),  # want
            st.sampled_from([0.0, 1.0, 2.5, 5.0, NO_CAP]),  # cap
            st.sampled_from([0.0, 1.0, 3.0, NO_CAP]),  # slot cap
            st.floats(0, 1, exclude_max=True),  # brand draw
        ),
        min_size=1,
        max_size=12,
    ),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=batches, stock=st.tuples(st.integers(0, 5), st.integers(0, 5)),
       void=st.booleans())  # fmt: skip
async def test_every_store_matches_the_reference(
    store: BudgetStore, batches: list[list[tuple[int, int, bool, float, float, float]]],
    stock: tuple[int, int], void: bool,
) -> None:  # fmt: skip
    rules = new_rules(moments_void=void)
    reference = MemoryStore()
    for s in (store, reference):
        await s.load(rules, {7: stock[0], 8: stock[1]})
    for batch in batches:
        decisions = [
            Decision(f"p{i}", request_time(f"p{i}"), slot, w, cap, slot_cap, draw, f'"n":{i}')
            for i, slot, w, cap, slot_cap, draw in batch
        ]
        got = await store.decide(rules, decisions)
        expected = await reference.decide(rules, decisions)
        assert got == expected
        for stock_left in (await store.stock(rules)).values():
            assert stock_left >= 0
    assert await store.state(rules) == await reference.state(rules)


async def test_a_top_up_adds_stock_once_and_anchors_the_line(store: BudgetStore) -> None:
    rules = new_rules()  # runs 0..100
    await store.load(rules, {7: 4, 8: 4})
    await store.decide(rules, [want("a"), want("b")])  # two awarded, six left
    assert await store.top_up(rules, 8, 5, "op-1", 25.0)
    # The line was 8 * 25 / 100 = 2 at t = 25; from there it climbs to 13 at the end.
    state = await store.state(rules)
    assert (state.line_t, state.line_from, state.remaining, state.awarded) == (25.0, 2.0, 11, 2)
    stock = await store.stock(rules)
    assert sum(stock.values()) == 11
    assert stock[8] >= 5
    # A retry of the same operation changes nothing, even with other figures.
    assert not await store.top_up(rules, 8, 9, "op-1", 50.0)
    assert await store.state(rules) == state
    assert await store.stock(rules) == stock
    # A second top-up anchors on the line as it runs after the first: 2 + 11 * 50 / 75.
    assert await store.top_up(rules, 7, 3, "op-2", 75.0)
    again = await store.state(rules)
    assert (again.line_t, again.remaining) == (75.0, 14)
    assert again.line_from == 2.0 + (13 - 2.0) * ((75.0 - 25.0) / (100.0 - 25.0))


async def test_a_top_up_can_add_a_brand(store: BudgetStore) -> None:
    rules = new_rules(brands=(7,))
    await store.load(rules, {7: 1})
    grown = dataclasses.replace(rules, brands=(7, 9))
    assert await store.top_up(grown, 9, 2, "op", -5.0)  # before the start: no anchor moves
    state = await store.state(grown)
    assert (state.line_t, state.line_from, state.remaining) == (0.0, 0.0, 3)
    assert await store.stock(grown) == {7: 1, 9: 2}
    _, outcomes = await store.decide(grown, [want(f"p{i}", draw=0.99) for i in range(4)])
    assert [o.brand for o in outcomes] == [9, 9, 7, None]


async def test_a_resume_anchors_the_line_at_what_was_awarded(store: BudgetStore) -> None:
    rules = new_rules()  # runs 0..100
    await store.load(rules, {7: 4, 8: 4})
    await store.decide(rules, [want("a"), want("b")])  # two awarded, six left
    before = await store.state(rules)
    now = 100 / 3  # any float goes and comes back to the last bit
    assert await store.resume(rules, now) == (now, 2.0)
    # From 2 coupons now the line climbs to 8 at the end; nothing else changes.
    assert await store.state(rules) == dataclasses.replace(before, line_t=now, line_from=2.0)
    # A retry anchors again, at what is awarded by then; a clock behind the anchor stays
    # at the anchor's time, and one past the end stops there.
    await store.decide(rules, [want("c", 3)])
    assert await store.resume(rules, 20.0) == (now, 3.0)
    assert await store.resume(rules, 250.0) == (100.0, 3.0)
    state = await store.state(rules)
    assert (state.line_t, state.line_from, state.awarded, state.remaining) == (100.0, 3.0, 3, 5)


async def test_a_resume_before_the_start_anchors_at_the_start(store: BudgetStore) -> None:
    rules = new_rules(start=10.0)
    await store.load(rules, {7: 4, 8: 0})
    assert await store.resume(rules, -5.0) == (10.0, 0.0)  # the line the game had anyway


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=batches, stock=st.tuples(st.integers(0, 5), st.integers(0, 5)),
       top_ups=st.lists(st.tuples(st.sampled_from([7, 8]), st.integers(1, 4),
                                  st.floats(-10, 120, allow_nan=False), st.integers(0, 2)),
                        min_size=1, max_size=6),
       resumes=st.lists(st.none() | st.floats(-10, 120, allow_nan=False), min_size=1,
                        max_size=6),
       loaded=st.none() | st.floats(-10, 120, allow_nan=False))  # fmt: skip
async def test_top_ups_and_resumes_between_batches_match_the_reference(
    store: BudgetStore, batches: list[list[tuple[int, int, bool, float, float, float]]],
    stock: tuple[int, int], top_ups: list[tuple[int, int, float, int]],
    resumes: list[float | None], loaded: float | None,
) -> None:  # fmt: skip
    rules = new_rules()
    reference = MemoryStore()
    for s in (store, reference):
        await s.load(rules, {7: stock[0], 8: stock[1]}, t=loaded)
    for n, batch in enumerate(batches):
        brand, coupons, t, op = top_ups[n % len(top_ups)]
        applied = await store.top_up(rules, brand, coupons, f"op{op}", t)
        assert applied == await reference.top_up(rules, brand, coupons, f"op{op}", t)
        resumed = resumes[n % len(resumes)]
        if resumed is not None:
            assert await store.resume(rules, resumed) == await reference.resume(rules, resumed)
        decisions = [
            Decision(f"p{i}", request_time(f"p{i}"), slot, w, cap, slot_cap, draw, f'"n":{i}')
            for i, slot, w, cap, slot_cap, draw in batch
        ]
        assert await store.decide(rules, decisions) == await reference.decide(rules, decisions)
        assert await store.state(rules) == await reference.state(rules)
        assert await store.stock(rules) == await reference.stock(rules)


async def test_seed_decrement_script(endpoints: Endpoints) -> None:
    """The seed's one-call-per-play decrement, the allocate benchmark's baseline."""
    client = connect(endpoints.redis_url)
    store = LuaStore(client)
    rules = new_rules()
    await store.load(rules, {7: 2, 8: 0})
    decrement = client.register_script(scripts.SEED_DECREMENT)
    assert await decrement(keys=[keys.budget(rules.game_id, 7)], args=[2])
    assert not await decrement(keys=[keys.budget(rules.game_id, 7)], args=[1])
    assert not await decrement(keys=[keys.budget(rules.game_id, 8)], args=[1])
    assert await store.stock(rules) == {7: 0, 8: 0}
    await client.aclose()


def test_settings_select_the_store(endpoints: Endpoints) -> None:
    from frolic.config import Settings
    from frolic.engine.redis_store import OptimisticStore, store_for

    client = connect(endpoints.redis_url)
    assert isinstance(store_for(Settings(), client), LuaStore)
    chosen = store_for(Settings(budget_store="optimistic", processed_ttl_seconds=600), client)
    assert isinstance(chosen, OptimisticStore)
    assert chosen.processed_ttl == 600
