"""Deciding plays: the one path production allocators and the simulator both take."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from frolic.engine.rules import GameRules, PacingState
from frolic.engine.step import Decision, Outcome
from frolic.engine.store import BudgetStore, GameLost
from frolic.engine.strategies import make_strategy
from frolic.engine.strategy import Play, Strategy


class Engine:
    """Plans with a game's strategy and applies the plan in one store call per batch.

    It remembers each game's state as of its own last call, so a batch costs one round
    trip; another allocator's moves since then are caught by the store's atomic caps and
    seen at the next call. After a whole slot without plays it reads the state afresh:
    a gap is when the line's anchor may have moved under it (a resume re-anchors it), and
    the caps come from the plan, so a plan on the old anchor could spend the pause's share
    at once. With plays in every slot that costs nothing; in a quiet game, one read a batch.
    """

    def __init__(
        self, store: BudgetStore, strategies: Callable[[GameRules], Strategy] = make_strategy
    ) -> None:
        """``strategies`` makes each game's strategy: the simulator passes other knobs."""
        self.store = store
        self.strategies = strategies
        self._states: dict[int, PacingState] = {}
        self._strategies: dict[GameRules, Strategy] = {}

    async def decide(self, rules: GameRules, plays: Sequence[Play]) -> list[Outcome]:
        return [outcome for outcome, _ in await self.decide_audited(rules, plays)]

    async def decide_audited(
        self, rules: GameRules, plays: Sequence[Play]
    ) -> list[tuple[Outcome, Decision]]:
        """Each outcome with the decision behind it (its probability and draw). ``GameLost``
        (nothing decided) if the store lost the game: the state it had is forgotten too."""
        state = self._states.get(rules.game_id)
        try:
            if state is None or self._refresh(rules, state, plays):
                state = await self.store.state(rules)
            decisions = self.strategy(rules).plan(rules, state, plays)
            self._states[rules.game_id], outcomes = await self.store.decide(rules, decisions)
        except GameLost:
            self._states.pop(rules.game_id, None)
            raise
        return list(zip(outcomes, decisions, strict=True))

    def epoch(self, game_id: int) -> int:
        """The epoch the game's last batch was decided under (``PacingState.epoch``)."""
        return self._states[game_id].epoch

    @staticmethod
    def _refresh(rules: GameRules, state: PacingState, plays: Sequence[Play]) -> bool:
        """Whether a whole slot went by without plays since ``state``."""
        if state.slot is None:
            return True
        first = min((p.t for p in plays), default=rules.start)
        return rules.slot_of(min(first, rules.end)) > state.slot + 1

    def strategy(self, rules: GameRules) -> Strategy:
        strategy = self._strategies.get(rules)
        if strategy is None:
            strategy = self._strategies[rules] = self.strategies(rules)
        return strategy
