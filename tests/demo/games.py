"""What the demo's tests do to a game behind the API's back."""

from __future__ import annotations

from sqlalchemy import text

from frolic.config import Settings
from frolic.db.session import create_engine


async def pause(settings: Settings, game_id: int) -> None:
    """Pause a game in the ledger, as an operator's pause would leave it."""
    assert settings.database_url
    db = create_engine(settings.database_url, pool_size=1)
    try:
        async with db.begin() as conn:
            await conn.execute(
                text("UPDATE games SET status = 'paused' WHERE id = :g"), {"g": game_id}
            )
    finally:
        await db.dispose()
