"""Group commit: the plays of concurrent requests reach PostgreSQL in one statement.

A play answered QUEUED must survive a broker that forgets it, so it is written before the
answer. One round trip per request would cap ingestion at the database's commit rate; a
writer task gathers whatever arrives within ``max_wait`` (up to ``max_batch`` rows) and
commits them together, and each request waits only for its own batch.

The same statement (``plays.repository.insert_queued``) finds (or creates) each play's
player and reads whether they are blocked: a blocked player's play is not written. So a
gateway needs no other query per request, no cache of players that a block would have to
invalidate, and a block holds on every gateway from the moment it commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from frolic.plays import repository as play_rows
from frolic.plays.repository import NewPlay

log = logging.getLogger(__name__)
WRITE_TIMEOUT_SECONDS = 5.0
"""A PostgreSQL that hangs rather than refuses fails a batch after this long (each play
answered 503), inside a client's patience; a retry with the same key records the same
play whether or not the statement got through (``PlayService._record``)."""


@dataclass(frozen=True)
class Player:
    id: int
    blocked: bool


@dataclass(frozen=True)
class Written:
    player: Player
    # False: the play was not written. Its player is blocked, or the ledger had a play with
    # its id (an earlier attempt's) or with its Idempotency-Key (``PlayService._record``).
    new: bool
    # Its number in the game for its player (an earlier attempt's, if that wrote it); None
    # if no row has its id (a blocked player, or another play holds its key).
    number: int | None = None
    client_seed: str | None = None  # an earlier attempt's row's; None for a new play


_Pending = tuple[NewPlay, asyncio.Future[Written]]


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

    async def record(self, play: NewPlay) -> Written:
        """Return ``play``'s player once the play is committed, or found not to be written;
        raise if it could not be."""
        future: asyncio.Future[Written] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((play, future))
        return await future

    async def _run(self) -> None:
        driver: Any = None  # an asyncpg connection of the writer's own, kept between batches
        try:
            while True:
                batch = [await self._queue.get()]
                # One timer a batch (not a wait per row): give concurrent requests max_wait to
                # join, unless enough are queued already.
                if self._queue.qsize() < self.max_batch - 1:
                    await asyncio.sleep(self.max_wait)
                while len(batch) < self.max_batch and not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                driver = await self._commit(batch, driver)
        finally:
            if driver is not None:
                driver.terminate()  # stopping: no batch is left for a close to wait for

    async def _commit(self, batch: list[_Pending], driver: Any) -> Any:
        """Commit ``batch`` on ``driver`` (connecting first if it is None); return the
        connection to use next, None after a failure."""
        plays = [play for play, _ in batch]
        try:
            if driver is None:
                driver = await self._connect()
            rows = await play_rows.insert_queued(driver, plays, timeout=WRITE_TIMEOUT_SECONDS)
        except Exception as exc:
            log.warning("could not record %d plays: %s", len(batch), exc)
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if driver is not None:
                driver.terminate()  # whatever went wrong, the next batch starts afresh
            return None
        written = {
            row["play_id"]: Written(
                Player(row["id"], row["blocked"]), row["new"], row["number"], row["client_seed"]
            )
            for row in rows
        }
        for play, future in batch:
            if not future.done():
                future.set_result(written[play.play_id])
        return driver

    async def _connect(self) -> Any:
        """A connection outside the engine's pool: the pool pings (in a transaction) and rolls
        back around every checkout, round trips that cost about as much as the batch's own
        statement (docs/performance.md, Ingest) for a connection used back to back."""
        url = self.db.url.set(drivername="postgresql")
        return await asyncpg.connect(
            url.render_as_string(hide_password=False), timeout=WRITE_TIMEOUT_SECONDS
        )
