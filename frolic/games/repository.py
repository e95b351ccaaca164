"""Read a game: its budgets for the admin API, its rules for the pipeline, where a short
cache keeps PostgreSQL off the hot path.

A cached game may be up to ``ttl`` seconds stale. That is safe: the budget lives in Redis
and its caps are atomic, so staleness can only delay a pause or an end by ``ttl``, and the
first awards of a brand that a top-up adds to a live game (its stock waits in Redis).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from frolic.db.models import Game, GameBrandBudget
from frolic.db.outage import is_outage
from frolic.engine.rules import STRATEGIES, GameRules, StrategyName
from frolic.errors import NotReady
from frolic.fairness.draws import Seed

DRAFT, LIVE = "draft", "live"
READ_SECONDS = 5.0


@dataclass(frozen=True)
class GameView:
    rules: GameRules
    status: str
    max_plays_per_day: int | None
    cooldown_seconds: int
    # The committed seed every play's draw derives from (docs/fairness.md); None for a draft
    # (or a game from before commitments), whose plays draw from the OS instead.
    seed: Seed | None = None

    @property
    def game_id(self) -> int:
        return self.rules.game_id

    def closed_because(self, now: float) -> str | None:
        """Why a play at ``now`` is refused, in a player's words, or None if it is not. The
        clock comes first: a game past its end has ended whatever its row says (the
        scheduler marks it within its period), and one before its start has not begun."""
        if now >= self.rules.end:
            return f"game {self.game_id} ended at {_iso(self.rules.end)}; it takes no more plays"
        if now < self.rules.start:
            return f"game {self.game_id} has not started; it opens at {_iso(self.rules.start)}"
        if self.status != LIVE:
            return f"game {self.game_id} is not open for play ({self.status})"
        return None


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def epoch(moment: datetime) -> float:
    return moment.timestamp()


async def budgets_of(session: AsyncSession, game_id: int) -> list[GameBrandBudget]:
    rows = await session.scalars(
        select(GameBrandBudget)
        .where(GameBrandBudget.game_id == game_id)
        .order_by(GameBrandBudget.brand_id)
    )
    return list(rows.all())


async def next_epoch(conn: AsyncConnection | AsyncSession) -> int:
    """A new epoch for a game's state in Redis: never handed out twice, even by a
    transaction that rolls back (a sequence)."""
    epoch = await conn.scalar(text("SELECT nextval('redis_epochs')"))
    assert epoch is not None
    return int(epoch)


def _strategy(name: str) -> StrategyName:
    for known in STRATEGIES:
        if known == name:
            return known
    raise ValueError(f"unknown probability_type {name!r}")


async def load_game(db: AsyncEngine, game_id: int) -> GameView | None:
    async with db.connect() as conn:
        game = (await conn.execute(select(Game).where(Game.id == game_id))).one_or_none()
        if game is None:
            return None
        budgets = (
            (
                await conn.execute(
                    select(GameBrandBudget.brand_id)
                    .where(GameBrandBudget.game_id == game_id)
                    .order_by(GameBrandBudget.brand_id)
                )
            )
            .scalars()
            .all()
        )
    g = game
    rules = GameRules(
        game_id=g.id, start=epoch(g.start_time), end=epoch(g.end_time), budget=g.total_budget,
        brands=tuple(budgets) or (0,), strategy=_strategy(g.probability_type),
        slot_seconds=float(g.slot_seconds), odds=g.odds, moments_seed=g.moments_seed,
        moments_void=g.moments_void,
    )  # fmt: skip
    seed = None if g.fairness_seed is None else Seed(bytes(g.fairness_seed))
    return GameView(rules, g.status, g.max_plays_per_day, g.cooldown_seconds, seed)


class GameCache:
    """Games by id, each re-read from PostgreSQL at most every ``ttl`` seconds.

    One read per game at a time: when a game's entry expires under load, the request that
    finds it expired reads it, and the requests that arrive meanwhile get the game as last
    read instead of each sending PostgreSQL the same query (a stampede every ``ttl``).
    """

    def __init__(
        self, db: AsyncEngine, *, ttl: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.db = db
        self.ttl = ttl
        self.clock = clock
        self._games: dict[int, tuple[float, GameView | None]] = {}
        self._reads: dict[int, asyncio.Future[GameView | None]] = {}

    async def get(self, game_id: int) -> GameView | None:
        cached = self._games.get(game_id)
        if cached is not None and self.clock() - cached[0] < self.ttl:
            return cached[1]
        read = self._reads.get(game_id)
        if read is None:
            read = self._reads[game_id] = asyncio.ensure_future(self._read(game_id, cached))
            read.add_done_callback(functools.partial(self._finished, game_id))
        elif cached is not None and cached[1] is not None:
            # Meanwhile the game as last read. A game that was not there waits for the
            # read instead: it may have been created since.
            return cached[1]
        # Shielded: a caller that gives up does not cancel the read the others wait for.
        return await asyncio.shield(read)

    def _finished(self, game_id: int, read: asyncio.Future[GameView | None]) -> None:
        if self._reads.get(game_id) is read:
            del self._reads[game_id]
        if not read.cancelled():
            read.exception()  # every waiter got it; asyncio need not report it as lost

    async def _read(
        self, game_id: int, cached: tuple[float, GameView | None] | None
    ) -> GameView | None:
        now = self.clock()
        try:
            # Bounded: a read that hangs (a half-open connection) would keep the game as
            # last read, and every other read waiting behind it, for good.
            view = await asyncio.wait_for(load_game(self.db, game_id), READ_SECONDS)
        except Exception as exc:  # TimeoutError is an OSError: an outage
            if not is_outage(exc):
                raise
            if cached is None:
                raise NotReady("the game could not be read; try again", retry_after=2) from exc
            # PostgreSQL is away: the game as last read. Nothing can change it meanwhile
            # (pause, resume and end are written there), and its end time still holds.
            return cached[1]
        self._games[game_id] = (now, view)
        return view


@dataclass(frozen=True)
class Commitment:
    """What a game's fairness rests on (docs/fairness.md). ``seed`` is secret until the
    game ends: only ``frolic.fairness.endpoints`` reads it, and shows it only then."""

    game_id: int
    status: str
    end: float
    seed: bytes = field(repr=False)
    terms: dict[str, Any]


async def commitment(conn: AsyncConnection, game_id: int) -> Commitment | None:
    """The game's commitment, or None if it has none (a draft, or a game that left draft
    before commitments were made)."""
    row = (await conn.execute(
        select(Game.status, Game.end_time, Game.fairness_seed, Game.fairness_terms)
        .where(Game.id == game_id)
    )).first()  # fmt: skip
    if row is None or row.fairness_seed is None or row.fairness_terms is None:
        return None
    return Commitment(game_id, row.status, row.end_time.timestamp(), bytes(row.fairness_seed),
                      dict(row.fairness_terms))  # fmt: skip
