"""The pacing line's anchor, kept where a Redis loss cannot take it.

- ``games.pacing_line_t``, ``games.pacing_line_from``: the anchor of the ``paced``
  strategy's line as Redis holds it (``pacing:game:{g}`` fields ``line_t``, ``line_from``):
  the line runs from ``pacing_line_from`` coupons at ``pacing_line_t`` (epoch seconds) to
  the game's total at its end; null: from 0 at the game's start. Written, under the game's
  row lock, by each load of the budget into Redis (a go-live after the start anchors it at
  0) and each top-up (which re-anchors it); ``frolic reconcile --rebuild`` restores it.
  Epoch seconds as a double, not a timestamp: it is the float Redis holds, so the rebuilt
  anchor is the same to the last bit.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("games", sa.Column("pacing_line_t", sa.Double(), nullable=True))
    op.add_column(
        "games",
        sa.Column("pacing_line_from", sa.Double(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_column("games", "pacing_line_from")
    op.drop_column("games", "pacing_line_t")
