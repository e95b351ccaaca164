"""Pauses and resumes in the decision log (docs/fairness.md): ``decision_log_top_ups``
becomes ``decision_log_events``, whose ``kind`` says what each row is: a top-up (placed
after a decision, as before) or a pause or resume of a committed game (with its time; no
brand, coupons or place: the chainer logs it where it finds it).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_LOOSENED = ("brand_id", "coupons", "epoch", "seq")


def upgrade() -> None:
    op.rename_table("decision_log_top_ups", "decision_log_events")
    op.add_column("decision_log_events", sa.Column(
        "kind", sa.String(16), nullable=False, server_default="topUp"))  # fmt: skip
    for column in _LOOSENED:
        op.alter_column("decision_log_events", column, nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM decision_log_events WHERE kind <> 'topUp'")
    for column in _LOOSENED:
        op.alter_column("decision_log_events", column, nullable=False)
    op.drop_column("decision_log_events", "kind")
    op.rename_table("decision_log_events", "decision_log_top_ups")
