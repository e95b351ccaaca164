"""The admin app and its clients (``tests/admin/conftest.py``), and codes as the recorder
leaves them when a play wins."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from frolic.resources import Resources
from tests.admin.conftest import admin, app, res

__all__ = ["admin", "app", "issue", "res"]


async def issue(res: Resources, code: str, game_id: int, user: str) -> str:
    """Lock ``code`` to a new winning play of ``user`` in ``game_id``, as the recorder does;
    the play's id."""
    play_id = str(uuid.uuid4())
    async with res.db.begin() as conn:
        user_id = (
            await conn.execute(
                text(
                    "INSERT INTO users (external_id) VALUES (:x) ON CONFLICT (external_id) "
                    "DO UPDATE SET external_id = EXCLUDED.external_id RETURNING id"
                ),
                {"x": user},
            )
        ).scalar_one()
        coupon = (
            await conn.execute(
                text(
                    "UPDATE coupons SET issued_to = :u, play_id = :p, "
                    "issued_at = clock_timestamp(), game_id = :g "
                    "WHERE code = :c AND issued_at IS NULL RETURNING id"
                ),
                {"u": user_id, "p": play_id, "g": game_id, "c": code},
            )
        ).scalar_one()
        await conn.execute(
            text(
                "INSERT INTO play_events (play_id, user_id, game_id, status, request_time, "
                "processed_time, reward_coupon_id) "
                "VALUES (:p, :u, :g, 'WIN', now(), now(), :c)"
            ),
            {"p": play_id, "u": user_id, "g": game_id, "c": coupon},
        )
    return play_id
