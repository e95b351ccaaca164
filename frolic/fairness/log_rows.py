"""The decision log's rows (``decision_log``, ``decision_log_heads``; migration 0010): the
one owner of their statements. The chainer writes them (``frolic.recorder.chainer``); the
public endpoints and receipts read them.

Chaining a game is one transaction: lock its head (SKIP LOCKED: another chainer has it),
read its recorded decisions past the head in (epoch, seq) order, take the run that can be
chained now (``chainable``), write their entries and move the head.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from frolic.fairness import chain

# Games with a commitment whose recorded decisions are past their head (or with no head
# yet). The row comparison reads ix_play_events_decision_order.
_BEHIND = text("""
SELECT g.id, encode(sha256(g.fairness_seed), 'hex') AS commitment
FROM games g LEFT JOIN decision_log_heads h ON h.game_id = g.id
WHERE g.fairness_seed IS NOT NULL AND (EXISTS (
    SELECT 1 FROM play_events p
    WHERE p.game_id = g.id AND p.decision_seq IS NOT NULL
      AND (p.decision_epoch, p.decision_seq) > (coalesce(h.epoch, 0), coalesce(h.seq, 0)))
  OR EXISTS (SELECT 1 FROM decision_log_events u WHERE u.game_id = g.id AND u.n IS NULL))
ORDER BY g.id
""")
_EVENTS = text(
    "SELECT operation, kind, brand_id, coupons, t AS at, epoch, seq FROM decision_log_events "
    "WHERE game_id = :game AND n IS NULL ORDER BY t, operation"
)
_ADD_EVENT = text(
    "INSERT INTO decision_log_events (game_id, operation, kind, brand_id, coupons, t, epoch, "
    "seq) VALUES (:game, :operation, :kind, :brand, :coupons, :t, :epoch, :seq) "
    "ON CONFLICT DO NOTHING"
)
_EVENT_CHAINED = text(
    "UPDATE decision_log_events SET n = :n WHERE game_id = :game AND operation = :operation"
)
_NEW_HEAD = text(
    "INSERT INTO decision_log_heads (game_id, length, hash, epoch, seq) "
    "VALUES (:game, 0, :genesis, 0, 0) ON CONFLICT (game_id) DO NOTHING"
)
_LOCK_HEAD = text(
    "SELECT h.length, h.hash, h.epoch, h.seq, g.redis_epoch FROM decision_log_heads h "
    "JOIN games g ON g.id = h.game_id WHERE h.game_id = :game FOR UPDATE OF h SKIP LOCKED"
)
# Read after the head (and the game's epoch): a later snapshot, so an epoch the game has
# left has every decision it will ever record in it (``chainable``).
_PAST_HEAD = text("""
SELECT p.play_id, p.decision_epoch AS epoch, p.decision_seq AS seq, p.metadata -> 'entry'
       AS body, p.metadata ->> 'brand' AS brand, p.status, c.code
FROM play_events p LEFT JOIN coupons c ON c.id = p.reward_coupon_id
WHERE p.game_id = :game AND p.decision_seq IS NOT NULL
  AND (p.decision_epoch, p.decision_seq) > (:epoch, :seq)
ORDER BY p.decision_epoch, p.decision_seq
LIMIT :limit
""")
_APPEND = text("""
INSERT INTO decision_log (game_id, n, play_id, entry)
SELECT :game, n, play_id, entry FROM unnest(CAST(:ns AS bigint[]), CAST(:plays AS uuid[]),
                                           CAST(:entries AS text[])) AS t(n, play_id, entry)
""")
_MOVE_HEAD = text(
    "UPDATE decision_log_heads SET length = :length, hash = :hash, epoch = :epoch, "
    "seq = :seq, updated_at = now() WHERE game_id = :game"
)


@dataclass(frozen=True)
class Behind:
    game_id: int
    commitment: str


@dataclass(frozen=True)
class Place:
    """Where a game's log stands: its head, and the last decision chained."""

    head: chain.Head
    epoch: int
    seq: int


async def behind(conn: AsyncConnection) -> list[Behind]:
    return [Behind(r.id, r.commitment) for r in await conn.execute(_BEHIND)]


async def lock_head(conn: AsyncConnection, game: Behind) -> tuple[Place, int] | None:
    """The game's place, locked for this transaction, and the game's current epoch; None if
    another chainer holds it."""
    genesis = chain.genesis(game.game_id, game.commitment)
    await conn.execute(_NEW_HEAD, {"game": game.game_id, "genesis": genesis})
    row = (await conn.execute(_LOCK_HEAD, {"game": game.game_id})).first()
    if row is None:
        return None
    return Place(chain.Head(row.hash, row.length), row.epoch, row.seq), row.redis_epoch


async def add_top_up(
    conn: AsyncConnection | AsyncSession, game_id: int, operation: str, brand_id: int,
    coupons: int, t: float, place: tuple[int, int],
) -> None:  # fmt: skip
    """Record a top-up of a committed game at its place in the decision order (once per
    operation), for the chainer."""
    await conn.execute(_ADD_EVENT, {
        "game": game_id, "operation": operation, "kind": "topUp", "brand": brand_id,
        "coupons": coupons, "t": t, "epoch": place[0], "seq": place[1],
    })  # fmt: skip


async def add_pause(
    conn: AsyncConnection | AsyncSession, game_id: int, kind: str, t: float
) -> None:
    """Record that a committed game was paused or resumed (``kind``) at ``t``: an entry the
    chainer logs where it finds it. It changes no caps and no stock; it tells when the
    game took no plays."""
    await conn.execute(_ADD_EVENT, {
        "game": game_id, "operation": f"{kind}-{uuid.uuid4()}", "kind": kind, "brand": None,
        "coupons": None, "t": t, "epoch": None, "seq": None,
    })  # fmt: skip


@dataclass(frozen=True)
class Pending:
    """A decision recorded, or a top-up applied, not chained yet. A top-up comes after the
    decision with its seq (0: before any of its epoch). (A pause or resume has no place:
    ``past_head`` returns it apart.)"""

    epoch: int
    seq: int
    top_up: bool
    row: Any

    def key(self) -> tuple[int, int, bool]:
        return self.epoch, self.seq, self.top_up


async def past_head(
    conn: AsyncConnection, game_id: int, place: Place, limit: int
) -> tuple[list[Pending], list[Any]]:
    """What is past ``place``: in decision order, recorded decisions (``play_id``, ``body``,
    the allocator's entry body, ``brand``, ``status``, the coupon ``code``) and top-ups
    (``operation``, ``brand_id``, ``coupons``, ``at``: its time; a Row's ``t`` is itself);
    and apart, in time order, pauses and resumes (``operation``, ``kind``, ``at``)."""
    plays = await conn.execute(
        _PAST_HEAD, {"game": game_id, "epoch": place.epoch, "seq": place.seq, "limit": limit}
    )
    events = (await conn.execute(_EVENTS, {"game": game_id})).all()
    pending = [Pending(r.epoch, r.seq, False, r) for r in plays]
    pending += [Pending(r.epoch, r.seq, True, r) for r in events if r.kind == "topUp"]
    return sorted(pending, key=Pending.key), [r for r in events if r.kind != "topUp"]


def chainable(pending: Sequence[Pending], place: Place, current_epoch: int) -> list[Pending]:
    """What can be chained now: the run from ``place`` without a gap. A gap is a decision
    not recorded yet, which is waited for, unless its epoch is over (the game has a later
    one): then nothing of that epoch can be recorded any more (a rebuild takes the game's
    row after every recorder of the old epoch has committed, and recorders drop the old
    epoch's decisions after it), so the gap is for good (decisions a lost Redis made and
    the ledger never recorded; their plays are decided again) and is stepped over.
    ``verify`` counts such gaps. A top-up follows the decision with its seq."""
    taken = []
    epoch, seq = place.epoch, place.seq
    for item in pending:
        over = epoch < current_epoch or epoch == 0  # epoch 0: nothing chained yet
        step = 0 if item.top_up else 1
        first = 0 if item.top_up else 1
        if item.epoch == epoch and item.seq <= seq + step:
            pass  # next in line (a top-up recorded late falls where it is: verify tells)
        elif item.epoch == epoch and over:
            pass  # a gap in an epoch that is over
        elif item.epoch > epoch and over and (item.seq == first or item.epoch < current_epoch):
            pass  # the next epoch, from its start (or with a gap, if it is over too)
        else:
            break
        taken.append(item)
        epoch, seq = item.epoch, max(item.seq, seq) if item.epoch == epoch else item.seq
    return taken


async def append(
    conn: AsyncConnection, game_id: int, place: Place, entries: Sequence[dict[str, Any]],
    taken: Sequence[Pending | Any],
) -> Place:  # fmt: skip
    """Write ``entries`` (chained after the head, one per ``taken``: a ``Pending``, or a
    pause's or resume's row) and move the head to the last of them."""
    await conn.execute(_APPEND, {
        "game": game_id, "ns": [e["n"] for e in entries],
        "plays": [p.row.play_id if isinstance(p, Pending) and not p.top_up else None
                  for p in taken],
        "entries": [chain.canonical(e).decode() for e in entries],
    })  # fmt: skip
    for entry, p in zip(entries, taken, strict=True):
        event = p if not isinstance(p, Pending) else p.row if p.top_up else None
        if event is not None:
            await conn.execute(_EVENT_CHAINED, {"game": game_id, "n": entry["n"],
                                                "operation": event.operation})  # fmt: skip
    placed = [p for p in taken if isinstance(p, Pending)]
    last = (
        (place.epoch, place.seq)
        if not placed
        else (placed[-1].epoch, max(p.seq for p in placed if p.epoch == placed[-1].epoch))
    )
    moved = Place(chain.Head(entries[-1]["hash"], entries[-1]["n"]), *last)
    await conn.execute(_MOVE_HEAD, {
        "game": game_id, "length": moved.head.length, "hash": moved.head.hash,
        "epoch": moved.epoch, "seq": moved.seq,
    })  # fmt: skip
    return moved


_HEAD = text("SELECT length, hash FROM decision_log_heads WHERE game_id = :game")
_RECEIPT = text("SELECT n, entry::json ->> 'hash' AS hash FROM decision_log WHERE play_id = :play")
_LINES = text("SELECT entry FROM decision_log WHERE game_id = :game AND n > :after "
              "ORDER BY n LIMIT :limit")  # fmt: skip


# Every play the game took decided, and every decision and top-up chained.
_COMPLETE = text("""
SELECT NOT EXISTS (SELECT 1 FROM play_events WHERE game_id = :game AND processed_time IS NULL)
   AND NOT EXISTS (SELECT 1 FROM decision_log_events WHERE game_id = :game AND n IS NULL)
   AND NOT EXISTS (
       SELECT 1 FROM play_events p LEFT JOIN decision_log_heads h ON h.game_id = p.game_id
       WHERE p.game_id = :game AND p.decision_seq IS NOT NULL
         AND (p.decision_epoch, p.decision_seq) > (coalesce(h.epoch, 0), coalesce(h.seq, 0)))
""")


async def complete(conn: AsyncConnection, game_id: int) -> bool:
    """Whether nothing of the game is left to decide or to chain (asked of an ended game:
    its log will not grow)."""
    return bool(await conn.scalar(_COMPLETE, {"game": game_id}))


async def head(conn: AsyncConnection, game_id: int) -> chain.Head | None:
    row = (await conn.execute(_HEAD, {"game": game_id})).first()
    return None if row is None else chain.Head(row.hash, row.length)


async def receipt(conn: AsyncConnection, play_id: uuid.UUID) -> tuple[int, str] | None:
    """The play's entry: its position and hash, once chained."""
    row = (await conn.execute(_RECEIPT, {"play": play_id})).first()
    return None if row is None else (int(row.n), str(row.hash))


async def lines(conn: AsyncConnection, game_id: int, page: int = 2000) -> AsyncIterator[str]:
    """The game's log, entry by entry in order, read ``page`` entries at a time."""
    after = 0
    while True:
        rows = (await conn.execute(_LINES, {"game": game_id, "after": after, "limit": page})).all()
        for row in rows:
            yield row.entry
        if len(rows) < page:
            return
        after += len(rows)
