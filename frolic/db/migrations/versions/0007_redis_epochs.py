"""What a Redis loss must not take: which load of a game Redis holds, and the players'
Idempotency-Keys.

- ``games.redis_epoch``: the epoch of the game's state in Redis (its pacing hash holds the
  same number in ``epoch``). Each load (schedule, go-live) and each rebuild after a loss
  takes a new one from the ``redis_epochs`` sequence (never reused, even by a rolled-back
  transaction). Allocators stamp each decision with the epoch it was made under; a
  recorder keeps only decisions of the game's current epoch, so a decision made against a
  state that a rebuild did not count is never recorded (frolic/reconcile/recovery.py).
- ``play_events.idempotency_key``: the ``Idempotency-Key`` a play was requested with, unique
  per player. Redis holds the key's claim for the fast path; after Redis lost it, a retried
  request still finds its play here and gets the same ``playId``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "games", sa.Column("redis_epoch", sa.BigInteger(), nullable=False, server_default="0")
    )
    op.execute("CREATE SEQUENCE redis_epochs START 1")
    op.add_column("play_events", sa.Column("idempotency_key", sa.String(128), nullable=True))
    op.create_index(
        "ix_play_events_idempotency_key",
        "play_events",
        ["user_id", "idempotency_key"],
        unique=True,
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_play_events_idempotency_key", table_name="play_events")
    op.drop_column("play_events", "idempotency_key")
    op.execute("DROP SEQUENCE redis_epochs")
    op.drop_column("games", "redis_epoch")
