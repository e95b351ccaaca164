"""Check a game's decision log against its revealed seed, with nothing but the two: no
server, no database. ``frolic verify`` prints what this finds.

Every check is run to the end and says where it first broke, so a tampered log is named
by what was changed, not only by the first hash that no longer matches:
- seed: it hashes to the commitment published before the first play;
- chain: each entry's ``prev`` is the hash before it, and its own hash recomputes;
- draws: each play's ``u`` and ``brandU`` recompute from the seed and the play's message;
- order: the plays are in the store's decision order, ``(epoch, seq)`` rising, each seq the
  one after the last within its epoch, and each top-up right after the decision the store
  placed it after. A rebuild after a Redis loss starts a new epoch
  (seq 1 again), and the decisions the lost Redis had made but the ledger had not recorded
  are dropped and decided again: the only gaps allowed, never in the last epoch;
- outcomes: replaying the store's atomic step (``engine.step.apply``) entry by entry, from
  the published budgets and the top-ups in the log, gives each play's outcome and brand;
  at a new epoch the state is what a rebuild restores (the wins so far, the stock left).
  After a gap until the epoch ends, the dropped decisions' effect on the caps is unknown:
  a win is checked against ``u < p`` and the stock only (counted in the report);
- budget: no brand's wins exceed its coupons at any point;
- codes: every win has a code hash and no code hash repeats;
- play numbers: each player's run from 1 without a gap or a repeat;
- probabilities: every ``p`` within what the published strategy can give.
And two statistics, which fail only far out in the tails: the wins against ``Σp`` over the
plays the caps let win (a z-score), and the draws against the uniform distribution
(Kolmogorov-Smirnov). The pacing issue's fairness measures (``frolic.fairness.measures``: the
win rate of plays just after a win, just after the line steps, early in a slot, and the
best timing rule, each against the plays around it) are reported for a person to read:
a paced game's catch-up after a dead period moves them with no one cheating.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from frolic.engine import step
from frolic.engine.rules import NO_CAP, PacingState
from frolic.fairness import chain, draws
from frolic.fairness.measures import fairness
from frolic.fairness.terms import Terms

WINS_P_LIMIT = 1e-6
"""The bound on the chance of wins this far from the sum of their ``p`` under which they are
called inconsistent with it: an honest log fails at most once in a million games."""
KS_P_LIMIT = 1e-6
"""The Kolmogorov-Smirnov p-value under which the draws are called not uniform."""


@dataclass
class Check:
    name: str
    problems: list[str] = field(default_factory=list)
    count: int = 0  # problems found; only the first few are kept

    @property
    def ok(self) -> bool:
        return self.count == 0

    def fail(self, problem: str) -> None:
        self.count += 1
        if len(self.problems) < 5:
            self.problems.append(problem)


@dataclass
class Report:
    game_id: int
    entries: int
    plays: int
    wins: int
    checks: list[Check]
    stats: dict[str, float]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "game": self.game_id, "entries": self.entries, "plays": self.plays,
            "wins": self.wins,
            # JSON has no infinity: a ratio over no plays on one side is null.
            "stats": {k: v if math.isfinite(v) else None for k, v in self.stats.items()},
            "checks": {c.name: {"ok": c.ok, "failures": c.count, "first": c.problems}
                       for c in self.checks},
        }  # fmt: skip

    def text(self) -> str:
        lines = [f"game {self.game_id}: {self.entries} entries, {self.plays} plays, "
                 f"{self.wins} wins"]  # fmt: skip
        for c in self.checks:
            lines.append(f"  {'ok  ' if c.ok else 'FAIL'} {c.name}")
            lines += [f"         {p}" for p in c.problems]
            if c.count > len(c.problems):
                lines.append(f"         ... {c.count - len(c.problems)} more")
        lines += [f"  {name}: {value:.4g}" for name, value in self.stats.items()]
        lines.append("verified: the log is consistent with the seed and the terms" if self.ok
                     else "NOT verified")  # fmt: skip
        return "\n".join(lines)


_CHECKS = ("seed", "terms", "chain", "order", "draws", "outcomes", "budget", "codes",
           "play numbers", "probabilities", "wins against p", "uniform draws")  # fmt: skip


def verify(
    terms: Terms, commitment: str, seed: bytes, log: Sequence[dict[str, Any]],
    *, terms_digest: str | None = None, head: chain.Head | None = None,
) -> Report:  # fmt: skip
    """``terms_digest``, the digest published before the first play, is checked against
    the terms when given; ``head``, the chain's head as published, against the log's end
    (entries cut from the end leave every hash intact, but not the head)."""
    checks = {name: Check(name) for name in _CHECKS}
    if terms_digest is not None and terms.digest() != terms_digest:
        checks["terms"].fail(f"the terms hash to {terms.digest()}, not the published "
                             f"{terms_digest}: they were changed")  # fmt: skip
    if draws.commitment(seed) != commitment:
        checks["seed"].fail(f"SHA-256 of the seed is {draws.commitment(seed)}, not the "
                            f"commitment {commitment}: a different seed")  # fmt: skip
    _check_chain(terms.game_id, commitment, log, checks["chain"])
    ends = chain.Head(str(log[-1].get("hash")), len(log)) if log else None
    if head is not None and head.length > 0 and ends != head:
        checks["chain"].fail(f"the log ends at entry {len(log)}, not at the published head "
                             f"(entry {head.length}, {head.hash[:12]}...)")  # fmt: skip
    replay = _Replay(terms, seed, checks)
    for entry in log:
        kind = entry.get("kind")
        if kind == "topUp":
            replay.top_up(entry)
        elif kind in ("pause", "resume"):
            replay.stats[f"{kind}s"] = replay.stats.get(f"{kind}s", 0) + 1
        else:
            replay.play(entry)
    replay.finish()
    return Report(terms.game_id, len(log), replay.plays, replay.wins, list(checks.values()),
                  replay.stats)  # fmt: skip


class _Replay:
    """The log replayed through the store's atomic step, entry by entry."""

    def __init__(self, terms: Terms, seed: bytes, checks: dict[str, Check]) -> None:
        self.terms, self.seed, self.c = terms, seed, checks
        self.brands = sorted(terms.budgets)
        self.stock = [terms.budgets[b] for b in self.brands]
        self.coupons = dict(terms.budgets)
        self.won: dict[int, int] = defaultdict(int)
        self.state = PacingState(remaining=sum(self.stock))
        self.codes: dict[str, object] = {}
        self.numbers: dict[str, list[int]] = defaultdict(list)
        self.us: list[float] = []
        self.times: list[float] = []  # each play's request time, and whether it won
        self.won_at: list[bool] = []
        self.expected = self.variance = 0.0
        self.plays = self.wins = self.eligible_wins = 0
        self.stats: dict[str, float] = {}
        self.epoch: int | None = None
        self.seq = 0
        self.gap: tuple[object, int, int] | None = None  # the last epoch's dropped seqs
        self.dropped = self.loose = 0
        self.exact = True

    def top_up(self, entry: dict[str, Any]) -> None:
        epoch, seq = int(entry.get("epoch", 0)), int(entry.get("seq", 0))
        here = (self.epoch, self.seq) if self.epoch is not None else None
        if (epoch, seq) != here and not (seq == 0 and (here is None or epoch > here[0])):
            where = "before any play" if here is None else f"after seq {here[1]} of epoch {here[0]}"
            self.c["order"].fail(f"entry {entry.get('n')}: a top-up the store placed after "
                                 f"seq {seq} of epoch {epoch}, {where}")  # fmt: skip
        brand, more = int(entry["brand"]), int(entry["coupons"])
        if brand not in self.coupons:
            self.c["outcomes"].fail(f"entry {entry.get('n')}: a top-up of brand {brand}, "
                                    "which the terms do not have")  # fmt: skip
            return
        self.coupons[brand] += more
        self.stock[self.brands.index(brand)] += more

    def play(self, entry: dict[str, Any]) -> None:
        n, c, terms = entry.get("n", "?"), self.c, self.terms
        self.plays += 1
        exact = self._in_order(n, int(entry.get("epoch", 0)), int(entry.get("seq", 0)))
        player, number, client = str(entry["player"]), int(entry["play"]), str(entry["client"])
        self.numbers[player].append(number)
        d = draws.draws(self.seed, terms.game_id, player, number, client)
        if (entry["u"], entry["brandU"]) != (d.u, d.brand_u):
            c["draws"].fail(f"entry {n}: u {entry['u']} and brandU {entry['brandU']}; the "
                            f"seed gives {d.u} and {d.brand_u}")  # fmt: skip
        self.us.append(d.u)
        p = float(entry["p"])
        if not _p_allowed(terms, p):
            c["probabilities"].fail(f"entry {n}: p {p} is not one {terms.strategy} can give")
        cap = NO_CAP if entry["cap"] is None else float(entry["cap"])
        slot_cap = NO_CAP if entry["slotCap"] is None else float(entry["slotCap"])
        decision = step.Decision(f"{player}/{number}", float(entry["t"]), int(entry["slot"]),
                                 d.u < p, cap, slot_cap, d.brand_u)  # fmt: skip
        said = int(entry["brand"]) if entry["outcome"] == "WIN" else None
        if not exact:
            self._loosely(n, said, d, p)
            self._code(n, said, entry.get("code"))
            return
        before, in_stock = self.state, sum(max(v, 0) for v in self.stock) > 0
        self.state, (outcome,) = step.apply(before, self.stock, self.brands, [decision], {},
                                            void=terms.moments_void, alpha=0.0)  # fmt: skip
        self.times.append(float(entry["t"]) - terms.start)
        self.won_at.append(said is not None)
        if before.consumed < cap and _slot_room(before, decision) and in_stock:
            self.expected += p
            self.variance += p * (1 - p)
            self.eligible_wins += said is not None
        if said != outcome.brand:
            c["outcomes"].fail(f"entry {n}: {_said(said)}, but the draws and caps give "
                               f"{_said(outcome.brand)} (u {d.u:.6g}, p {p:.6g})")  # fmt: skip
        self._code(n, said, entry.get("code"))

    def _in_order(self, n: object, epoch: int, seq: int) -> bool:
        """Check the play's place in the decision order; False once a gap in its epoch
        leaves the caps unknown."""
        if self.epoch is None or epoch != self.epoch:
            if self.epoch is not None and epoch < self.epoch:
                self.c["order"].fail(f"entry {n}: epoch {epoch} after epoch {self.epoch}")
            elif self.epoch is not None:
                self.gap = None  # an earlier epoch's gap: decisions a Redis loss dropped
                wins = sum(self.won.values())
                self.state = PacingState(consumed=wins, awarded=wins,
                                         remaining=sum(max(v, 0) for v in self.stock))  # fmt: skip
            self.epoch, self.seq, self.exact = epoch, 0, True
        if seq <= self.seq:
            self.c["order"].fail(f"entry {n}: seq {seq} after seq {self.seq} in epoch {epoch}: "
                                 "entries moved or repeated")  # fmt: skip
        elif seq > self.seq + 1:
            self.dropped += seq - self.seq - 1
            self.gap, self.exact = (n, self.seq + 1, seq - 1), False
        self.seq = max(self.seq, seq)
        return self.exact

    def _loosely(self, n: object, said: int | None, d: draws.Draws, p: float) -> None:
        """A play after a gap: a win needs ``u < p`` and its brand's stock."""
        self.loose += 1
        if said is None:
            return
        if not d.u < p:
            self.c["outcomes"].fail(f"entry {n}: a WIN with u {d.u:.6g} not below p {p:.6g}")
        if said in self.brands:
            self.stock[self.brands.index(said)] -= 1

    def _code(self, n: object, said: int | None, code: str | None) -> None:
        c = self.c
        if said is None:
            if code:
                c["codes"].fail(f"entry {n}: a loss with a code hash")
            return
        self.wins += 1
        self.won[said] += 1
        if said in self.coupons and self.won[said] > self.coupons[said]:
            c["budget"].fail(f"entry {n}: brand {said}'s win {self.won[said]} of "
                             f"{self.coupons[said]} coupons")  # fmt: skip
        if not code:
            c["codes"].fail(f"entry {n}: a win without a code hash")
        elif code in self.codes:
            c["codes"].fail(f"entry {n}: code hash {code[:12]}... was issued at entry "
                            f"{self.codes[code]} too")  # fmt: skip
        else:
            self.codes[code] = n

    def finish(self) -> None:
        c = self.c
        if self.gap is not None:
            at, first, last = self.gap
            c["order"].fail(f"before entry {at}: seq {first} to {last} of the last epoch are "
                            "missing (entries removed)")  # fmt: skip
        if self.dropped:
            self.stats["decisions dropped at Redis losses (seq gaps)"] = self.dropped
            self.stats["plays after a gap, checked by u < p only"] = self.loose
        for player, seen in self.numbers.items():
            ordered = sorted(seen)
            if ordered != list(range(1, len(ordered) + 1)):
                c["play numbers"].fail(f"player {player[:12]}...: play numbers "
                                       f"{_runs(ordered)}, not 1 to {len(ordered)}")  # fmt: skip
        self.stats["expected wins (sum of p where the caps allowed)"] = self.expected
        if self.variance > 0:
            z = (self.eligible_wins - self.expected) / math.sqrt(self.variance)
            self.stats["z of those wins"] = z
            bound = wins_tail_bound(self.eligible_wins, self.expected, self.variance)
            self.stats["chance of wins this far from sum(p), at most"] = bound
            if bound < WINS_P_LIMIT:
                c["wins against p"].fail(
                    f"{self.eligible_wins} wins where sum(p) is {self.expected:.1f}: "
                    f"z = {z:.2f}, a chance of at most {bound:.2g}"
                )
        self._pacing_fairness()
        if self.us:
            ks, p_value = kolmogorov_smirnov(self.us)
            self.stats["draws' KS statistic"], self.stats["draws' KS p-value"] = ks, p_value
            if p_value < KS_P_LIMIT:
                c["uniform draws"].fail(f"KS statistic {ks:.4f}, p-value {p_value:.2g}")

    def _pacing_fairness(self) -> None:
        if len(self.times) < 2:
            return
        order = np.argsort(np.asarray(self.times), kind="stable")
        times = np.asarray(self.times)[order]
        wins = np.asarray(self.won_at)[order]
        t = self.terms
        measured = fairness(times, wins, sum(self.coupons.values()), t.end - t.start,
                            t.slot_seconds)  # fmt: skip
        for name, value in (("memory", measured.memory), ("line phase", measured.line_phase),
                            ("slot phase", measured.slot_phase),
                            ("best timing rule", measured.best_bot)):  # fmt: skip
            if value is not None:
                self.stats[f"win-rate ratio, {name}"] = value


def _check_chain(
    game_id: int, commitment: str, log: Sequence[dict[str, Any]], check: Check
) -> None:
    prev = chain.genesis(game_id, commitment)
    for position, entry in enumerate(log, 1):
        n = entry.get("n")
        if n != position:
            check.fail(f"position {position} holds entry {n}: an entry removed, added or moved")
        if entry.get("prev") != prev:
            check.fail(f"entry {n}: prev is not the hash of the entry before it")
        body = {k: v for k, v in entry.items() if k != "hash"}
        if chain.entry_hash(str(entry.get("prev")), body) != entry.get("hash"):
            check.fail(f"entry {n}: its hash does not match its content (it was edited)")
        prev = str(entry.get("hash"))


def _slot_room(state: PacingState, d: step.Decision) -> bool:
    if state.slot is None or d.slot > state.slot:
        return d.slot_cap > 0
    return state.slot_awarded < state.slot_cap


def _p_allowed(terms: Terms, p: float) -> bool:
    if not 0.0 <= p <= 1.0:
        return False
    if terms.strategy == "winning_moments":
        return p in (0.0, 1.0)
    if terms.strategy == "fixed_odds":
        return math.isclose(p, 1 / terms.odds, rel_tol=1e-5)
    return True


def _said(brand: int | None) -> str:
    return "LOSE" if brand is None else f"WIN of brand {brand}"


def _runs(numbers: list[int]) -> str:
    shown = ", ".join(map(str, numbers[:8]))
    return shown + (", ..." if len(numbers) > 8 else "")


def wins_tail_bound(wins: int, expected: float, variance: float) -> float:
    """At most the chance that independent plays, each won with its own ``p``, give wins as
    far from ``expected`` (the sum of the p) as ``wins`` are, on that side: Bennett's
    inequality for a sum of variables in [0, 1] with that variance.

    A z-score reads that chance from the normal curve, which is far too thin where the sum
    of p is small: 2 wins where it is 0.1 is z 5.7, and happens about once in 200 games
    (a Redis restart's short epochs give such games). Bennett's bound holds at any size and
    comes to the normal tail as the sum grows."""
    gap = abs(wins - expected)
    if gap == 0 or variance <= 0:
        return 1.0
    u = gap / variance
    return math.exp(-variance * ((1 + u) * math.log1p(u) - u))


def kolmogorov_smirnov(values: Sequence[float]) -> tuple[float, float]:
    """The one-sample KS statistic of ``values`` against the uniform distribution on [0, 1),
    and its asymptotic p-value (Kolmogorov's series, with Stephens' small-sample factor)."""
    ordered = sorted(values)
    n = len(ordered)
    d = max(max((i + 1) / n - x, x - i / n) for i, x in enumerate(ordered))
    t = (math.sqrt(n) + 0.12 + 0.11 / math.sqrt(n)) * d
    p = 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * t * t) for k in range(1, 101))
    return d, min(1.0, max(0.0, p))
