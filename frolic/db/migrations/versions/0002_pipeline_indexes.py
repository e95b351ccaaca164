"""What the play pipeline needs on top of the seed's tables.

Each addition and its reason:

- ``ix_coupons_unissued`` (partial, ``issued_at IS NULL``) on (brand_id, game_id, id):
  a win issues "one unused code of the brand that won"; recorders take it with
  ``FOR UPDATE SKIP LOCKED`` and this index finds the next free code without scanning
  the issued ones, which after a busy game are nearly all of them.
- ``play_events_reward_coupon_id_key`` (unique): invariant 3, no code is ever held by
  two plays, enforced by the ledger itself and not only by the code that writes it.
- ``ix_play_events_user_id_request_time``: per-user daily play limits and cooldowns,
  and a reconnecting player's recent results, read a user's latest plays.
- ``ix_play_events_game_id_request_time``: live stats and pacing curves per game.
- ``ix_play_events_unfinished`` (partial, ``processed_time IS NULL``): plays accepted
  but not yet decided, which the re-drive finds after a broker loses messages.
- ``ck_games_ends_after_start``, ``ck_games_budget_not_negative`` and
  ``ck_game_brand_budgets_remaining_within_total``: a game whose clock runs backwards
  or a budget below zero would make every pacing and reconciliation figure a lie.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_coupons_unissued",
        "coupons",
        ["brand_id", "game_id", "id"],
        postgresql_where=sa.text("issued_at IS NULL"),
    )
    op.create_index(
        "play_events_reward_coupon_id_key", "play_events", ["reward_coupon_id"], unique=True
    )
    op.create_index(
        "ix_play_events_user_id_request_time", "play_events", ["user_id", "request_time"]
    )
    op.create_index(
        "ix_play_events_game_id_request_time", "play_events", ["game_id", "request_time"]
    )
    op.create_index(
        "ix_play_events_unfinished",
        "play_events",
        ["request_time"],
        postgresql_where=sa.text("processed_time IS NULL"),
    )
    op.create_check_constraint(op.f("ck_games_ends_after_start"), "games", "end_time > start_time")
    op.create_check_constraint(op.f("ck_games_budget_not_negative"), "games", "total_budget >= 0")
    op.create_check_constraint(
        op.f("ck_game_brand_budgets_remaining_within_total"),
        "game_brand_budgets",
        "remaining_coupons >= 0 AND remaining_coupons <= total_coupons",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_game_brand_budgets_remaining_within_total"), "game_brand_budgets")
    op.drop_constraint(op.f("ck_games_budget_not_negative"), "games")
    op.drop_constraint(op.f("ck_games_ends_after_start"), "games")
    for index in (
        "ix_play_events_unfinished",
        "ix_play_events_game_id_request_time",
        "ix_play_events_user_id_request_time",
        "play_events_reward_coupon_id_key",
    ):
        op.drop_index(index, table_name="play_events")
    op.drop_index("ix_coupons_unissued", table_name="coupons")
