"""Group commit: the plays of concurrent requests reach PostgreSQL in one INSERT.

A play answered QUEUED must survive a broker that forgets it, so it is written before the
answer. One round trip per request would cap ingestion at the database's commit rate; a
writer task gathers whatever arrives within ``max_wait`` (up to ``max_batch`` rows) and
commits them together, and each request waits only for its own batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from frolic.db.models import PlayEvent

log = logging.getLogger(__name__)

_Pending = tuple[dict[str, Any], asyncio.Future[None]]


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

    async def record(self, row: dict[str, Any]) -> None:
        """Return once ``row`` (a ``play_events`` row) is committed; raise if it could not be."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put((row, future))
        await future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            deadline = asyncio.get_running_loop().time() + self.max_wait
            while len(batch) < self.max_batch:
                timeout = deadline - asyncio.get_running_loop().time()
                if timeout <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), timeout))
                except TimeoutError:
                    break
            await self._commit(batch)

    async def _commit(self, batch: list[_Pending]) -> None:
        try:
            async with self.db.begin() as conn:
                await conn.execute(insert(PlayEvent), [row for row, _ in batch])
        except Exception as exc:
            log.warning("could not record %d plays: %s", len(batch), exc)
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for _, future in batch:
            if not future.done():
                future.set_result(None)
