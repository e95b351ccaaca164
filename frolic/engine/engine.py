"""Deciding plays: the one path production allocators and the simulator both take."""

from __future__ import annotations

from collections.abc import Sequence

from frolic.engine.ledger import Decision, Outcome
from frolic.engine.rules import GameRules, PacingState
from frolic.engine.store import BudgetStore
from frolic.engine.strategies import Play, RandomSource, Strategy, make_strategy


class Engine:
    """Plans with a game's strategy and applies the plan in one store call per batch.

    It remembers each game's state as of its own last call, so a batch costs one round
    trip; another allocator's moves since then are caught by the store's atomic caps and
    seen at the next call.
    """

    def __init__(self, store: BudgetStore, rng: RandomSource) -> None:
        self.store = store
        self.rng = rng
        self._states: dict[int, PacingState] = {}
        self._strategies: dict[GameRules, Strategy] = {}

    async def decide(self, rules: GameRules, plays: Sequence[Play]) -> list[Outcome]:
        return [outcome for outcome, _ in await self.decide_audited(rules, plays)]

    async def decide_audited(
        self, rules: GameRules, plays: Sequence[Play]
    ) -> list[tuple[Outcome, Decision]]:
        """Each outcome with the decision behind it (its probability and draw)."""
        state = self._states.get(rules.game_id)
        if state is None:
            state = await self.store.state(rules)
        decisions = self.strategy(rules).plan(rules, state, plays)
        self._states[rules.game_id], outcomes = await self.store.decide(rules, decisions)
        return list(zip(outcomes, decisions, strict=True))

    def strategy(self, rules: GameRules) -> Strategy:
        strategy = self._strategies.get(rules)
        if strategy is None:
            strategy = self._strategies[rules] = make_strategy(rules, self.rng)
        return strategy
