"""Top-ups in the decision log (docs/fairness.md): each top-up of a committed game, with its
place in the game's decision order as Redis recorded it (after the decision ``seq`` of
``epoch``), for the chainer to put its entry there.

- ``decision_log_top_ups``: one row a top-up operation (its ``Idempotency-Key``): the brand,
  the coupons, when, its place, and ``n``, its entry's position once chained.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decision_log_top_ups",
        sa.Column("game_id", sa.BigInteger(), sa.ForeignKey("games.id"), primary_key=True),
        sa.Column("operation", sa.String(128), primary_key=True),
        sa.Column("brand_id", sa.BigInteger(), nullable=False),
        sa.Column("coupons", sa.Integer(), nullable=False),
        sa.Column("t", sa.Double(), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("decision_log_top_ups")
