"""Per-game settings of the probability engine.

- ``slot_seconds`` (1 to 5): the pacing slot. The seed leaves it at "5 # or 1"; short
  games want 1 s slots and long ones 5 s, so each game sets its own.
- ``odds``: ``fixed_odds`` awards one play in ``odds``.
- ``moments_seed``: the secret seed from which ``winning_moments`` draws its instants,
  so every allocator derives the same ones; drawn by the database when not given.
- ``moments_void``: unclaimed winning moments die at the next claim instead of rolling over.
- ``ck_games_known_probability_type``: ``probability_type`` selects the strategy, so an
  unknown name would be a game no allocator can decide.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

STRATEGIES = "('paced', 'slot', 'winning_moments', 'fixed_odds')"


def upgrade() -> None:
    op.add_column(
        "games", sa.Column("slot_seconds", sa.SmallInteger(), nullable=False, server_default="5")
    )
    op.add_column("games", sa.Column("odds", sa.Integer(), nullable=False, server_default="100"))
    op.add_column(
        "games",
        sa.Column(
            "moments_seed",
            sa.BigInteger(),
            nullable=False,
            server_default=sa.text("floor(random() * 9000000000000000000)::bigint"),
        ),
    )
    op.add_column(
        "games",
        sa.Column("moments_void", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_check_constraint(
        op.f("ck_games_slot_seconds_range"), "games", "slot_seconds BETWEEN 1 AND 5"
    )
    op.create_check_constraint(op.f("ck_games_odds_positive"), "games", "odds >= 1")
    op.create_check_constraint(
        op.f("ck_games_known_probability_type"), "games", f"probability_type IN {STRATEGIES}"
    )


def downgrade() -> None:
    for name in ("known_probability_type", "odds_positive", "slot_seconds_range"):
        op.drop_constraint(f"ck_games_{name}", "games")
    for column in ("moments_void", "moments_seed", "odds", "slot_seconds"):
        op.drop_column("games", column)
