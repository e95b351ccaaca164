"""Which recorded decisions and top-ups the chainer may chain now (``log_rows.chainable``):
the run from the head without a gap, a gap stepped over only once its epoch is over."""

from __future__ import annotations

from frolic.fairness import chain
from frolic.fairness.log_rows import Pending, Place, chainable

HEAD = chain.Head("0" * 64, 0)


def at(epoch: int, seq: int) -> Place:
    return Place(HEAD, epoch, seq)


def plays(epoch: int, *seqs: int) -> list[Pending]:
    return [Pending(epoch, s, False, None) for s in seqs]


def top_up(epoch: int, after: int) -> Pending:
    return Pending(epoch, after, True, None)


def keys(taken: list[Pending]) -> list[tuple[int, int, bool]]:
    return [p.key() for p in taken]


def test_the_run_without_a_gap_is_chained_and_a_gap_is_waited_for() -> None:
    assert keys(chainable(plays(5, 1, 2, 3, 5, 6), at(0, 0), 5)) == keys(plays(5, 1, 2, 3))
    # seq 4 recorded later: the rest follows from where the head stands
    assert keys(chainable(plays(5, 4, 5, 6), at(5, 3), 5)) == keys(plays(5, 4, 5, 6))


def test_the_first_decision_of_a_game_is_waited_for() -> None:
    assert chainable(plays(5, 2, 3), at(0, 0), 5) == []


def test_a_gap_in_an_epoch_that_is_over_is_stepped_over() -> None:
    """Epoch 5 is over (a rebuild made 7): its seq 4 will never be recorded."""
    pending = plays(5, 5, 6) + plays(7, 1, 2)
    assert keys(chainable(pending, at(5, 3), 7)) == keys(pending)


def test_the_next_epoch_starts_at_its_first_decision() -> None:
    # Epoch 5 is over, but 7's first decision is not recorded yet: wait for it.
    assert chainable(plays(7, 2, 3), at(5, 9), 7) == []
    # A whole later epoch over (9 is current): its missing start will never come.
    assert keys(chainable(plays(7, 2), at(5, 9), 9)) == keys(plays(7, 2))


def test_a_top_up_follows_the_decision_the_store_placed_it_after() -> None:
    pending = sorted([*plays(5, 1, 2, 3), top_up(5, 2)], key=Pending.key)
    assert keys(chainable(pending, at(0, 0), 5)) == [
        (5, 1, False), (5, 2, False), (5, 2, True), (5, 3, False),
    ]  # fmt: skip
    # Its decision not chained yet: the top-up waits with it.
    assert chainable([top_up(5, 2)], at(5, 1), 5) == []
    # Before any decision of the epoch (a top-up of a scheduled game, or right at the start).
    assert keys(chainable([top_up(5, 0), *plays(5, 1)], at(0, 0), 5)) == [
        (5, 0, True), (5, 1, False),
    ]  # fmt: skip
