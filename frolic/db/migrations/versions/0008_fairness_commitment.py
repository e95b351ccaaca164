"""A game's fairness commitment (docs/fairness.md).

- ``games.fairness_seed``: 32 bytes from the OS CSPRNG, made when the game leaves draft
  (scheduled or started). Secret until the game ends; only its SHA-256 is shown before.
- ``games.fairness_terms``: the terms published with the commitment (budgets, times,
  strategy and its parameters), as the JSON document whose digest is shown.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("games", sa.Column("fairness_seed", sa.LargeBinary(), nullable=True))
    op.add_column("games", sa.Column("fairness_terms", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("games", "fairness_terms")
    op.drop_column("games", "fairness_seed")
