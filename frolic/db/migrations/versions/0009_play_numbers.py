"""Each play's number in its game for its player, and its client seed (docs/fairness.md).

- ``player_plays``: how many plays each player has made in each game. The ingestion's group
  insert adds to it in the transaction that writes the plays, so a number exists only with
  its play (a failed insert leaves no gap) and survives a Redis loss.
- ``play_numbers``: each play's number, 1, 2, 3... per (game, player), no gaps. A table of
  its own because the statement that writes a batch of plays numbers them too, and a
  statement cannot update the rows it inserts.
- ``play_events.client_seed``: what the player sent as ``clientSeed`` ('' for none); with
  the number, it is bound into the play's draw.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "player_plays",
        sa.Column("game_id", sa.BigInteger(), sa.ForeignKey("games.id"), primary_key=True),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("plays", sa.Integer(), nullable=False),
    )
    op.create_table(
        "play_numbers",
        # No foreign key: its rows are written from the play rows in the same statement,
        # and a key's check per row cost ingestion more than the numbering itself.
        sa.Column("play_id", sa.Uuid(), primary_key=True),
        sa.Column("number", sa.Integer(), nullable=False),
    )
    op.add_column("play_events", sa.Column("client_seed", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("play_events", "client_seed")
    op.drop_table("play_numbers")
    op.drop_table("player_plays")
