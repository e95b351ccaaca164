"""What the gateway checks before it accepts a play.

- ``users.blocked``: an operator can bar a player; the gateway refuses their plays.
- ``games.max_plays_per_day``: a cap on one player's plays of the game per UTC day
  (null: no cap).
- ``games.cooldown_seconds``: the least time between two plays of one player (0: none).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("blocked", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column("games", sa.Column("max_plays_per_day", sa.Integer(), nullable=True))
    op.add_column(
        "games",
        sa.Column("cooldown_seconds", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_check_constraint(
        op.f("ck_games_player_limits"),
        "games",
        "cooldown_seconds >= 0 AND (max_plays_per_day IS NULL OR max_plays_per_day >= 1)",
    )


def downgrade() -> None:
    op.drop_constraint("ck_games_player_limits", "games")
    op.drop_column("games", "cooldown_seconds")
    op.drop_column("games", "max_plays_per_day")
    op.drop_column("users", "blocked")
