"""Every statement on ``play_events``, for every role that writes or reads a play's row.

A play's row is written QUEUED at ingestion (``insert_queued``), or by the recorder if
ingestion's write was lost (``insert_missing``); the recorder locks it and writes the
outcome once (``lock``, ``record_outcomes``); the re-driver, the play view, the reveal's
history, the Redis rebuild and the dashboards read it. Functions take a connection (or,
at ingestion and for the history, the driver's own) and never commit: whoever opened the
transaction does. Reading what a row means (its reveal time, its ``Final``) is
``frolic.plays.row``'s.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import orjson
from sqlalchemy import Row, Select, any_, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID, asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from frolic.db.models import Coupon, PlayNumber, PlayRow, User
from frolic.playlog.messages import Decided, Final
from frolic.plays.row import final_of, requested_near

OUTCOMES = ("WIN", "LOSE")
"""The statuses of a decided play that a player can be shown."""


@dataclass(frozen=True)
class NewPlay:
    play_id: uuid.UUID
    user: str  # the player's external id
    game_id: int
    request_time: datetime
    metadata: str  # JSON
    key: str | None = None  # its Idempotency-Key, unique per player in the ledger
    client_seed: str = ""  # bound into its draw with its number (docs/fairness.md)


# Arrays in, one row a player out. Players are locked in one order (the DISTINCT ... ORDER
# BY), so two gateways' batches cannot deadlock on them; DO UPDATE (a no-op) rather than DO
# NOTHING so that a player another batch is creating right now is waited for and returned.
_INSERT_QUEUED = """
WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::timestamptz[], $5::text[],
                         $6::text[], $7::text[]) WITH ORDINALITY
        AS t(play_id, external_id, game_id, request_time, metadata, idempotency_key,
             client_seed, k)
), kept AS (
    -- A play of a day retention dropped is never written again (``play_retention``).
    SELECT coalesce(max(kept_from), '-infinity') AS since FROM play_retention
), players AS (
    INSERT INTO users (external_id)
    SELECT DISTINCT external_id FROM input ORDER BY external_id
    ON CONFLICT (external_id) DO UPDATE SET external_id = EXCLUDED.external_id
    RETURNING id, external_id, blocked
), keyed AS (
    -- A key is unique per player on every day (a partitioned table could not say so): a
    -- retried key records its play again, and a key whose claim Redis lost has its play
    -- here; either way, the play is not written twice.
    INSERT INTO play_keys (user_id, idempotency_key, play_id, request_time)
    SELECT p.id, i.idempotency_key, i.play_id, i.request_time
    FROM input i JOIN players p USING (external_id)
    WHERE NOT p.blocked AND i.idempotency_key IS NOT NULL
      AND i.request_time >= (SELECT since FROM kept)
    ON CONFLICT DO NOTHING
    RETURNING play_id
), recorded AS (
    INSERT INTO play_events (play_id, user_id, game_id, status, request_time, metadata,
                             idempotency_key, client_seed)
    SELECT i.play_id, p.id, i.game_id, 'QUEUED', i.request_time, i.metadata::jsonb,
           i.idempotency_key, i.client_seed
    FROM input i JOIN players p USING (external_id)
    WHERE NOT p.blocked AND i.request_time >= (SELECT since FROM kept)
      AND (i.idempotency_key IS NULL OR i.play_id IN (SELECT play_id FROM keyed))
    ON CONFLICT DO NOTHING
    RETURNING play_id, user_id, game_id
), counted AS (
    -- Numbers for the plays written, and only those: the counter moves in this statement,
    -- so a number exists only with its play. Counters are locked in one order.
    INSERT INTO player_plays (game_id, user_id, plays)
    SELECT game_id, user_id, count(*) FROM recorded GROUP BY game_id, user_id
    ORDER BY game_id, user_id
    ON CONFLICT (game_id, user_id) DO UPDATE SET plays = player_plays.plays + EXCLUDED.plays
    RETURNING game_id, user_id, plays
), numbered AS (
    INSERT INTO play_numbers (play_id, number)
    SELECT r.play_id, c.plays - count(*) OVER (PARTITION BY r.game_id, r.user_id)
           + row_number() OVER (PARTITION BY r.game_id, r.user_id ORDER BY i.k)
    FROM recorded r JOIN counted c USING (game_id, user_id)
    -- a batch may hold a play twice (a retry beside its first attempt): ordered by the first
    JOIN (SELECT play_id, min(k) AS k FROM input GROUP BY play_id) i USING (play_id)
    RETURNING play_id, number
)
-- An earlier attempt's play (this statement's own rows are not visible here) has its
-- number and client seed already.
SELECT i.play_id, p.id, p.blocked, r.play_id IS NOT NULL AS new,
       coalesce(n.number, old.number) AS number, e.client_seed
FROM input i JOIN players p USING (external_id) LEFT JOIN recorded r USING (play_id)
LEFT JOIN numbered n USING (play_id)
LEFT JOIN play_numbers old ON old.play_id = i.play_id
LEFT JOIN play_events e ON e.play_id = i.play_id AND e.request_time = i.request_time
    AND e.request_time BETWEEN $8 AND $9  -- the batch's days alone (``_span``)
"""


async def insert_queued(driver: Any, plays: Sequence[NewPlay], *, timeout: float) -> list[Any]:
    """Write ``plays`` QUEUED, with their players, on an asyncpg connection: one statement,
    with their numbers. One record per play: ``play_id``, its player's ``id`` and
    ``blocked``, ``new`` (False: not written, its player blocked or its id or key already
    in the ledger), ``number`` (its number in the game for its player; an earlier
    attempt's for a play written before; None if not written) and ``client_seed`` (an
    earlier attempt's; None for a new play)."""
    return list(await driver.fetch(
        _INSERT_QUEUED, [p.play_id for p in plays], [p.user for p in plays],
        [p.game_id for p in plays], [p.request_time for p in plays],
        [p.metadata for p in plays], [p.key for p in plays], [p.client_seed for p in plays],
        *_span([p.request_time for p in plays]).values(), timeout=timeout,
    ))  # fmt: skip


_KEYED = text(
    "SELECT p.play_id, extract(epoch FROM p.request_time) AS requested, p.game_id, "
    "p.metadata->>'revealAt' AS reveal_at, n.number AS play_number, p.client_seed "
    "FROM play_keys k JOIN users u ON u.id = k.user_id "
    "JOIN play_events p ON p.play_id = k.play_id AND p.request_time = k.request_time "
    "LEFT JOIN play_numbers n ON n.play_id = p.play_id "
    "WHERE u.external_id = :user AND k.idempotency_key = :key"
)


async def keyed(conn: AsyncConnection, user: str, key: str) -> Row[Any] | None:
    """The play of ``user``'s Idempotency-Key ``key``: ``play_id``, ``requested`` (epoch
    seconds), ``game_id``, the stored ``reveal_at`` (text, or None), ``play_number`` and
    ``client_seed``."""
    return (await conn.execute(_KEYED, {"user": user, "key": key})).one_or_none()


async def of_player(conn: AsyncConnection, play_id: uuid.UUID, user: str) -> Row[Any] | None:
    """``play_id`` if it is ``user``'s, with its code: ``game_id``, ``status``,
    ``request_time``, ``processed_time``, ``meta`` (the metadata), ``code``, ``brand_id``,
    and what binds its draw: ``play_number`` and ``client_seed``. Looked for in the day its
    id names first (by the id alone, PostgreSQL searches every day's index: 188 against
    40 µs with a month of days, docs/capacity.md), then everywhere."""
    if (near := requested_near(play_id)) is not None:
        pruned = _OF_PLAYER.where(PlayRow.request_time.between(*near))
        found = (await conn.execute(pruned, {"play": play_id, "user": user})).one_or_none()
        if found is not None:
            return found
    return (await conn.execute(_OF_PLAYER, {"play": play_id, "user": user})).one_or_none()


_OF_PLAYER = (
    select(
        PlayRow.game_id,
        PlayRow.status,
        PlayRow.request_time,
        PlayRow.processed_time,
        PlayRow.metadata_.label("meta"),
        Coupon.code,
        Coupon.brand_id,
        PlayNumber.number.label("play_number"),
        PlayRow.client_seed,
    )
    .join(User, User.id == PlayRow.user_id)
    .outerjoin(Coupon, Coupon.id == PlayRow.reward_coupon_id)
    .outerjoin(PlayNumber, PlayNumber.play_id == PlayRow.play_id)
    .where(PlayRow.play_id == bindparam("play"), User.external_id == bindparam("user"))
)


_UNDECIDED = text(
    "SELECT p.play_id, p.game_id, p.user_id, u.external_id, "
    "extract(epoch FROM p.request_time) AS requested, p.metadata, n.number AS play_number, "
    "p.client_seed "
    "FROM play_events p JOIN users u ON u.id = p.user_id "
    "LEFT JOIN play_numbers n ON n.play_id = p.play_id "
    "WHERE p.processed_time IS NULL AND p.request_time < now() - make_interval(secs => :age) "
    "ORDER BY p.request_time LIMIT :limit"
)


async def undecided(conn: AsyncConnection, *, age: float, limit: int) -> Sequence[Row[Any]]:
    """The oldest ``limit`` plays requested over ``age`` seconds ago and still undecided."""
    return (await conn.execute(_UNDECIDED, {"age": age, "limit": limit})).all()


_INSERT_MISSING = text(
    "INSERT INTO play_events (play_id, user_id, game_id, status, request_time, metadata) "
    "SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:users AS bigint[]), "
    "CAST(:games AS bigint[]), CAST(:statuses AS varchar[]), "
    "CAST(:times AS timestamptz[]), CAST(:metas AS jsonb[])) "
    "AS t(play_id, user_id, game_id, status, request_time, metadata) "
    "WHERE t.request_time >= (SELECT coalesce(max(kept_from), '-infinity') "
    "FROM play_retention) "
    "ON CONFLICT (play_id, request_time) DO NOTHING"
)


async def insert_missing(conn: AsyncConnection, batch: Sequence[Decided]) -> None:
    """Write QUEUED the rows of ``batch`` the ledger does not have, as ingestion would;
    not those of a day retention dropped (``play_retention``)."""
    await conn.execute(_INSERT_MISSING, {
        "ids": [uuid.UUID(d.play_id) for d in batch],
        "users": [d.user_id for d in batch],
        "games": [d.game_id for d in batch],
        "statuses": ["QUEUED"] * len(batch),
        "times": [datetime.fromtimestamp(d.t, UTC) for d in batch],
        "metas": [orjson.dumps({"revealAt": d.reveal_at}).decode() for d in batch],
    })  # fmt: skip


# A play is found by its id and its time, which lets PostgreSQL look in its day's partition
# alone (by the id alone, in every day's: 3.4 times the CPU with a month of days, measured
# by benchmarks/partitioned_ledger.py). A batch's statements also bound the times by the
# batch's first and last (``_span``): a join's values prune no partition when the statement
# is planned, two plain parameters do, so only the batch's days are planned and searched.
# The lock matches each time within a millisecond: the one a message carries went through
# a float.
_LOCK = text(
    "SELECT p.play_id, p.processed_time, p.request_time FROM play_events p "
    "JOIN unnest(CAST(:ids AS uuid[]), CAST(:times AS timestamptz[])) AS u(pid, t) "
    "ON p.play_id = u.pid AND p.request_time BETWEEN u.t - CAST(:near AS interval) "
    "AND u.t + CAST(:near AS interval) "
    "WHERE p.request_time BETWEEN :first AND :last "
    "ORDER BY p.play_id FOR UPDATE OF p"
)
_NEAR = timedelta(milliseconds=1)


def _span(times: Sequence[datetime], near: timedelta = timedelta()) -> dict[str, datetime]:
    return {"first": min(times) - near, "last": max(times) + near}


async def lock(
    conn: AsyncConnection, plays: Sequence[tuple[uuid.UUID, datetime]]
) -> Sequence[Row[Any]]:
    """Lock the rows of ``plays`` (id, request time) in play id order (so two recorders
    never deadlock); ``play_id``, ``processed_time`` and ``request_time`` of each."""
    times = [t for _, t in plays]
    params = {"ids": [p for p, _ in plays], "times": times, "near": _NEAR,
              **_span(times, _NEAR)}  # fmt: skip
    return (await conn.execute(_LOCK, params)).all()


_RECORD_OUTCOMES = text(
    "UPDATE play_events AS p SET status = u.status, processed_time = u.processed, "
    "latency_ms = u.latency, reward_coupon_id = u.coupon, decision_epoch = u.epoch, "
    "decision_seq = u.seq, "
    # Merged into what ingestion recorded (revealAt, device), not in place of it. A row
    # whose metadata is not an object (JSON null in a row written by hand) would make ``||``
    # build an array; the audit then starts from an empty object.
    "metadata = (CASE WHEN jsonb_typeof(p.metadata) = 'object' THEN p.metadata "
    "ELSE '{}'::jsonb END) || u.meta "
    "FROM unnest(CAST(:pids AS uuid[]), CAST(:statuses AS varchar[]), "
    "CAST(:processed AS timestamptz[]), CAST(:latencies AS integer[]), "
    "CAST(:coupons AS bigint[]), CAST(:epochs AS bigint[]), CAST(:seqs AS bigint[]), "
    "CAST(:metas AS jsonb[]), CAST(:times AS timestamptz[])) "
    "AS u(pid, status, processed, latency, coupon, epoch, seq, meta, t) "
    "WHERE p.play_id = u.pid AND p.request_time = u.t "
    "AND p.request_time BETWEEN :first AND :last"
)
"""One statement for the batch: as one UPDATE a row (executemany), PostgreSQL planned and
ran each row's statement on its own, which made most of the recorder's transaction at
5,000 plays/s (docs/performance.md)."""


async def record_outcomes(conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    """One row a play: ``pid`` and ``requested`` (its request time, as ``lock`` read it),
    ``status``, ``processed``, ``latency`` (ms), ``coupon`` (id or None), ``meta`` (merged
    into the row's metadata), and ``epoch`` and ``seq``, its decision's place in the order
    the decision log is chained in (None: no log entry)."""
    times = [r["requested"] for r in rows]
    await conn.execute(_RECORD_OUTCOMES, {
        "pids": [r["pid"] for r in rows], "statuses": [r["status"] for r in rows],
        "processed": [r["processed"] for r in rows], "latencies": [r["latency"] for r in rows],
        "coupons": [r["coupon"] for r in rows], "epochs": [r["epoch"] for r in rows],
        "seqs": [r["seq"] for r in rows],
        "metas": [orjson.dumps(r["meta"]).decode() for r in rows],
        "times": times, **_span(times),
    })  # fmt: skip


def _decided() -> Select[Any]:
    """A play as its ``Final`` is read. The metadata's keys come as text (``row.final_of``
    reads numbers either way): the history's statement stays a cheap prepared one."""
    return (
        select(
            PlayRow.play_id,
            PlayRow.game_id,
            PlayRow.status,
            PlayRow.request_time,
            PlayRow.processed_time,
            User.external_id,
            Coupon.code,
            Coupon.brand_id,
            PlayRow.metadata_["brand"].astext.label("meta_brand"),
            PlayRow.metadata_["revealAt"].astext.label("meta_reveal_at"),
            PlayRow.metadata_["p"].astext.label("meta_p"),
        )
        .join(User, User.id == PlayRow.user_id)
        .outerjoin(Coupon, Coupon.id == PlayRow.reward_coupon_id)
    )


def final(row: Any, reveal_seconds: float) -> Final:
    """The ``Final`` of a row read by ``recent`` or ``finals``."""
    meta = {"revealAt": row.meta_reveal_at, "brand": row.meta_brand, "p": row.meta_p}
    return final_of(
        row.play_id, row.game_id, row.external_id, row.status, row.request_time.timestamp(),
        meta, row.brand_id, row.code, reveal_seconds,
    )  # fmt: skip


_IDS = bindparam("ids", type_=ARRAY(UUID(as_uuid=True)))
_FINALS = _decided().where(PlayRow.play_id == any_(_IDS), PlayRow.processed_time.is_not(None))
_OUTCOMES = _FINALS.where(PlayRow.status.in_(OUTCOMES))


async def finals(
    conn: AsyncConnection, ids: Sequence[uuid.UUID], reveal_seconds: float,
    *, outcomes_only: bool = False,
) -> list[Final]:  # fmt: skip
    """The recorded plays of ``ids`` as their ``Final``; with ``outcomes_only``, only those
    whose status is an outcome a player can see (WIN, LOSE)."""
    query = _OUTCOMES if outcomes_only else _FINALS
    rows = (await conn.execute(query, {"ids": list(ids)})).all()
    return [final(row, reveal_seconds) for row in rows]


_RECENT = (
    _decided()
    .where(User.external_id == bindparam("user"), PlayRow.request_time >= bindparam("since"))
    .order_by(PlayRow.request_time.desc(), PlayRow.id.desc())
    .limit(bindparam("limit"))
    .compile(dialect=asyncpg.dialect())  # type: ignore[no-untyped-call]
)
"""Every socket reads its history on connect, thousands a minute when players reconnect:
compiled once and run as the driver's own prepared statement, with no transaction around
it, a read costs 0.3-0.4 ms of CPU instead of 1.1-1.9 (SQLAlchemy's execution, BEGIN and
ROLLBACK; measured)."""


async def recent(
    conn: AsyncConnection, user: str, since: datetime, limit: int
) -> list[SimpleNamespace]:
    """``user``'s latest ``limit`` plays requested at or after ``since``, newest first, as
    ``finals`` reads them (``final`` makes each decided one a ``Final``)."""
    values = {**_RECENT.params, "user": user, "since": since, "limit": limit}
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None
    records = await driver.fetch(str(_RECENT), *(values[k] for k in _RECENT.positiontup or ()))
    return [SimpleNamespace(**record) for record in records]


_DECIDED_SINCE = text(
    "SELECT p.play_id, extract(epoch FROM p.request_time) AS requested, p.status, "
    "c.brand_id FROM play_events p LEFT JOIN coupons c ON c.id = p.reward_coupon_id "
    "WHERE p.game_id = :game AND p.processed_time IS NOT NULL "
    "AND p.request_time >= to_timestamp(:since)"
)


async def decided_since(conn: AsyncConnection, game_id: int, since: float) -> Sequence[Row[Any]]:
    """The decided plays of a game requested since ``since`` (epoch seconds): ``play_id``,
    ``requested`` (epoch seconds), ``status``, the ``brand_id`` of its code."""
    return (await conn.execute(_DECIDED_SINCE, {"game": game_id, "since": since})).all()


_WINS_BY_BUCKET = text(
    "SELECT floor(extract(epoch FROM request_time - :start) / :width)::bigint AS i, "
    "count(*) FILTER (WHERE status = 'WIN') AS wins "
    "FROM play_events WHERE game_id = :game AND request_time >= :since "
    "AND request_time < :until GROUP BY i"
)


async def wins_by_bucket(
    conn: AsyncConnection, game_id: int, *, start: datetime, width: float,
    since: datetime, until: datetime,
) -> dict[int, int]:  # fmt: skip
    """A game's wins per bucket of ``width`` seconds from ``start``, of the plays requested
    in [since, until); buckets without a win may be absent."""
    rows = await conn.execute(_WINS_BY_BUCKET, {
        "start": start, "width": width, "game": game_id, "since": since, "until": until,
    })  # fmt: skip
    return {int(r.i): int(r.wins) for r in rows}


_PER_MINUTE = text(
    "SELECT game_id, floor(extract(epoch FROM request_time) / 60)::bigint AS m, "
    "count(*) AS plays, count(*) FILTER (WHERE status = 'WIN') AS wins "
    "FROM play_events WHERE game_id = ANY(:ids) "
    "AND request_time >= to_timestamp(:since) GROUP BY game_id, m"
)


async def per_minute(
    conn: AsyncConnection, game_ids: Sequence[int], since: float
) -> dict[tuple[int, int], tuple[int, int]]:
    """(game, minute since the epoch) -> (plays, wins), of the plays requested since
    ``since`` (epoch seconds); minutes without a play are absent."""
    rows = await conn.execute(_PER_MINUTE, {"ids": list(game_ids), "since": since})
    return {(r.game_id, int(r.m)): (int(r.plays), int(r.wins)) for r in rows}


async def counts_by_user(session: AsyncSession, users: Sequence[int]) -> dict[int, tuple[int, int]]:
    """user id -> (plays, wins); a user without a play is absent."""
    if not users:
        return {}
    rows = await session.execute(
        select(PlayRow.user_id, func.count(), func.count().filter(PlayRow.status == "WIN"))
        .where(PlayRow.user_id.in_(users))
        .group_by(PlayRow.user_id)
    )
    return {user: (plays, wins) for user, plays, wins in rows}


async def game_has_plays(session: AsyncSession, game_id: int) -> bool:
    found = await session.scalar(select(PlayRow.id).where(PlayRow.game_id == game_id).limit(1))
    return found is not None
