"""The partition keeper: ``play_events`` by day (``frolic.db.partitions``), made ahead and,
past retention, dropped. At 10,000 plays/s the table grows by 864 million rows a day, and a
day that has been decided and chained is never written again.

The recorder role runs ``keep`` every ``KEEP_SECONDS``. It creates each day's partition
``AHEAD_DAYS`` ahead. With ``FROLIC_PLAY_RETENTION_DAYS`` set, it also drops a day's
partition once the day ended that many days ago and every play in it is decided and, in a
game with a fairness commitment, chained into the game's decision log; the day's
Idempotency-Keys (``play_keys``) and play numbers go with it. Days go oldest first, and
none past one that must stay, so that the days dropped are exactly those before
``play_retention.kept_from``, before which no play is written again. What stays is the audit: each
game's decision log (every play's entry: its player's pseudonym, number, client seed,
request time, ``p``, draw and outcome), the coupons (who holds which code, for which play),
the games and their budgets.

Creating and dropping a partition lock ``play_events`` itself, which every ingestion and
recording statement waits behind: each waits ``LOCK_TIMEOUT`` at most and is tried again at
the next pass, rather than queue the whole pipeline behind a long transaction. Only one
keeper works at a time (an advisory lock); the others find the work done.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from frolic import periodic
from frolic.clock import Clock
from frolic.db.outage import postgres_away
from frolic.db.partitions import (
    AHEAD_DAYS,
    DEFAULT,
    TABLE,
    bounds,
    create_statement,
    day_of,
    drop_statements,
    name_of,
)  # fmt: skip

log = logging.getLogger(__name__)

KEEP_SECONDS = 3600.0
LOCK_TIMEOUT = "2s"
LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE: lock_timeout ran out
_KEEPER_LOCK = 0x46524F50  # "FROP": one keeper at a time, across processes


@dataclass(frozen=True)
class Plan:
    create: list[date]
    expired: list[date]  # to drop, once every play in them is settled


def plan(today: date, existing: Iterable[date], *, retention_days: int,
         ahead: int = AHEAD_DAYS) -> Plan:  # fmt: skip
    """What the keeper does today: the days from today to ``ahead`` days on that have no
    partition, and, with ``retention_days`` (0: keep every day), the days that ended
    ``retention_days`` days ago or earlier."""
    have = set(existing)
    create = [d for k in range(ahead + 1) if (d := today + timedelta(days=k)) not in have]
    cutoff = today - timedelta(days=retention_days)
    expired = sorted(d for d in have if retention_days and d < cutoff)
    return Plan(create, expired)


@dataclass
class Kept:
    created: list[date]
    dropped: list[date]
    held: list[date]  # expired, but with plays not yet settled (or the lock was busy)


async def keep_forever(db: AsyncEngine, clock: Clock, retention_days: int,
                       stop: asyncio.Event) -> None:  # fmt: skip
    await periodic.every(KEEP_SECONDS, lambda: keep(db, clock, retention_days), stop,
                         name="partition keeper", log=log, away=postgres_away)  # fmt: skip


async def keep(db: AsyncEngine, clock: Clock, retention_days: int) -> Kept:
    """One pass: today's plan carried out, day by day, each in its own transaction."""
    today = datetime.fromtimestamp(clock(), UTC).date()
    async with db.connect() as conn:
        existing = await days(conn)
    todo = plan(today, existing, retention_days=retention_days)
    kept = Kept([], [], [])
    for day in todo.create:
        if (made := await _unless_busy(_create(db, day))) is None:
            break  # the rest would wait as long: the next pass makes them
        if made:
            kept.created.append(day)
    # Oldest first, and none past one that must stay: the days dropped are always all the
    # days before ``play_retention.kept_from``.
    for i, day in enumerate(todo.expired):
        if not await _unless_busy(_drop(db, day)):
            kept.held += todo.expired[i:]
            break
        kept.dropped.append(day)
    if kept.created or kept.dropped:
        log.info("partitions of %s: created %s, dropped %s", TABLE,
                 [d.isoformat() for d in kept.created],
                 [d.isoformat() for d in kept.dropped])  # fmt: skip
    return kept


_PARTITIONS = text(
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
    "WHERE i.inhparent = CAST('play_events' AS regclass)"
)


async def days(conn: AsyncConnection) -> list[date]:
    """The days that have a partition."""
    names = (await conn.execute(_PARTITIONS)).scalars()
    return sorted(d for name in names if (d := day_of(name)) is not None)


_GUARD = text("SELECT set_config('lock_timeout', :t, true), pg_try_advisory_xact_lock(:k)")
# A day's plays already in the default partition would make its creation fail: they stay
# there (they are still read and written like any play), and a warning says so.
_IN_DEFAULT = text(
    "SELECT count(*) FROM play_events_default WHERE request_time >= :start AND request_time < :end"
)


async def _unless_busy(step: Awaitable[bool]) -> bool | None:
    """``step``'s answer, or None if it gave up waiting ``LOCK_TIMEOUT`` for a lock."""
    try:
        return await step
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        log.warning("%s was busy for %s; the partition keeper tries again next pass", TABLE,
                    LOCK_TIMEOUT)  # fmt: skip
        return None


async def _guarded(conn: AsyncConnection) -> bool:
    """This transaction waits ``LOCK_TIMEOUT`` at most for a lock, and is the only keeper."""
    row = (await conn.execute(_GUARD, {"t": LOCK_TIMEOUT, "k": _KEEPER_LOCK})).one()
    return bool(row[1])


async def _create(db: AsyncEngine, day: date) -> bool:
    start, end = bounds(day)
    async with db.begin() as conn:
        if not await _guarded(conn):
            return False
        stray = await conn.scalar(_IN_DEFAULT, {"start": start, "end": end})
        if stray:
            log.warning("%d plays of %s are in %s: the day gets no partition of its own",
                        stray, day.isoformat(), DEFAULT)  # fmt: skip
            return False
        await conn.exec_driver_sql(create_statement(day))
    return True


# Every play of the day decided, and, in a game with a commitment, chained.
_UNSETTLED = text("""
SELECT EXISTS (
    SELECT 1 FROM play_events p JOIN games g ON g.id = p.game_id
    LEFT JOIN decision_log_heads h ON h.game_id = p.game_id
    WHERE p.request_time >= :start AND p.request_time < :end
      AND (p.processed_time IS NULL
           OR (g.fairness_seed IS NOT NULL AND p.decision_seq IS NOT NULL
               AND (p.decision_epoch, p.decision_seq) > (coalesce(h.epoch, 0),
                                                         coalesce(h.seq, 0)))))
""")
# A day's keys and numbers, ``rows`` a transaction: at 10,000 plays/s a day has 864 M of
# each, which one transaction would hold (and a failure roll back) all at once.
_FORGET_KEYS = text(
    "DELETE FROM play_keys WHERE ctid = ANY(ARRAY(SELECT k.ctid FROM play_keys k "
    "JOIN play_events p ON k.user_id = p.user_id AND k.idempotency_key = p.idempotency_key "
    "WHERE p.request_time >= :start AND p.request_time < :end LIMIT :rows))"
)
_FORGET_NUMBERS = text(
    "DELETE FROM play_numbers WHERE ctid = ANY(ARRAY(SELECT n.ctid FROM play_numbers n "
    "JOIN play_events p ON n.play_id = p.play_id "
    "WHERE p.request_time >= :start AND p.request_time < :end LIMIT :rows))"
)
FORGET_ROWS = 50_000
_KEPT_FROM = text(
    "INSERT INTO play_retention (id, kept_from) VALUES (1, :end) ON CONFLICT (id) "
    "DO UPDATE SET kept_from = greatest(play_retention.kept_from, EXCLUDED.kept_from)"
)


async def _drop(db: AsyncEngine, day: date) -> bool:
    """Drop ``day`` if its plays are settled, in three steps, each its own transaction:
    no play of the day is written again (``play_retention``); its keys and numbers go,
    ``FORGET_ROWS`` at a time; its partition goes. A pass that stops between them (a busy
    table, a restart) leaves the next pass less to do, and nothing inconsistent: the day
    is past retention and settled, so nothing reads its keys or numbers any more."""
    start, end = bounds(day)
    window = {"start": start, "end": end}
    async with db.begin() as conn:
        if not await _guarded(conn):
            return False
        if day not in await days(conn):
            return True  # another keeper dropped it since this one listed the days
        if await conn.scalar(_UNSETTLED, window):
            log.warning("%s is past retention but holds plays not yet decided or chained: "
                        "it and every later day are kept for now", name_of(day))  # fmt: skip
            return False
        await conn.execute(_KEPT_FROM, {"end": end})
    for forget in (_FORGET_KEYS, _FORGET_NUMBERS):
        while True:
            async with db.begin() as conn:
                if not (await conn.execute(forget, {**window, "rows": FORGET_ROWS})).rowcount:
                    break
    async with db.begin() as conn:
        if not await _guarded(conn):
            return False
        if day in await days(conn):
            for statement in drop_statements(day):
                await conn.exec_driver_sql(statement)
    return True
