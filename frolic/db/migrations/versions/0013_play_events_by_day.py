"""``play_events`` partitioned by day of ``request_time`` (``frolic.db.partitions``), so
that old days can be dropped whole (``FROLIC_PLAY_RETENTION_DAYS``, by the partition keeper
``frolic.plays.keeper``) instead of deleted row by row, and each day's indexes stay the
size of a day.

A partitioned table's unique indexes must hold its partition key, so what was unique by
itself is unique with ``request_time`` beside it, and what must stay unique across days
moves out of the table:

- ``play_events``: primary key ``(id, request_time)``; ``(play_id, request_time)`` unique
  (a play's time never changes: every writer and reader of one play names both).
- ``play_keys``: each player's Idempotency-Keys, with the play each was first used for and
  its time. No per-day index could keep a key unique: a retry whose claim Redis lost comes
  with a new play id and a new time. Ingestion writes it in the statement that writes the
  plays, and a play whose key is already here is not written.
- ``coupons.play_id``: the play a code was issued to, set by the recorder as it issues it.
  ``play_events`` points at its code by ``(reward_coupon_id, play_id)``, a foreign key to
  ``coupons (id, play_id)``: a code can be held by the one play it was issued to, and no
  other (invariant 3, which the per-day index on ``reward_coupon_id`` no longer could
  hold). Looking a play up by its code keeps an index of its own, on the wins only.

- ``play_retention``: one row, ``kept_from``, the end of the last day the partition keeper
  dropped. No play requested before it is written again (ingestion's insert, the
  recorder's insert of a missing row): a decision read again from an old offset, or a
  retry of a play long gone, cannot bring a dropped play back and win it a second code.

Existing plays are copied over, each day that holds some getting its partition; the days
from yesterday to ``AHEAD_DAYS`` ahead get theirs, and ``play_events_default`` any other.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

from datetime import date, timedelta

from alembic import op

from frolic.db import partitions

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# Each way, the table being replaced is renamed ``play_events_before`` and copied from.
_COPY = """
INSERT INTO play_events (id, play_id, user_id, game_id, status, reward_coupon_id, request_time,
    processed_time, latency_ms, metadata, created_at, idempotency_key, client_seed,
    decision_epoch, decision_seq)
SELECT id, play_id, user_id, game_id, status, reward_coupon_id, request_time, processed_time,
    latency_ms, metadata, created_at, idempotency_key, client_seed, decision_epoch,
    decision_seq
FROM play_events_before
"""
# Indexes both layouts have, on the table of the moment.
_INDEXES = (
    "CREATE INDEX ix_play_events_user_id_request_time ON play_events (user_id, request_time)",
    "CREATE INDEX ix_play_events_game_id_request_time ON play_events (game_id, request_time)",
    "CREATE INDEX ix_play_events_unfinished ON play_events (request_time) "
    "WHERE processed_time IS NULL",
    "CREATE INDEX ix_play_events_decision_order ON play_events (game_id, decision_epoch, "
    "decision_seq) WHERE decision_seq IS NOT NULL",
)
_DROP_OLD_INDEXES = (
    "DROP INDEX ix_play_events_user_id_request_time, ix_play_events_game_id_request_time, "
    "ix_play_events_unfinished, ix_play_events_decision_order, ix_play_events_idempotency_key, "
    "play_events_reward_coupon_id_key"
)


def upgrade() -> None:
    op.execute("""
        CREATE TABLE play_keys (
            user_id bigint NOT NULL, idempotency_key varchar(128) NOT NULL,
            play_id uuid NOT NULL, request_time timestamptz NOT NULL,
            CONSTRAINT play_keys_pkey PRIMARY KEY (user_id, idempotency_key))
    """)
    op.execute("CREATE TABLE play_retention (id smallint PRIMARY KEY, kept_from timestamptz "
               "NOT NULL, CONSTRAINT ck_play_retention_one_row CHECK (id = 1))")  # fmt: skip
    op.execute("ALTER TABLE coupons ADD COLUMN play_id uuid")
    op.execute("UPDATE coupons c SET play_id = p.play_id FROM play_events p "
               "WHERE p.reward_coupon_id = c.id")  # fmt: skip
    op.execute("ALTER TABLE coupons ADD CONSTRAINT coupons_id_play_id_key UNIQUE (id, play_id)")

    op.execute("ALTER TABLE play_events RENAME TO play_events_before")
    op.execute(_DROP_OLD_INDEXES)
    op.execute("ALTER TABLE play_events_before DROP CONSTRAINT play_events_pkey, "
               "DROP CONSTRAINT play_events_play_id_key")  # fmt: skip
    op.execute("ALTER SEQUENCE play_events_id_seq OWNED BY NONE")
    op.execute("""
        CREATE TABLE play_events (
            id bigint NOT NULL DEFAULT nextval('play_events_id_seq'),
            play_id uuid NOT NULL, user_id bigint NOT NULL,
            game_id bigint NOT NULL REFERENCES games (id),
            status varchar(50) NOT NULL, reward_coupon_id bigint,
            request_time timestamptz NOT NULL, processed_time timestamptz, latency_ms integer,
            metadata jsonb, created_at timestamptz DEFAULT now(),
            idempotency_key varchar(128), client_seed varchar(64), decision_epoch bigint,
            decision_seq bigint,
            CONSTRAINT play_events_pkey PRIMARY KEY (id, request_time),
            CONSTRAINT play_events_play_id_request_time_key UNIQUE (play_id, request_time),
            CONSTRAINT play_events_coupon_fkey FOREIGN KEY (reward_coupon_id, play_id)
                REFERENCES coupons (id, play_id)
        ) PARTITION BY RANGE (request_time)
    """)
    op.execute("ALTER SEQUENCE play_events_id_seq OWNED BY play_events.id")
    for statement in _INDEXES:
        op.execute(statement)
    op.execute("CREATE INDEX ix_play_events_reward_coupon_id ON play_events (reward_coupon_id) "
               "WHERE reward_coupon_id IS NOT NULL")  # fmt: skip
    op.execute("CREATE TABLE play_events_default PARTITION OF play_events DEFAULT")
    for day in _days():
        op.execute(partitions.create_statement(day))
    op.execute(_COPY)
    op.execute("INSERT INTO play_keys (user_id, idempotency_key, play_id, request_time) "
               "SELECT user_id, idempotency_key, play_id, request_time FROM play_events "
               "WHERE idempotency_key IS NOT NULL ON CONFLICT DO NOTHING")  # fmt: skip
    op.execute("DROP TABLE play_events_before")


def _days() -> list[date]:
    """Each day the existing plays fall on, and yesterday to ``AHEAD_DAYS`` ahead."""
    bind = op.get_bind()
    held = bind.exec_driver_sql(
        "SELECT DISTINCT (request_time AT TIME ZONE 'UTC')::date FROM play_events_before"
    ).scalars()
    today: date = bind.exec_driver_sql("SELECT (now() AT TIME ZONE 'UTC')::date").scalar_one()
    ahead = (today + timedelta(days=k) for k in range(-1, partitions.AHEAD_DAYS + 1))
    return sorted(set(held) | set(ahead))


def downgrade() -> None:
    op.execute("ALTER TABLE play_events RENAME TO play_events_before")
    op.execute("ALTER SEQUENCE play_events_id_seq OWNED BY NONE")
    op.execute("""
        CREATE TABLE play_events (
            id bigint NOT NULL DEFAULT nextval('play_events_id_seq'),
            play_id uuid NOT NULL, user_id bigint NOT NULL, game_id bigint NOT NULL,
            status varchar(50) NOT NULL, reward_coupon_id bigint,
            request_time timestamptz NOT NULL, processed_time timestamptz, latency_ms integer,
            metadata jsonb, created_at timestamptz DEFAULT now(),
            idempotency_key varchar(128), client_seed varchar(64), decision_epoch bigint,
            decision_seq bigint)
    """)
    op.execute(_COPY)
    op.execute("DROP TABLE play_events_before")  # its partitions with it
    op.execute("ALTER SEQUENCE play_events_id_seq OWNED BY play_events.id")
    op.execute("""
        ALTER TABLE play_events ADD CONSTRAINT play_events_pkey PRIMARY KEY (id),
            ADD CONSTRAINT play_events_play_id_key UNIQUE (play_id),
            ADD CONSTRAINT play_events_game_id_fkey FOREIGN KEY (game_id) REFERENCES games (id),
            ADD CONSTRAINT play_events_reward_coupon_id_fkey FOREIGN KEY (reward_coupon_id)
                REFERENCES coupons (id)
    """)
    for statement in _INDEXES:
        op.execute(statement)
    op.execute("CREATE UNIQUE INDEX play_events_reward_coupon_id_key "
               "ON play_events (reward_coupon_id)")  # fmt: skip
    op.execute(
        "CREATE UNIQUE INDEX ix_play_events_idempotency_key "
        "ON play_events (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL"
    )
    op.execute("ALTER TABLE coupons DROP CONSTRAINT coupons_id_play_id_key")
    op.execute("ALTER TABLE coupons DROP COLUMN play_id")
    op.execute("DROP TABLE play_keys")
    op.execute("DROP TABLE play_retention")
