"""A simulated game drawn by the fairness rule, and its decision log: what ``frolic verify``
checks of a real game, so the two are checked by the same verifier.

The trace gives only request times: its plays are dealt round-robin to ``players``
synthetic players (``sim-0``, ``sim-1``, ...), each numbering their plays from 1, with no
client seed. The seed is ``SHA-256("frolic-sim|<seed>")``: public, since a simulation has
nothing to hide, and the same for the same ``--seed``. A win's code is ``SIM-<k>``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from frolic.engine.rules import GameRules
from frolic.engine.step import Decision, Outcome
from frolic.engine.strategy import Play
from frolic.fairness import chain, draws, entries
from frolic.fairness.terms import Terms, published


def sim_seed(seed: int) -> bytes:
    return hashlib.sha256(f"frolic-sim|{seed}".encode()).digest()


@dataclass
class FairDraws:
    """Each play's draws by the rule, and the log of what the engine decided with them."""

    seed: bytes
    players: int
    game_id: int = 1
    bodies: list[dict[str, Any]] = field(default_factory=list)
    _refs: dict[int, str] = field(default_factory=dict)
    _numbers: dict[int, int] = field(default_factory=dict)
    _issued: int = 0

    def play(self, index: int, t: float) -> tuple[Play, tuple[str, int]]:
        """The ``index``-th play of the trace, and who made it (pseudonym, play number)."""
        who = index % self.players
        ref = self._refs.get(who)
        if ref is None:
            ref = self._refs[who] = draws.player_ref(self.seed, self.game_id, f"sim-{who}")
        number = self._numbers[who] = self._numbers.get(who, 0) + 1
        d = draws.draws(self.seed, self.game_id, ref, number)
        return Play(str(index), t, d.u, d.brand_u), (ref, number)

    def record(self, plays: list[Play], made_by: list[tuple[str, int]],
               decided: list[tuple[Outcome, Decision]]) -> None:  # fmt: skip
        for play, (ref, number), (outcome, decision) in zip(plays, made_by, decided, strict=True):
            code = None
            if outcome.brand is not None:
                self._issued += 1
                code = chain.code_hash(self.game_id, f"SIM-{self._issued}")
            p = decision.p
            body = entries.play_body(
                player=ref, number=number, client="", decision=decision, p=p,
                draws=draws.Draws(play.u, play.brand_u), epoch=0, seq=outcome.seq,
            )  # fmt: skip
            self.bodies.append(entries.decided(body, outcome.brand, code))

    def write(self, directory: Path, rules: GameRules, stock: dict[int, int]) -> None:
        """``fairness.json`` (the seed revealed) and ``audit.jsonl`` into ``directory``."""
        terms = Terms(game_id=rules.game_id, start=rules.start, end=rules.end,
                      budgets=dict(stock), strategy=rules.strategy,
                      slot_seconds=rules.slot_seconds, odds=rules.odds,
                      moments_void=rules.moments_void)  # fmt: skip
        document = published(rules.game_id, self.seed, terms.document(), revealed=True)
        (directory / "fairness.json").write_text(json.dumps(document, indent=2) + "\n")
        head = chain.Head(chain.genesis(rules.game_id, document["commitment"]), 0)
        with (directory / "audit.jsonl").open("w") as out:
            for entry in chain.extend(head, self.bodies):
                out.write(json.dumps(entry, separators=(",", ":")) + "\n")
