"""A reconnecting player's recent plays, from PostgreSQL (the durable ledger).

A play's final (its outcome with its coupon code) exists only once the recorder has written
it to PostgreSQL, so a socket that (re)connects reads its player's recent plays there. A
decided play becomes the ``Final`` the recorder published; an undecided one is pending, and
its ``Final`` will come from the topic like any other (or from here, ``decided``, if the hub
still owes it once due).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from frolic.playlog.messages import Final
from frolic.plays import repository as play_rows
from frolic.plays.repository import OUTCOMES
from frolic.plays.row import reveal_at

RECENT_SECONDS = 600.0
"""How far back a (re)connecting socket is sent its player's results."""
MAX_RECENT = 200
"""At most this many of the latest plays are sent on connect."""


@dataclass
class History:
    decided: list[Final] = field(default_factory=list)  # oldest first
    pending: dict[str, float] = field(default_factory=dict)  # undecided play id -> revealAt


async def recent(db: AsyncEngine, user: str, since: float, reveal_seconds: float) -> History:
    """``user``'s plays requested at or after ``since`` (epoch seconds), the latest
    ``MAX_RECENT`` of them. ``reveal_at`` is the one ingestion stored with the play, else
    request time plus ``reveal_seconds`` (as the recorder computes it)."""
    async with db.connect() as conn:
        rows = await play_rows.recent(conn, user, datetime.fromtimestamp(since, UTC), MAX_RECENT)
    history = History()
    for row in reversed(rows):
        if row.processed_time is None:
            requested = row.request_time.timestamp()
            history.pending[str(row.play_id)] = reveal_at(row.meta_reveal_at, requested,
                                                          reveal_seconds)  # fmt: skip
        elif row.status in OUTCOMES:  # else processed, with no outcome a player could see
            history.decided.append(play_rows.final(row, reveal_seconds))
    return history


async def decided(db: AsyncEngine, play_ids: Sequence[str], reveal_seconds: float) -> list[Final]:
    """The plays of ``play_ids`` that have an outcome recorded, as their finals: what an
    overdue play's socket is sent when its final did not come from the topic."""
    ids = [uuid.UUID(p) for p in play_ids]
    async with db.connect() as conn:
        return await play_rows.finals(conn, ids, reveal_seconds, outcomes_only=True)
