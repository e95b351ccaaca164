"""Top-ups of a game's budget, recorded where the budget is.

- ``game_brand_budgets.top_ups``: the top-ups applied to the brand's budget, operation id
  -> coupons added. A retried top-up (the same ``Idempotency-Key``) finds its operation
  here and adds nothing twice; Redis keeps the same record beside the stock
  (``top_ups:game:{g}``), so a retry after a crash between the two adds once on each side.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "game_brand_budgets",
        sa.Column("top_ups", JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
    )


def downgrade() -> None:
    op.drop_column("game_brand_budgets", "top_ups")
