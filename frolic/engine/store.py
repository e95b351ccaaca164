"""Budget stores: where a game's stock and pacing state live, changed only atomically.

Three implementations keep the same contract (``tests/engine/test_store_contract.py``):
``MemoryStore`` here (the simulator's), and ``redis_store.LuaStore`` and
``redis_store.OptimisticStore`` (production, with the WATCH/MULTI fallback).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from frolic.engine import step
from frolic.engine.rules import GameRules, PacingState
from frolic.engine.step import Decision, Outcome


class GameLost(KeyError):
    """The store holds no state for the game: never loaded, or lost with Redis (a restart
    without persistence, a flush). Nothing was decided or changed; the game must be
    restored from the ledger first (``frolic.reconcile.recovery``). A missing game is never
    read as a game with no stock."""

    def __init__(self, game_id: int) -> None:
        super().__init__(f"game {game_id} is not loaded into the store")
        self.game_id = game_id


class BudgetStore(Protocol):
    async def load(
        self, rules: GameRules, stock: Mapping[int, int], t: float | None = None, epoch: int = 0
    ) -> None:
        """Set each brand's stock and start the game's pacing state afresh, under ``epoch``
        (``PacingState.epoch``). Loaded at ``t`` after the game's start, the pacing line is
        anchored there at 0 (``step.line_at_load``); loaded before it (or with no ``t``),
        it has no anchor."""

    async def top_up(
        self, rules: GameRules, brand_id: int, coupons: int, operation: str, t: float
    ) -> bool:
        """Add coupons to one brand's stock (one of ``rules.brands``) and re-anchor the pacing
        line at ``t`` (``step.line_after_top_up``), atomically and once per ``operation``;
        False when the operation was applied before and nothing changed. ``GameLost`` if
        the game is not loaded."""

    async def top_up_place(self, rules: GameRules, operation: str) -> tuple[int, int] | None:
        """Where the top-up ``operation`` fell in the game's decision order: ``(epoch,
        seq)``, after the decision with that seq (0: before any). Recorded atomically with
        the top-up, so a retry learns it too; None if the store has no such top-up."""

    async def resume(self, rules: GameRules, t: float) -> tuple[float, float]:
        """Re-anchor the pacing line at ``t`` at the coupons awarded so far
        (``step.line_at_resume``), atomically: a paused game's line kept rising, and
        this spreads what is left over the time left instead. The anchor written.
        ``GameLost`` if the game is not loaded."""

    async def state(self, rules: GameRules) -> PacingState:
        """The game's state as stored now; ``GameLost`` if it is not loaded."""

    async def stock(self, rules: GameRules) -> dict[int, int]:
        """Remaining coupons per brand."""

    async def decide(
        self, rules: GameRules, decisions: Sequence[Decision]
    ) -> tuple[PacingState, list[Outcome]]:
        """Apply a batch atomically (see ``step``); the state after, and the outcomes.
        ``GameLost`` (and nothing decided) if the game is not loaded."""


@dataclass
class _Game:
    state: PacingState
    stock: dict[int, int]
    decided: dict[str, step.Stored] = field(default_factory=dict)
    top_ups: dict[str, tuple[int, int]] = field(default_factory=dict)  # op -> place


class MemoryStore:
    """One process's dictionaries; atomic because nothing awaits inside ``decide``."""

    def __init__(self) -> None:
        self._games: dict[int, _Game] = {}

    async def load(
        self, rules: GameRules, stock: Mapping[int, int], t: float | None = None, epoch: int = 0
    ) -> None:
        levels = {b: stock.get(b, 0) for b in rules.brands}
        game = self._games.get(rules.game_id)
        top_ups = {} if game is None else game.top_ups  # Redis keeps them across a load too
        state = PacingState(remaining=sum(levels.values()), epoch=epoch)
        anchor = step.line_at_load(rules.start, rules.end, t)
        if anchor is not None:
            state = replace(state, line_t=anchor[0], line_from=anchor[1])
        self._games[rules.game_id] = _Game(state, levels, top_ups=top_ups)

    async def top_up(
        self, rules: GameRules, brand_id: int, coupons: int, operation: str, t: float
    ) -> bool:
        if brand_id not in rules.brands:
            raise ValueError(f"brand {brand_id} is not among the game's {rules.brands}")
        game = self._game(rules)
        if operation in game.top_ups:
            return False
        state = replace(game.state, remaining=self._remaining(game, rules))
        line_t, line_from = step.line_after_top_up(state, rules.start, rules.end, t)
        game.stock[brand_id] = game.stock.get(brand_id, 0) + coupons
        game.top_ups[operation] = (state.epoch, state.plays)
        game.state = replace(
            state, line_t=line_t, line_from=line_from, remaining=self._remaining(game, rules)
        )
        return True

    async def top_up_place(self, rules: GameRules, operation: str) -> tuple[int, int] | None:
        return self._game(rules).top_ups.get(operation)

    async def resume(self, rules: GameRules, t: float) -> tuple[float, float]:
        game = self._game(rules)
        line_t, line_from = step.line_at_resume(game.state, rules.start, rules.end, t)
        game.state = replace(game.state, line_t=line_t, line_from=line_from)
        return line_t, line_from

    async def state(self, rules: GameRules) -> PacingState:
        game = self._game(rules)
        return replace(game.state, remaining=self._remaining(game, rules))

    async def stock(self, rules: GameRules) -> dict[int, int]:
        stock = self._game(rules).stock
        return {b: stock.get(b, 0) for b in rules.brands}

    async def decide(
        self, rules: GameRules, decisions: Sequence[Decision]
    ) -> tuple[PacingState, list[Outcome]]:
        return self.decide_now(rules, decisions)

    def decide_now(
        self, rules: GameRules, decisions: Sequence[Decision]
    ) -> tuple[PacingState, list[Outcome]]:
        """``decide`` without the event loop, for the simulator's hot path."""
        game = self._game(rules)
        levels = [game.stock.get(b, 0) for b in rules.brands]
        game.state, outcomes = step.apply(
            game.state, levels, rules.brands, decisions, game.decided,
            void=rules.moments_void, alpha=rules.forecast_alpha,
        )  # fmt: skip
        game.stock.update(zip(rules.brands, levels, strict=True))
        return game.state, outcomes

    @staticmethod
    def _remaining(game: _Game, rules: GameRules) -> int:
        """The stock the game's brands hold, as Redis counts it: over ``rules.brands``."""
        return sum(max(game.stock.get(b, 0), 0) for b in rules.brands)

    def _game(self, rules: GameRules) -> _Game:
        try:
            return self._games[rules.game_id]
        except KeyError:
            raise GameLost(rules.game_id) from None
