"""The decision log (docs/fairness.md): each game's decisions, hash-chained in the order of
the store's atomic steps.

- ``play_events.decision_epoch``, ``decision_seq``: where the recorded decision stands in
  its game's order (the Redis epoch it was made under, and the store's seq in it). The
  chainer reads a game's recorded decisions past its head in that order (the index).
- ``decision_log``: the chained entries, one a line of ``GET /games/{id}/audit.jsonl``:
  ``n`` from 1 per game, the entry as canonical JSON (``hash`` included), and the play it
  is of (a receipt's lookup).
- ``decision_log_heads``: each game's head: its length and last hash, and the (epoch, seq)
  of the last decision chained. A table of its own: recorders hold the game's row FOR
  SHARE while they record, and the chainer must not wait on them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("play_events", sa.Column("decision_epoch", sa.BigInteger(), nullable=True))
    op.add_column("play_events", sa.Column("decision_seq", sa.BigInteger(), nullable=True))
    op.create_index(
        "ix_play_events_decision_order", "play_events",
        ["game_id", "decision_epoch", "decision_seq"],
        postgresql_where=sa.text("decision_seq IS NOT NULL"),
    )  # fmt: skip
    op.create_table(
        "decision_log",
        sa.Column("game_id", sa.BigInteger(), sa.ForeignKey("games.id"), primary_key=True),
        sa.Column("n", sa.BigInteger(), primary_key=True),
        sa.Column("play_id", sa.Uuid(), nullable=True, unique=True),
        sa.Column("entry", sa.Text(), nullable=False),
    )
    op.create_table(
        "decision_log_heads",
        sa.Column("game_id", sa.BigInteger(), sa.ForeignKey("games.id"), primary_key=True),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("decision_log_heads")
    op.drop_table("decision_log")
    op.drop_index("ix_play_events_decision_order", "play_events")
    op.drop_column("play_events", "decision_seq")
    op.drop_column("play_events", "decision_epoch")
