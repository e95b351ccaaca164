"""The history checker on hand-made ledgers: a clean one passes, and each kind of planted
violation is reported (so the checker cannot pass a broken run silently)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from frolic_chaos.history import Budget, Ledger, Play, Report, Sent, check

GAME, BRAND, OTHER = 1, 10, 11


def play(n: int, *, win: bool = False, **changes: object) -> Play:
    base = Play(
        play_id=f"p{n}", game_id=GAME, status="WIN" if win else "LOSE", user_id=100 + n,
        brand=BRAND if win else None, coupon_id=n if win else None,
        code=f"c{n}" if win else None, code_brand=BRAND if win else None,
        issued_to=100 + n if win else None, requested=1000.0,
    )  # fmt: skip
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def clean() -> tuple[Sent, Ledger]:
    """Four plays, two of them wins, of a budget of 3; every record agrees."""
    sent = Sent(requests=5, plays=4)
    for n in range(4):
        sent.answered(f"u{n}", f"k{n}", f"p{n}")
    sent.answered("u0", "k0", "p0")  # a retry, same play
    plays = [play(0, win=True), play(1, win=True), play(2), play(3)]
    ledger = Ledger(
        plays=plays,
        budgets=[Budget(GAME, BRAND, total=3, remaining=1, in_redis=1, issued=2)],
        pools={GAME: {"c0", "c1", "c2", "c3"}},
        remembered={"p0": BRAND, "p1": BRAND, "p2": 0},
    )
    return sent, ledger


def test_a_clean_history_holds() -> None:
    report = check(*clean())
    assert report.holds, report.violations
    assert (report.sent, report.accepted, report.finalized) == (4, 4, 4)
    assert report.requests == 5


def _overspend(sent: Sent, ledger: Ledger) -> None:
    ledger.plays[2:] = [play(2, win=True), play(3, win=True)]
    ledger.budgets[0] = Budget(GAME, BRAND, total=3, remaining=-1, in_redis=0, issued=4)


def _second_play_id(sent: Sent, ledger: Ledger) -> None:
    sent.answered("u1", "k1", "p9")
    ledger.plays.append(play(9))


def _redis_disagrees(sent: Sent, ledger: Ledger) -> None:
    ledger.remembered["p2"] = BRAND


def _two_finals(sent: Sent, ledger: Ledger) -> None:
    sent.observe("p1", "WIN", "c1")
    sent.observe("p1", "LOSE", None)


def _code_held_twice(sent: Sent, ledger: Ledger) -> None:
    ledger.plays[1] = play(1, win=True, coupon_id=0, code="c0")


def _win_without_code(sent: Sent, ledger: Ledger) -> None:
    ledger.plays[1] = play(1, win=True, coupon_id=None, code=None, code_brand=None)


def _foreign_code(sent: Sent, ledger: Ledger) -> None:
    ledger.plays[1] = play(1, win=True, code="elsewhere")


def _code_of_another_brand(sent: Sent, ledger: Ledger) -> None:
    ledger.plays[1] = play(1, win=True, code_brand=OTHER)


def _code_not_locked(sent: Sent, ledger: Ledger) -> None:
    ledger.plays[1] = play(1, win=True, issued_to=7)


def _code_issued_without_win(sent: Sent, ledger: Ledger) -> None:
    ledger.budgets[0] = dataclasses.replace(ledger.budgets[0], issued=3)


def _lost(sent: Sent, ledger: Ledger) -> None:
    ledger.plays[3] = play(3, status="QUEUED")


def _no_row(sent: Sent, ledger: Ledger) -> None:
    del ledger.plays[3]


def _redis_stock_off(sent: Sent, ledger: Ledger) -> None:
    ledger.budgets[0] = dataclasses.replace(ledger.budgets[0], in_redis=2)


def _postgres_remaining_off(sent: Sent, ledger: Ledger) -> None:
    ledger.budgets[0] = dataclasses.replace(ledger.budgets[0], remaining=3)


PLANTED: dict[str, tuple[Callable[[Sent, Ledger], None], str, str | None]] = {
    # name: (plant, invariant reported, count that must go up)
    "overspend": (_overspend, "§4.1", "overspent"),
    "retry got a second playId": (_second_play_id, "§4.2", "duplicated"),
    "Redis remembers another outcome": (_redis_disagrees, "§4.2", "duplicated"),
    "two different final messages": (_two_finals, "§4.2", "duplicated"),
    "a code held by two plays": (_code_held_twice, "§4.3", "duplicated"),
    "a win without a code": (_win_without_code, "§4.3", None),
    "a code from outside the pool": (_foreign_code, "§4.3", None),
    "a code of another brand": (_code_of_another_brand, "§4.3", None),
    "a code not locked to the winner": (_code_not_locked, "§4.3", None),
    "a code issued without its win": (_code_issued_without_win, "§4.3", None),
    "a play still QUEUED": (_lost, "§4.4", "lost"),
    "a play with no row": (_no_row, "§4.4", "lost"),
    "Redis stock off": (_redis_stock_off, "§4.6", None),
    "PostgreSQL remaining off": (_postgres_remaining_off, "§4.6", None),
}


@pytest.mark.parametrize("planted", list(PLANTED))
def test_each_planted_violation_is_reported(planted: str) -> None:
    plant, invariant, count = PLANTED[planted]
    sent, ledger = clean()
    plant(sent, ledger)
    report: Report = check(sent, ledger)
    assert not report.holds
    assert any(v.startswith(invariant) for v in report.violations), report.violations
    if count is not None:
        assert getattr(report, count) >= 1
