"""The re-driver: publish again the plays that were accepted but never decided.

The embedded broker forgets everything when it restarts, and any broker can lose an
unflushed message in a crash; the play row written at ingestion is the durable record.
A play undecided ``redrive_after_seconds`` after it was requested is published again
with its own id and request time, so the store's idempotency keeps one outcome per play.
A transaction-scoped advisory lock lets one allocator at a time do it.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from frolic import periodic
from frolic.config import Settings
from frolic.db.models import play_metadata
from frolic.db.outage import postgres_away
from frolic.playlog import messages
from frolic.playlog.producer import PlayLog
from frolic.plays import repository as play_rows
from frolic.plays.row import reveal_at

log = logging.getLogger(__name__)
LOCK = 0x52454452  # "REDR"
LIMIT = 5000


async def redrive_once(settings: Settings, db: AsyncEngine, playlog: PlayLog) -> int:
    """Publish the overdue undecided plays again; how many were sent."""
    async with db.begin() as conn:
        locked = (await conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"),
                                     {"k": LOCK})).scalar_one()  # fmt: skip
        if not locked:
            return 0
        rows = await play_rows.undecided(conn, age=settings.redrive_after_seconds, limit=LIMIT)
    for row in rows:
        meta = play_metadata(row.metadata)
        t = float(row.requested)
        event = messages.PlayEvent(
            str(row.play_id), row.game_id, row.user_id, row.external_id, t,
            reveal_at(meta.get("revealAt"), t, settings.reveal_seconds), meta.get("device"),
            row.play_number, row.client_seed or "",
        )  # fmt: skip
        playlog.publish(settings.play_topic, row.external_id, messages.encode(event))
    if rows:
        log.warning("re-drove %d undecided plays", len(rows))
    return len(rows)


async def redrive_forever(
    settings: Settings, db: AsyncEngine, playlog: PlayLog, stop: asyncio.Event
) -> None:
    await periodic.every(
        settings.redrive_after_seconds / 3, lambda: redrive_once(settings, db, playlog), stop,
        name="re-drive", log=log, away=postgres_away,
    )  # fmt: skip
