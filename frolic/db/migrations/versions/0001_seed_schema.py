"""The seed's seven tables, exactly as seed-design.md §5 writes them.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.BigInteger(), primary_key=True)  # BIGSERIAL


def _stamp(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now())


def _at(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "campaigns",
        _id(),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text()),
        _at("start_time", nullable=False),
        _at("end_time", nullable=False),
        sa.Column("status", sa.String(50), nullable=False),
        _stamp("created_at"),
        _stamp("updated_at"),
    )
    op.create_table(
        "games",
        _id(),
        sa.Column("campaign_id", sa.BigInteger(), sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        _at("start_time", nullable=False),
        _at("end_time", nullable=False),
        sa.Column("total_budget", sa.Integer(), nullable=False),
        sa.Column("probability_type", sa.String(50), nullable=False),
        sa.Column("status", sa.String(50), nullable=False),
        _stamp("created_at"),
        _stamp("updated_at"),
    )
    op.create_table(
        "brands",
        _id(),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("logo_url", sa.Text()),
        _stamp("created_at"),
        _stamp("updated_at"),
    )
    op.create_table(
        "game_brand_budgets",
        _id(),
        sa.Column("game_id", sa.BigInteger(), sa.ForeignKey("games.id"), nullable=False),
        sa.Column("brand_id", sa.BigInteger(), sa.ForeignKey("brands.id"), nullable=False),
        sa.Column("total_coupons", sa.Integer(), nullable=False),
        sa.Column("remaining_coupons", sa.Integer(), nullable=False),
        _stamp("created_at"),
        _stamp("updated_at"),
        sa.UniqueConstraint("game_id", "brand_id"),
    )
    op.create_table(
        "coupons",
        _id(),
        sa.Column("brand_id", sa.BigInteger(), sa.ForeignKey("brands.id"), nullable=False),
        sa.Column("code", sa.String(255), nullable=False, unique=True),
        sa.Column("is_used", sa.Boolean(), server_default=sa.text("false")),
        sa.Column("game_id", sa.BigInteger(), sa.ForeignKey("games.id")),
        sa.Column("issued_to", sa.BigInteger()),
        _at("issued_at"),
        _at("used_at"),
        sa.Column("metadata", JSONB()),
        _stamp("created_at"),
        _stamp("updated_at"),
    )
    op.create_table(
        "play_events",
        _id(),
        sa.Column("play_id", sa.Uuid(), nullable=False, unique=True),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("game_id", sa.BigInteger(), sa.ForeignKey("games.id"), nullable=False),
        sa.Column("status", sa.String(50), nullable=False),
        sa.Column("reward_coupon_id", sa.BigInteger(), sa.ForeignKey("coupons.id")),
        _at("request_time", nullable=False),
        _at("processed_time"),
        sa.Column("latency_ms", sa.Integer()),
        sa.Column("metadata", JSONB()),
        _stamp("created_at"),
    )
    op.create_table(
        "users",
        _id(),
        sa.Column("external_id", sa.String(255), unique=True),
        sa.Column("name", sa.String(255)),
        _stamp("created_at"),
        _stamp("updated_at"),
    )


def downgrade() -> None:
    for table in (
        "users", "play_events", "coupons", "game_brand_budgets", "brands", "games", "campaigns"
    ):  # fmt: skip
        op.drop_table(table)
