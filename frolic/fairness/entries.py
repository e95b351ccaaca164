"""The bodies of the decision log's entries (``chain.extend`` numbers and chains them).

A play's entry holds what its outcome is judged by: the player's pseudonym, play number
and client seed (its message), its request time and slot, the ``p`` it was drawn against,
the caps the store judged it by (``None`` for none), its draws, the outcome and brand, and
a hash of the coupon code issued for a win. A top-up's entry holds its brand, coupons and
time: the stock the plays after it are judged by.
"""

from __future__ import annotations

from typing import Any

from frolic.engine.rules import NO_CAP
from frolic.engine.step import Decision
from frolic.fairness.draws import Draws


def _cap(cap: float) -> float | None:
    return None if cap >= NO_CAP else cap


def play_body(
    *, player: str, number: int, client: str, decision: Decision, p: float, draws: Draws,
    epoch: int, seq: int,
) -> dict[str, Any]:  # fmt: skip
    """What the allocator knows of a play's entry when the store has decided it: all but
    the outcome and the code (``decided``)."""
    return {
        "kind": "play", "player": player, "play": number, "client": client,
        "t": decision.t, "slot": decision.slot, "p": p, "cap": _cap(decision.cap),
        "slotCap": _cap(decision.slot_cap), "u": draws.u, "brandU": draws.brand_u,
        "epoch": epoch, "seq": seq,
    }  # fmt: skip


def decided(body: dict[str, Any], brand: int | None, code_hash: str | None) -> dict[str, Any]:
    """The entry's body: ``body`` with the outcome, the brand and the code issued's hash."""
    return {**body, "outcome": "LOSE" if brand is None else "WIN", "brand": brand,
            "code": code_hash}  # fmt: skip


def top_up_entry(
    *, brand: int, coupons: int, t: float, epoch: int = 0, seq: int = 0
) -> dict[str, Any]:
    """A top-up's entry: it falls after the decision ``seq`` of ``epoch`` (0: before any)."""
    return {"kind": "topUp", "brand": brand, "coupons": coupons, "t": t, "epoch": epoch,
            "seq": seq}  # fmt: skip


def pause_entry(*, kind: str, t: float) -> dict[str, Any]:
    """A pause's or resume's entry (``kind`` ``pause`` or ``resume``): when the game stopped
    or started taking plays again. It changes no caps and no stock."""
    return {"kind": kind, "t": t}
