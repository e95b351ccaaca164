"""A game's published terms: what its draws and caps are judged by. Their digest is shown
with the commitment before the first play; a top-up or a pause is appended to the log
as an entry of its own, with its time, and changes neither."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from frolic.fairness.chain import canonical
from frolic.fairness.draws import ALGORITHM, commitment


@dataclass(frozen=True)
class Terms:
    game_id: int
    start: float  # epoch seconds
    end: float
    budgets: dict[int, int] = field(default_factory=dict)  # brand id -> coupons
    strategy: str = "paced"
    slot_seconds: float = 5.0
    odds: int = 100  # fixed_odds
    moments_void: bool = False  # winning_moments
    reveal_seconds: float = 10.0

    def document(self) -> dict[str, Any]:
        """The terms as published (JSON; brand ids as strings, as JSON keys are)."""
        body = asdict(self)
        body["budgets"] = {str(b): n for b, n in sorted(self.budgets.items())}
        return {"algorithm": ALGORITHM, **body}

    def digest(self) -> str:
        """``SHA-256`` of the document as canonical JSON (``chain.canonical``), in hex."""
        return hashlib.sha256(canonical(self.document())).hexdigest()

    @classmethod
    def parse(cls, document: Mapping[str, Any]) -> Terms:
        fields = {k: v for k, v in document.items() if k != "algorithm"}
        fields["budgets"] = {int(b): int(n) for b, n in fields.get("budgets", {}).items()}
        return cls(**fields)


def published(
    game_id: int, seed: bytes, terms: Mapping[str, Any], *, revealed: bool
) -> dict[str, Any]:
    """The game's fairness document as ``GET /games/{id}/fairness`` shows it and
    ``frolic verify`` reads it: the commitment, the terms and their digest, and the seed
    only when ``revealed``."""
    return {
        "gameId": game_id, "algorithm": ALGORITHM, "commitment": commitment(seed),
        "terms": dict(terms), "termsDigest": Terms.parse(terms).digest(), "revealed": revealed,
        "seed": seed.hex() if revealed else None,
    }  # fmt: skip
