"""Group commit: the plays of concurrent requests reach PostgreSQL in one statement.

A play answered QUEUED must survive a broker that forgets it, so it is written before the
answer. One round trip per request would cap ingestion at the database's commit rate; a
writer task gathers whatever arrives within ``max_wait`` (up to ``max_batch`` rows) and
commits them together, and each request waits only for its own batch.

The same statement finds (or creates) each play's player and reads whether they are
blocked: a blocked player's play is not written. So a gateway needs no other query per
request, no cache of players that a block would have to invalidate, and a block holds on
every gateway from the moment it commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewPlay:
    play_id: uuid.UUID
    user: str  # the player's external id
    game_id: int
    request_time: datetime
    metadata: str  # JSON


@dataclass(frozen=True)
class Player:
    id: int
    blocked: bool


# Arrays in, one row a player out. Players are locked in one order (the DISTINCT ... ORDER
# BY), so two gateways' batches cannot deadlock on them; DO UPDATE (a no-op) rather than DO
# NOTHING so that a player another batch is creating right now is waited for and returned.
_RECORD = """
WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::timestamptz[], $5::text[])
        AS t(play_id, external_id, game_id, request_time, metadata)
), players AS (
    INSERT INTO users (external_id)
    SELECT DISTINCT external_id FROM input ORDER BY external_id
    ON CONFLICT (external_id) DO UPDATE SET external_id = EXCLUDED.external_id
    RETURNING id, external_id, blocked
), recorded AS (
    INSERT INTO play_events (play_id, user_id, game_id, status, request_time, metadata)
    SELECT i.play_id, p.id, i.game_id, 'QUEUED', i.request_time, i.metadata::jsonb
    FROM input i JOIN players p USING (external_id)
    WHERE NOT p.blocked
)
SELECT external_id, id, blocked FROM players
"""

_Pending = tuple[NewPlay, asyncio.Future[Player]]


class PlayWriter:
    def __init__(self, db: AsyncEngine, *, max_batch: int = 500, max_wait: float = 0.002) -> None:
        self.db = db
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="play-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def record(self, play: NewPlay) -> Player:
        """Return ``play``'s player once the play is committed (or, for a blocked player,
        not written at all); raise if it could not be."""
        future: asyncio.Future[Player] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((play, future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            deadline = loop.time() + self.max_wait
            while len(batch) < self.max_batch:
                if self._queue.empty():
                    timeout = deadline - loop.time()
                    if timeout <= 0:
                        break
                    try:
                        batch.append(await asyncio.wait_for(self._queue.get(), timeout))
                    except TimeoutError:
                        break
                else:
                    batch.append(self._queue.get_nowait())
            await self._commit(batch)

    async def _commit(self, batch: list[_Pending]) -> None:
        plays = [play for play, _ in batch]
        try:
            async with self.db.connect() as conn:
                driver = (await conn.get_raw_connection()).driver_connection
                assert driver is not None
                # One statement commits on its own; asyncpg takes the arrays as they are.
                rows = await driver.fetch(
                    _RECORD, [p.play_id for p in plays], [p.user for p in plays],
                    [p.game_id for p in plays], [p.request_time for p in plays],
                    [p.metadata for p in plays],
                )  # fmt: skip
        except Exception as exc:
            log.warning("could not record %d plays: %s", len(batch), exc)
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        players = {row["external_id"]: Player(row["id"], row["blocked"]) for row in rows}
        for play, future in batch:
            if not future.done():
                future.set_result(players[play.user])
