"""Record a batch of decided plays in PostgreSQL, in one transaction.

0. Share-lock the batch's games and keep only the decisions made under each game's current
   Redis epoch. A decision of an older epoch was made against a Redis state that a rebuild
   after a Redis loss did not count (``frolic.reconcile.recovery``): recording it could
   overspend, so it is dropped, as if its allocator had died before publishing it. Its play
   stays QUEUED and the re-driver sends it to be decided again.
1. Lock the batch's play rows, in play id order (two recorders never deadlock), creating
   any that ingestion did not write. Plays already recorded are left as they are: a
   redelivered outcome changes nothing.
2. For each win, the game's remaining budget for the brand goes down by one, and one
   unissued code of the brand won (reserved for this game, or in the brand's open pool) is
   taken with FOR UPDATE SKIP LOCKED and locked to the player. A win the remaining budget
   cannot hold means Redis' stock was wrong under the current epoch (a Redis back with an
   older state that nothing detected, a hand edit): retrying could never succeed (the
   budget's check constraint) and recording part of it would trust a wrong state. So the
   transaction rolls back, the game's epoch is retired (a new one that Redis does not
   have: the warden rebuilds the game from the ledger) and the batch is recorded again,
   the game's decisions now an older epoch's, dropped as in 0.
3. Write each play's status, processed time, latency, code and audit (probability, draw,
   and the body of its decision log entry), and its place in the game's decision order,
   where the chainer finds it.

Returns every recorded play of the batch as the player will see it (``Final``), old ones
included, so a redelivery also repeats the reveal message; and which decisions this call
recorded, so that a redelivery is not counted twice.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from frolic.clock import Clock
from frolic.coupons import repository as coupons
from frolic.playlog.messages import Decided, Final
from frolic.plays import repository as play_rows
from frolic.plays.row import final_of

log = logging.getLogger(__name__)

# FOR SHARE: a rebuild holds the game's row FOR NO KEY UPDATE while it reads the ledger,
# bumps the epoch and restores Redis, so a batch records either before its snapshot (and is
# counted in it) or after the new epoch is committed (and keeps only the new epoch's).
_EPOCHS = text("SELECT id, redis_epoch FROM games WHERE id = ANY(:ids) ORDER BY id FOR SHARE")
_SPEND = text(
    "UPDATE game_brand_budgets SET remaining_coupons = remaining_coupons - :n, "
    "updated_at = now() WHERE game_id = :game AND brand_id = :brand "
    "AND remaining_coupons >= :n RETURNING remaining_coupons"
)
# A statement prepared on this connection while ``play_events`` was nearly empty may be run
# by the generic plan PostgreSQL kept for it then: a sequential scan, for every batch, of a
# table that grew by thousands of rows a second until autovacuum analysed it. At 5,000
# plays/s the lock then took 0.2-0.5 s a batch and the recorder fell seconds behind
# (docs/performance.md). Planned for each batch's ids, a statement costs ~0.1 ms more.
_CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = force_custom_plan")
# Compare-and-set: a rebuild that took a new epoch meanwhile has done the work already.
_RETIRE = text(
    "UPDATE games SET redis_epoch = nextval('redis_epochs') "
    "WHERE id = :game AND redis_epoch = :epoch"
)


class Recorded(NamedTuple):
    finals: list[Final]  # every recorded play of the batch, old ones included
    new: list[Decided]  # the decisions this call recorded


class _Overdrawn(Exception):
    """Wins of these games (id -> the epoch they were decided under) exceed the ledger's
    remaining budget."""

    def __init__(self, epochs: dict[int, int]) -> None:
        super().__init__(f"wins beyond the remaining budget of games {sorted(epochs)}")
        self.epochs = epochs


async def record(
    db: AsyncEngine, batch: Sequence[Decided], reveal_seconds: float, clock: Clock = time.time
) -> Recorded:
    """The batch recorded; see the module's docstring. A decision the ledger refuses as
    data (a constraint, a value) fails the whole batch with a refusal
    (``frolic.db.outage.is_refusal``): the consumer then finds it by halving the batch,
    skips it and records the rest (``BatchConsumer``). Its play stays QUEUED, so the
    re-driver sends it again later."""
    # Each round retires the epoch of at least one of the batch's games: it ends.
    while True:
        try:
            return await _record(db, batch, reveal_seconds, clock)
        except _Overdrawn as overdrawn:
            log.error("%s: their decisions are dropped and Redis rebuilt from the ledger",
                      overdrawn)  # fmt: skip
            async with db.begin() as conn:
                await conn.execute(
                    _RETIRE, [{"game": g, "epoch": e} for g, e in overdrawn.epochs.items()]
                )


async def _record(
    db: AsyncEngine, batch: Sequence[Decided], reveal_seconds: float, clock: Clock
) -> Recorded:
    async with db.begin() as conn:
        await conn.execute(_CUSTOM_PLANS)
        batch = await _current(conn, batch)
        if not batch:
            return Recorded([], [])
        plays = [_key(d) for d in batch]
        locked = list(await play_rows.lock(conn, plays))
        if len(locked) < len(plays):
            # Ingestion writes every play before publishing it; this only covers a row that
            # was lost anyway (a restored database), so that an outcome is never dropped.
            # Only then: with every row there, the insert's conflicts cost a seventh of the
            # transaction (docs/performance.md).
            found = {row.play_id for row in locked}
            missing = [d for d, (i, _) in zip(batch, plays, strict=True) if i not in found]
            await play_rows.insert_missing(conn, missing)
            locked += await play_rows.lock(conn, [_key(d) for d in missing])
        requested = {str(row.play_id): row.request_time for row in locked}
        if len(requested) < len(batch):
            # Only a play of a day retention dropped has no row now: it was recorded long
            # ago, and recording it again would issue a second code.
            log.warning("dropped %d decisions of plays older than the ledger keeps",
                        len(batch) - len(requested))  # fmt: skip
            batch = [d for d in batch if d.play_id in requested]
        done = {str(row.play_id) for row in locked if row.processed_time is not None}
        fresh = {d.play_id: d for d in batch if d.play_id not in done}
        codes = await _issue_codes(conn, list(fresh.values()))
        now = datetime.fromtimestamp(clock(), UTC)
        rows = []
        finals = []
        for d in fresh.values():
            issued = codes.get(d.play_id)
            audit = _audit(d, has_code=issued is not None)
            status = "WIN" if d.brand is not None else "LOSE"
            rows.append({
                "pid": uuid.UUID(d.play_id),
                "requested": requested[d.play_id],
                "status": status,
                "processed": now,
                "latency": max(0, round((now.timestamp() - d.t) * 1000)),
                "coupon": issued.id if issued is not None else None,
                "meta": audit,
                **_place(d),
            })  # fmt: skip
            # As ``play_rows.finals`` would read it back: the row's metadata takes the
            # audit's revealAt, brand and p. Building it here spares a read of the batch
            # (a fifth of the recorder's transaction at 5,000 plays/s).
            code = issued.code if issued is not None else None
            finals.append(final_of(d.play_id, d.game_id, d.user, status, d.t, audit, None,
                                   code, reveal_seconds))  # fmt: skip
        if rows:
            await play_rows.record_outcomes(conn, rows)
        if done:  # recorded before: the ledger's word, not this delivery's
            finals += await play_rows.finals(conn, [uuid.UUID(i) for i in done], reveal_seconds)
    return Recorded(finals, list(fresh.values()))


def _key(d: Decided) -> tuple[uuid.UUID, datetime]:
    """How the ledger finds a decision's play: its id and its request time."""
    return uuid.UUID(d.play_id), datetime.fromtimestamp(d.t, UTC)


async def _current(conn: AsyncConnection, batch: Sequence[Decided]) -> list[Decided]:
    """The decisions made under their game's current epoch. A game the ledger does not
    hold has no epoch, and its plays no rows (their foreign key): such a decision could
    never be recorded, and is dropped rather than fail its batch forever."""
    games = sorted({d.game_id for d in batch})
    epochs: dict[int, int] = {
        row.id: row.redis_epoch for row in await conn.execute(_EPOCHS, {"ids": games})
    }
    current = [d for d in batch if epochs.get(d.game_id) == d.epoch]
    if len(current) < len(batch):
        log.warning("dropped %d decisions of an older Redis epoch; their plays are decided "
                    "again", len(batch) - len(current))  # fmt: skip
    return current


async def _issue_codes(conn: AsyncConnection, wins: Sequence[Decided]) -> dict[str, coupons.Issued]:
    """The code issued to each winning play; a win with no code left is logged and has none.
    ``_Overdrawn`` if the wins of a game exceed its remaining budget for a brand."""
    wanted: dict[tuple[int, int], list[Decided]] = defaultdict(list)
    for d in wins:
        if d.brand is not None:
            wanted[(d.game_id, d.brand)].append(d)
    issued: dict[str, coupons.Issued] = {}
    overdrawn: dict[int, int] = {}
    for (game, brand), plays in sorted(wanted.items()):
        spent = await conn.execute(_SPEND, {"n": len(plays), "game": game, "brand": brand})
        if spent.first() is None:
            overdrawn[game] = plays[0].epoch
        if game in overdrawn:
            continue  # all rolled back: no code is worth taking
        found = await coupons.issue(
            conn, game, brand, [(p.user_id, uuid.UUID(p.play_id)) for p in plays]
        )
        if len(found) < len(plays):
            log.error("game %d, brand %d: %d wins but only %d codes left",
                      game, brand, len(plays), len(found))  # fmt: skip
        for play, coupon in zip(plays, found, strict=False):
            issued[play.play_id] = coupon
    if overdrawn:
        raise _Overdrawn(overdrawn)
    return issued


def _place(d: Decided) -> dict[str, int | None]:
    """The decision's place in its game's order, if it has a decision log entry: the
    chainer (``frolic.recorder.chainer``) takes it from there."""
    entry = d.audit.get("entry")
    if not isinstance(entry, dict):
        return {"epoch": None, "seq": None}
    return {"epoch": d.epoch, "seq": int(entry["seq"])}


def _audit(d: Decided, *, has_code: bool) -> dict[str, Any]:
    """What the ledger keeps of a decision: when it is revealed, the brand, the strategy's
    probability and draw, the Redis epoch it was decided under (which load or rebuild of
    the game's state), and whether a win found no code (a shortfall to reconcile)."""
    audit = {"revealAt": d.reveal_at, "brand": d.brand, "epoch": d.epoch, **d.audit}
    if d.brand is not None and not has_code:
        audit["error"] = "no code left"
    return audit
