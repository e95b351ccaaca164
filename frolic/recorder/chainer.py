"""The chainer: extends each game's decision log with the decisions recorded since its head,
in the order of the store's atomic steps (docs/fairness.md).

Recorders write decisions in whatever order their partitions deliver them; each carries its
place in its game's order (the Redis epoch and the store's seq), so the log can be built in
decision order however they were recorded. A pass chains, per game, the run without a gap
past the head (``log_rows.chainable``), in one transaction with the head's row locked: two
chainers (one per recorder process) never chain the same game at once. It runs beside the
recorder, every ``CHAIN_SECONDS``; a game's head is at most that much behind its ledger.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from frolic import periodic
from frolic.db.outage import postgres_away
from frolic.fairness import chain, entries, log_rows

log = logging.getLogger(__name__)
CHAIN_SECONDS = 1.0
PAGE = 200
"""Decisions read per game per transaction. Chaining costs about 30 µs of CPU an entry, all
of it holding the event loop the recorder, and in the embedded default every role, shares:
a page of 5,000 held the recorder's batches back by 150 ms at 5,000 plays/s, and one of
1,000 made reveals 34 ms late at p99 at 1,000 plays/s (``frolic bench e2e``, ``frolic bench
embedded``)."""


async def chain_forever(db: AsyncEngine, stop: asyncio.Event) -> None:
    await periodic.every(CHAIN_SECONDS, lambda: chain_all(db), stop, name="chainer", log=log,
                         away=postgres_away)  # fmt: skip


async def chain_all(db: AsyncEngine) -> int:
    """One pass over every game whose log is behind; the entries written."""
    async with db.connect() as conn:
        games = await log_rows.behind(conn)
    written = 0
    for game in games:
        while (more := await chain_game(db, game)) == PAGE:
            written += more
        written += more
    return written


async def chain_game(db: AsyncEngine, game: log_rows.Behind) -> int:
    """Chain what can be chained of ``game`` now, up to ``PAGE`` decisions."""
    async with db.begin() as conn:
        locked = await log_rows.lock_head(conn, game)
        if locked is None:
            return 0  # another chainer has it
        place, current_epoch = locked
        pending, pauses = await log_rows.past_head(conn, game.game_id, place, PAGE)
        taken: list[log_rows.Pending | Any] = [*log_rows.chainable(pending, place, current_epoch)]
        # Pauses and resumes change no caps and no stock: logged where they are found.
        taken += pauses
        if not taken:
            return 0
        bodies = [_body(game.game_id, p) for p in taken]
        chained = list(chain.extend(place.head, bodies))
        await log_rows.append(conn, game.game_id, place, chained, taken)
    return len(taken)


def _body(game_id: int, pending: log_rows.Pending | Any) -> dict[str, Any]:
    """The entry of a pause or resume, of a top-up, or of a recorded decision: the
    allocator's body, with the outcome as the ledger recorded it and the hash of the code
    issued."""
    if not isinstance(pending, log_rows.Pending):
        return entries.pause_entry(kind=pending.kind, t=pending.at)
    row = pending.row
    if pending.top_up:
        return entries.top_up_entry(brand=row.brand_id, coupons=row.coupons, t=row.at,
                                    epoch=row.epoch, seq=row.seq)  # fmt: skip
    won = row.status == "WIN"
    brand = int(row.brand) if won and row.brand is not None else None
    code = chain.code_hash(game_id, row.code) if row.code is not None else None
    return entries.decided(dict(row.body), brand, code)
