"""What partitioning ``play_events`` by day would cost a play, measured before building it
(issue 16, part 4): PostgreSQL's CPU and the bytes a play takes, for the ledger as it is
and for the same table partitioned by ``request_time``.

    python benchmarks/partitioned_ledger.py --plays 100000 --days 30

Both layouts are built side by side in one embedded PostgreSQL (or ``--database-url``),
with the indexes of ``frolic.db.models.PlayRow``. The partitioned one must carry the
partition key in every unique index, so it keeps ``(play_id, request_time)`` and
``(reward_coupon_id, request_time)`` unique, and moves the Idempotency-Key's uniqueness
per player (which no per-partition index can give: a retry's new claim has a new time) to
a table of its own, ``play_keys``, written in the same statement.

Each layout first holds ``--days - 1`` older days of decided plays, then takes
``--plays`` new plays as ingestion writes them (``--batch`` a statement, each with a key)
and records their outcomes as the recorder does (``--record-batch`` an UPDATE). The
partitioned layout's outcomes are written twice over: joined on the play id and its time
(which lets PostgreSQL skip every other day's partition) and on the play id alone; then
``--lookups`` plays are read one by one by their id alone, then by their id and the
milliseconds it names, as ``GET /plays/{id}`` looks first. It
prints one JSON line: per layout and phase, the server's CPU in µs a play (its backend
process, from /proc) and the bytes a new play adds (tables and indexes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import psutil

COLUMNS = """
    id bigint NOT NULL DEFAULT nextval('{schema}.ids'), play_id uuid NOT NULL,
    user_id bigint NOT NULL, game_id bigint NOT NULL, status varchar(50) NOT NULL,
    reward_coupon_id bigint, request_time timestamptz NOT NULL, processed_time timestamptz,
    latency_ms integer, metadata jsonb, created_at timestamptz DEFAULT now(),
    idempotency_key varchar(128), client_seed varchar(64), decision_epoch bigint,
    decision_seq bigint
"""
# The indexes both layouts share (frolic.db.models.PlayRow).
SHARED_INDEXES = """
CREATE INDEX ON {t} (user_id, request_time);
CREATE INDEX ON {t} (game_id, request_time);
CREATE INDEX ON {t} (request_time) WHERE processed_time IS NULL;
CREATE INDEX ON {t} (game_id, decision_epoch, decision_seq) WHERE decision_seq IS NOT NULL;
"""
PLAIN = """
CREATE SCHEMA plain; CREATE SEQUENCE plain.ids;
CREATE TABLE plain.play_events ({columns}, PRIMARY KEY (id), UNIQUE (play_id),
    UNIQUE (reward_coupon_id));
CREATE UNIQUE INDEX ON plain.play_events (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
"""
PARTED = """
CREATE SCHEMA parted; CREATE SEQUENCE parted.ids;
CREATE TABLE parted.play_events ({columns}, PRIMARY KEY (id, request_time),
    UNIQUE (play_id, request_time), UNIQUE (reward_coupon_id, request_time))
    PARTITION BY RANGE (request_time);
CREATE TABLE parted.play_keys (user_id bigint NOT NULL, idempotency_key varchar(128) NOT NULL,
    play_id uuid NOT NULL, PRIMARY KEY (user_id, idempotency_key));
"""
INSERT_PLAIN = """
INSERT INTO plain.play_events (play_id, user_id, game_id, status, request_time, metadata,
                               idempotency_key, client_seed)
SELECT play_id, user_id, 1, 'QUEUED', request_time, '{"revealAt": 0}'::jsonb, k, ''
FROM unnest($1::uuid[], $2::bigint[], $3::timestamptz[], $4::text[])
    AS t(play_id, user_id, request_time, k)
ON CONFLICT DO NOTHING
"""
INSERT_PARTED = """
WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::timestamptz[], $4::text[])
        AS t(play_id, user_id, request_time, k)
), keyed AS (
    INSERT INTO parted.play_keys (user_id, idempotency_key, play_id)
    SELECT user_id, k, play_id FROM input ON CONFLICT DO NOTHING RETURNING play_id
)
INSERT INTO parted.play_events (play_id, user_id, game_id, status, request_time, metadata,
                                idempotency_key, client_seed)
SELECT i.play_id, i.user_id, 1, 'QUEUED', i.request_time, '{"revealAt": 0}'::jsonb, i.k, ''
FROM input i JOIN keyed USING (play_id)
ON CONFLICT DO NOTHING
"""
RECORD = """
UPDATE {t} AS p SET status = 'LOSE', processed_time = now(), latency_ms = 1,
    metadata = p.metadata || '{{"p": 0.01}}'::jsonb, decision_epoch = 1, decision_seq = u.seq
FROM unnest($1::uuid[], $2::timestamptz[], $3::bigint[]) AS u(play_id, request_time, seq)
WHERE p.play_id = u.play_id {with_time}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="A PostgreSQL to use; unset: start one here.")
    parser.add_argument("--plays", type=int, default=100_000, help="New plays a layout.")
    parser.add_argument("--days", type=int, default=30, help="Days of partitions, today's too.")
    parser.add_argument("--old-per-day", type=int, default=20_000, help="Older plays a day.")
    parser.add_argument("--batch", type=int, default=20, help="Plays an ingestion statement.")
    parser.add_argument("--record-batch", type=int, default=500, help="Plays an UPDATE.")
    parser.add_argument("--lookups", type=int, default=5000, help="Plays looked up by id.")
    args = parser.parse_args()
    if args.database_url:
        print(json.dumps(asyncio.run(measure(args.database_url, args))))
        return
    from frolic.config import Settings
    from frolic.stack import Stack

    with tempfile.TemporaryDirectory() as state:
        settings = Settings(state_dir=Path(state))
        with Stack(settings, only=frozenset({"postgres"})) as endpoints:
            url = endpoints.database_url.replace("postgresql+asyncpg://", "postgresql://")
            print(json.dumps(asyncio.run(measure(url, args))))


async def measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "DROP SCHEMA IF EXISTS plain CASCADE; DROP SCHEMA IF EXISTS parted CASCADE"
        )
        now = datetime.now(UTC)
        today = datetime(now.year, now.month, now.day, tzinfo=UTC)
        await build(conn, today, args.days)
        result: dict[str, Any] = {"plays": args.plays, "days": args.days,
                                  "old_per_day": args.old_per_day, "batch": args.batch,
                                  "record_batch": args.record_batch}  # fmt: skip
        for schema in ("plain", "parted"):
            await fill_old_days(conn, schema, today, args.days, args.old_per_day)
            await conn.execute("CHECKPOINT")
            result[schema] = await load(conn, schema, today, args)
        return result
    finally:
        await conn.close()


async def build(conn: Any, today: datetime, days: int) -> None:
    await conn.execute(PLAIN.format(columns=COLUMNS.format(schema="plain")))
    await conn.execute(SHARED_INDEXES.format(t="plain.play_events"))
    await conn.execute(PARTED.format(columns=COLUMNS.format(schema="parted")))
    await conn.execute(SHARED_INDEXES.format(t="parted.play_events"))
    for back in range(days - 1, -2, -1):  # the older days, today and tomorrow
        start = today - timedelta(days=back)
        end = start + timedelta(days=1)
        await conn.execute(
            f"CREATE TABLE parted.play_events_{start:%Y%m%d} PARTITION OF parted.play_events "
            f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
        )


async def fill_old_days(conn: Any, schema: str, today: datetime, days: int, per_day: int) -> None:
    """Decided plays spread over the days before today, keys and all."""
    total = per_day * (days - 1)
    if total <= 0:
        return
    await conn.execute(
        f"""INSERT INTO {schema}.play_events (play_id, user_id, game_id, status, request_time,
               processed_time, metadata, idempotency_key, client_seed)
            SELECT gen_random_uuid(), n % 100000, 1, 'LOSE',
                   $1::timestamptz - make_interval(secs => (n % ($2 - 1) + 1) * 86400.0 / $3),
                   now(), '{{"revealAt": 0, "p": 0.01}}'::jsonb, 'old-' || n, ''
            FROM generate_series(1, $2::bigint) AS n""",
        today, total, per_day,
    )  # fmt: skip
    if schema == "parted":
        await conn.execute(
            "INSERT INTO parted.play_keys SELECT user_id, idempotency_key, play_id "
            "FROM parted.play_events"
        )
    await conn.execute(f"ANALYZE {schema}.play_events")


async def load(conn: Any, schema: str, today: datetime, args: argparse.Namespace) -> dict[str, Any]:
    pid = await conn.fetchval("SELECT pg_backend_pid()")
    before = await size(conn, schema)
    base = datetime.now(UTC)
    plays = [(uuid.uuid4(), i % 50_000, base + timedelta(microseconds=i * 200), f"k-{i}")
             for i in range(args.plays)]  # fmt: skip
    insert = INSERT_PLAIN if schema == "plain" else INSERT_PARTED
    figures: dict[str, Any] = {}
    cpu, wall = cpu_seconds(pid), time.perf_counter()
    for at in range(0, len(plays), args.batch):
        chunk = plays[at : at + args.batch]
        await conn.execute(insert, *(list(column) for column in zip(*chunk, strict=True)))
    figures["ingest_cpu_us"] = per_play(cpu_seconds(pid) - cpu, args.plays)
    figures["ingest_wall_us"] = per_play(time.perf_counter() - wall, args.plays)
    figures["bytes_per_play"] = round((await size(conn, schema) - before) / args.plays)
    ways = {"record": "AND p.request_time = u.request_time"}
    if schema == "parted":
        ways["record_by_play_id_alone"] = ""
    for name, with_time in ways.items():
        statement = RECORD.format(t=f"{schema}.play_events", with_time=with_time)
        cpu, wall = cpu_seconds(pid), time.perf_counter()
        for at in range(0, len(plays), args.record_batch):
            chunk = plays[at : at + args.record_batch]
            await conn.execute(statement, [p[0] for p in chunk], [p[2] for p in chunk],
                               list(range(at, at + len(chunk))))  # fmt: skip
        figures[f"{name}_cpu_us"] = per_play(cpu_seconds(pid) - cpu, args.plays)
        figures[f"{name}_wall_us"] = per_play(time.perf_counter() - wall, args.plays)
    # A player's look-up of one play by its id (GET /plays/{id}): no time to prune by.
    look = await conn.prepare(f"SELECT status FROM {schema}.play_events WHERE play_id = $1")
    sample = plays[:: max(1, len(plays) // args.lookups)][: args.lookups]
    cpu = cpu_seconds(pid)
    for p in sample:
        await look.fetchval(p[0])
    figures["lookup_by_id_cpu_us"] = per_play(cpu_seconds(pid) - cpu, len(sample))
    # The same, in the few milliseconds its id names (``frolic.plays.row.requested_near``).
    near = await conn.prepare(f"SELECT status FROM {schema}.play_events WHERE play_id = $1 "
                              "AND request_time BETWEEN $2 AND $3")  # fmt: skip
    cpu = cpu_seconds(pid)
    for p in sample:
        await near.fetchval(
            p[0], p[2] - timedelta(milliseconds=1), p[2] + timedelta(milliseconds=2)
        )
    figures["lookup_by_id_and_time_cpu_us"] = per_play(cpu_seconds(pid) - cpu, len(sample))
    # And planned for its values each time, so the plan itself holds only the play's day (a
    # generic plan prunes as it starts, after locking and setting up every partition).
    await conn.execute("SET plan_cache_mode = force_custom_plan")
    cpu = cpu_seconds(pid)
    for p in sample:
        await near.fetchval(
            p[0], p[2] - timedelta(milliseconds=1), p[2] + timedelta(milliseconds=2)
        )
    figures["lookup_by_id_and_time_custom_plan_cpu_us"] = per_play(
        cpu_seconds(pid) - cpu, len(sample)
    )
    await conn.execute("RESET plan_cache_mode")
    return figures


async def size(conn: Any, schema: str) -> int:
    """Bytes of the schema's tables with their indexes and TOAST."""
    return int(await conn.fetchval(
        "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 "
        "AND c.relkind = 'r'", schema,
    ))  # fmt: skip


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def per_play(seconds: float, plays: int) -> float:
    return round(seconds / plays * 1e6, 1)


if __name__ == "__main__":
    main()
