"""The scheduler: scheduled games go live at their start time, and games whose end time
has passed end, so that a game's status never lies (``frolic.games.lifecycle``).

Every api process runs it, once a second. A transaction-scoped advisory lock lets one
process at a time sweep (as the re-driver does); and each game goes live through
``lifecycle.start_game``, under its row lock with its status checked again, so a game
goes live once, with its budget loaded into Redis first, however many processes try.
A game that cannot go live (its codes are short, Redis is down) stays scheduled and is
tried again at the next tick; its end time ends it in the end. A game that goes live late
(refused a while, or the api was down) paces from the moment it does: the go-live load
anchors the pacing line at 0 then (``lifecycle``), whatever ``now`` a sweep was given.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from frolic import periodic
from frolic.db.models import Game
from frolic.db.outage import postgres_away
from frolic.errors import FrolicError
from frolic.games import lifecycle
from frolic.games.lifecycle import ENDED, SCHEDULED, WARM, BudgetLoader

log = logging.getLogger(__name__)
LOCK = 0x5343484E  # "SCHN"


@dataclass
class Tick:
    """What one sweep did."""

    started: list[int] = field(default_factory=list)
    ended: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)  # game -> why it did not start
    swept: bool = True  # False: another process held the sweep


class Scheduler:
    def __init__(
        self, db: AsyncEngine, store: BudgetLoader, *, reveal_seconds: float, every: float = 1.0
    ) -> None:
        self.db = db
        self.store = store
        self.reveal_seconds = reveal_seconds  # the terms of a game committed as it goes live
        self.every = every
        self._told: dict[int, str] = {}  # the last refusal logged per game

    async def tick(self, now: datetime | None = None) -> Tick:
        """One sweep at ``now`` (the real time unless given)."""
        now = now or datetime.now(UTC)
        done = Tick()
        async with self.db.connect() as conn, conn.begin():
            locked = (await conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"),
                                         {"k": LOCK})).scalar_one()  # fmt: skip
            if not locked:
                return Tick(swept=False)
            over = await conn.execute(
                update(Game)
                .where(Game.status.in_(WARM), Game.end_time <= now)
                .values(status=ENDED, updated_at=now)
                .returning(Game.id)
            )
            done.ended = sorted(over.scalars().all())
            due = await conn.execute(
                select(Game.id)
                .where(Game.status == SCHEDULED, Game.start_time <= now, Game.end_time > now)
                .order_by(Game.start_time, Game.id)
            )
            for game_id in due.scalars().all():
                why = await self._start(game_id)
                if why is None:
                    done.started.append(game_id)
                else:
                    done.refused[game_id] = why
        for game_id in done.ended:
            log.info("game %d passed its end time: ended", game_id)
        return done

    async def _start(self, game_id: int) -> str | None:
        try:
            async with AsyncSession(self.db, expire_on_commit=False) as session, session.begin():
                await lifecycle.start_game(session, self.db, self.store, game_id,
                                           reveal_seconds=self.reveal_seconds,
                                           sources=(SCHEDULED,))  # fmt: skip
        except FrolicError as e:
            why = str(e.detail)
            if self._told.get(game_id) != why:
                self._told[game_id] = why
                log.warning("scheduled game %d did not go live: %s", game_id, why)
            return why
        self._told.pop(game_id, None)
        log.info("scheduled game %d went live", game_id)
        return None

    async def run(self, stop: asyncio.Event) -> None:
        await periodic.every(self.every, self.tick, stop, name="scheduler", log=log,
                             away=postgres_away)  # fmt: skip
