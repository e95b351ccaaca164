"""A play answered QUEUED reaches an outcome even when the broker never delivers it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from frolic.app import create_app
from frolic.config import Settings
from frolic.db.session import create_engine
from tests.play.test_pipeline import pipeline_settings  # noqa: F401 - the shared fixture
from tests.support.factories import create_live_game, wait_decided


@pytest.mark.parametrize("metadata", ["{}", "null", "[1]"])
async def test_a_play_the_broker_lost_is_redriven(
    pipeline_settings: Settings,  # noqa: F811
    metadata: str,
) -> None:
    # A row written by hand may hold JSON null or a list: the play must still be decided
    # and recorded, with the audit in an object (before: ``null || {...}`` made an array,
    # and the recorder's batch failed on it, every retry, holding up the plays behind it).
    s = pipeline_settings.model_copy(update={"redrive_after_seconds": 1.0})
    game = await create_live_game(s, budgets=(3,))
    assert s.database_url
    db = create_engine(s.database_url)
    play_id = uuid.uuid4()
    async with db.begin() as conn:
        user = (await conn.execute(text(
            "INSERT INTO users (external_id) VALUES (:x) RETURNING id"),
            {"x": f"lost-{play_id.hex[:6]}"})).scalar_one()  # fmt: skip
        # Recorded at ingestion, as POST /play does, but never published: a broker restart.
        await conn.execute(text(
            "INSERT INTO play_events (play_id, user_id, game_id, status, request_time, metadata) "
            "VALUES (:p, :u, :g, 'QUEUED', :t, CAST(:m AS jsonb))"),
            {"p": play_id, "u": user, "g": game.game_id, "t": datetime.now(UTC), "m": metadata},
        )  # fmt: skip
    app = create_app(s, roles=("allocator", "recorder"))
    try:
        async with app.router.lifespan_context(app):
            await wait_decided(s, [str(play_id)])  # it can only get one if it is re-driven
        async with db.connect() as conn:
            row = (await conn.execute(text(
                "SELECT status, metadata FROM play_events WHERE play_id = :p"), {"p": play_id},
            )).one()  # fmt: skip
    finally:
        await db.dispose()
    assert row.status in ("WIN", "LOSE")
    assert {"p", "draw"} <= set(row.metadata)  # the audit: the probability and the draw
