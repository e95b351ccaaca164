"""Budget stores: where a game's stock and pacing state live, changed only atomically.

Three implementations keep the same contract (``tests/engine/test_store_contract.py``):
``MemoryStore`` here (the simulator's), and ``redis_store.LuaStore`` and
``redis_store.OptimisticStore`` (production, with the WATCH/MULTI fallback).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from frolic.engine import ledger
from frolic.engine.ledger import Decision, Outcome
from frolic.engine.rules import GameRules, PacingState


class BudgetStore(Protocol):
    async def load(self, rules: GameRules, stock: Mapping[int, int]) -> None:
        """Set each brand's stock and start the game's pacing state afresh."""

    async def state(self, rules: GameRules) -> PacingState:
        """The game's state as stored now."""

    async def stock(self, rules: GameRules) -> dict[int, int]:
        """Remaining coupons per brand."""

    async def decide(
        self, rules: GameRules, decisions: Sequence[Decision]
    ) -> tuple[PacingState, list[Outcome]]:
        """Apply a batch atomically (see ``ledger``); the state after, and the outcomes."""

    async def result(self, rules: GameRules, play_id: str, t: float) -> str | None:
        """The stored result document of the play made at ``t``, while it lives."""


@dataclass
class _Game:
    state: PacingState
    stock: list[int]
    decided: dict[str, int] = field(default_factory=dict)
    results: dict[str, str] = field(default_factory=dict)


class MemoryStore:
    """One process's dictionaries; atomic because nothing awaits inside ``decide``."""

    def __init__(self) -> None:
        self._games: dict[int, _Game] = {}

    async def load(self, rules: GameRules, stock: Mapping[int, int]) -> None:
        levels = [stock.get(b, 0) for b in rules.brands]
        self._games[rules.game_id] = _Game(PacingState(remaining=sum(levels)), levels)

    async def state(self, rules: GameRules) -> PacingState:
        return self._game(rules).state

    async def stock(self, rules: GameRules) -> dict[int, int]:
        return dict(zip(rules.brands, self._game(rules).stock, strict=True))

    async def decide(
        self, rules: GameRules, decisions: Sequence[Decision]
    ) -> tuple[PacingState, list[Outcome]]:
        return self.decide_now(rules, decisions)

    def decide_now(
        self, rules: GameRules, decisions: Sequence[Decision]
    ) -> tuple[PacingState, list[Outcome]]:
        """``decide`` without the event loop, for the simulator's hot path."""
        game = self._game(rules)
        game.state, outcomes, results = ledger.apply(
            game.state, game.stock, rules.brands, decisions, game.decided,
            void=rules.moments_void,
        )  # fmt: skip
        game.results.update(results)
        return game.state, outcomes

    async def result(self, rules: GameRules, play_id: str, t: float) -> str | None:
        return self._game(rules).results.get(play_id)

    def _game(self, rules: GameRules) -> _Game:
        try:
            return self._games[rules.game_id]
        except KeyError:
            raise KeyError(f"game {rules.game_id} is not loaded into the store") from None
