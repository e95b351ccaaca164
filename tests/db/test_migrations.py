"""Migrations go up and down, agree with the models, and enforce the ledger's constraints."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from frolic.db import migrate
from frolic.db.models import Base
from frolic.db.session import create_engine

SEED_TABLES = {
    "campaigns", "games", "brands", "game_brand_budgets", "coupons", "play_events", "users"
}  # fmt: skip
HEAD_TABLES = SEED_TABLES | {
    "player_plays", "play_numbers",  # migration 0009
    "decision_log", "decision_log_heads",  # migration 0010
    "decision_log_events",  # migrations 0011, 0012
}  # fmt: skip


async def tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: inspect(c).get_table_names())
    return set(names) - {"alembic_version"}


async def test_up_down_up(empty_database: str) -> None:
    engine = create_engine(empty_database)
    try:
        await asyncio.to_thread(migrate.upgrade, empty_database)
        assert await tables(engine) == HEAD_TABLES
        for revision in ("0003", "0002", "0001"):  # one step down at a time
            await asyncio.to_thread(migrate.downgrade, empty_database, revision)
            async with engine.connect() as conn:
                assert await migrate.current(conn) == revision
        await asyncio.to_thread(migrate.downgrade, empty_database, "base")
        assert await tables(engine) == set()
        await asyncio.to_thread(migrate.upgrade, empty_database)
        async with engine.connect() as conn:
            assert await migrate.current(conn) == migrate.head()
    finally:
        await engine.dispose()


async def test_models_match_migrated_schema(empty_database: str) -> None:
    await asyncio.to_thread(migrate.upgrade, empty_database)
    engine = create_engine(empty_database)

    def diff(sync_conn: Connection) -> list[object]:
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()


@pytest.fixture
async def db(empty_database: str) -> AsyncIterator[AsyncConnection]:
    await asyncio.to_thread(migrate.upgrade, empty_database)
    engine = create_engine(empty_database)
    async with engine.connect() as conn:
        yield conn
    await engine.dispose()


async def insert(db: AsyncConnection, sql: str, **params: object) -> int:
    async with db.begin_nested():
        value: int = (await db.execute(text(sql + " RETURNING id"), params)).scalar_one()
    return value


async def seed_game(db: AsyncConnection) -> tuple[int, int]:
    now = datetime.now(UTC)
    campaign = await insert(
        db,
        "INSERT INTO campaigns (name, start_time, end_time, status) VALUES ('c', :s, :e, 'live')",
        s=now, e=now + timedelta(days=1),
    )  # fmt: skip
    game = await insert(
        db,
        "INSERT INTO games (campaign_id, name, start_time, end_time, total_budget, "
        "probability_type, status) VALUES (:c, 'g', :s, :e, 10, 'paced', 'live')",
        c=campaign, s=now, e=now + timedelta(hours=1),
    )  # fmt: skip
    brand = await insert(db, "INSERT INTO brands (name) VALUES ('b')")
    return game, brand


async def test_coupon_code_is_unique(db: AsyncConnection) -> None:
    _, brand = await seed_game(db)
    sql = "INSERT INTO coupons (brand_id, code) VALUES (:b, 'SAME-CODE')"
    await insert(db, sql, b=brand)
    with pytest.raises(IntegrityError, match="coupons_code_key"):
        await insert(db, sql, b=brand)


async def test_one_budget_row_per_game_and_brand(db: AsyncConnection) -> None:
    game, brand = await seed_game(db)
    sql = (
        "INSERT INTO game_brand_budgets (game_id, brand_id, total_coupons, remaining_coupons) "
        "VALUES (:g, :b, 5, 5)"
    )
    await insert(db, sql, g=game, b=brand)
    with pytest.raises(IntegrityError, match="game_brand_budgets_game_id_brand_id_key"):
        await insert(db, sql, g=game, b=brand)


@pytest.mark.parametrize(("total", "remaining"), [(5, -1), (5, 6)])
async def test_remaining_stays_within_total(
    db: AsyncConnection, total: int, remaining: int
) -> None:
    game, brand = await seed_game(db)
    with pytest.raises(IntegrityError, match="remaining_within_total"):
        await insert(
            db,
            "INSERT INTO game_brand_budgets (game_id, brand_id, total_coupons, "
            "remaining_coupons) VALUES (:g, :b, :t, :r)",
            g=game, b=brand, t=total, r=remaining,
        )  # fmt: skip


async def test_game_must_end_after_it_starts(db: AsyncConnection) -> None:
    game, _ = await seed_game(db)
    with pytest.raises(IntegrityError, match="ends_after_start"):
        async with db.begin_nested():
            await db.execute(
                text("UPDATE games SET end_time = start_time WHERE id = :g"), {"g": game}
            )


async def test_a_coupon_rewards_one_play_at_most(db: AsyncConnection) -> None:
    game, brand = await seed_game(db)
    coupon = await insert(db, "INSERT INTO coupons (brand_id, code) VALUES (:b, 'C1')", b=brand)
    sql = (
        "INSERT INTO play_events (play_id, user_id, game_id, status, reward_coupon_id, "
        "request_time) VALUES (:p, 1, :g, 'WIN', :c, now())"
    )
    await insert(db, sql, p=uuid.uuid4(), g=game, c=coupon)
    with pytest.raises(IntegrityError, match="play_events_reward_coupon_id_key"):
        await insert(db, sql, p=uuid.uuid4(), g=game, c=coupon)


async def test_play_id_is_unique_and_games_must_exist(db: AsyncConnection) -> None:
    game, _ = await seed_game(db)
    play = uuid.uuid4()
    sql = (
        "INSERT INTO play_events (play_id, user_id, game_id, status, request_time) "
        "VALUES (:p, 1, :g, 'QUEUED', now())"
    )
    await insert(db, sql, p=play, g=game)
    with pytest.raises(IntegrityError, match="play_events_play_id_key"):
        await insert(db, sql, p=play, g=game)
    with pytest.raises(IntegrityError, match="play_events_game_id_fkey"):
        await insert(db, sql, p=uuid.uuid4(), g=game + 1000)


async def test_unissued_coupon_lookup_uses_the_partial_index(db: AsyncConnection) -> None:
    _, brand = await seed_game(db)
    await db.execute(
        text(
            "INSERT INTO coupons (brand_id, code, issued_at) "
            # Codes go out in id order during a game: the free ones are the last few.
            "SELECT :b, 'C' || i, CASE WHEN i > 19800 THEN NULL ELSE now() END "
            "FROM generate_series(1, 20000) AS i"
        ),
        {"b": brand},
    )
    await db.execute(text("ANALYZE coupons"))
    plan = (
        await db.execute(
            text(
                "EXPLAIN SELECT id FROM coupons WHERE brand_id = :b AND game_id IS NULL "
                "AND issued_at IS NULL LIMIT 1 FOR UPDATE SKIP LOCKED"
            ),
            {"b": brand},
        )
    ).scalars()
    assert "ix_coupons_unissued" in "\n".join(plan)


@pytest.mark.parametrize(
    ("column", "value", "constraint"),
    [
        ("slot_seconds", 0, "slot_seconds_range"),
        ("slot_seconds", 6, "slot_seconds_range"),
        ("odds", 0, "odds_positive"),
        ("probability_type", "'lucky'", "known_probability_type"),
    ],
)
async def test_engine_settings_are_checked(
    db: AsyncConnection, column: str, value: object, constraint: str
) -> None:
    game, _ = await seed_game(db)
    with pytest.raises(IntegrityError, match=constraint):
        async with db.begin_nested():
            await db.execute(
                text(f"UPDATE games SET {column} = {value} WHERE id = :g"), {"g": game}
            )


async def test_each_game_gets_its_own_secret_moments_seed(db: AsyncConnection) -> None:
    first, _ = await seed_game(db)
    second, _ = await seed_game(db)
    seeds = (await db.execute(text("SELECT moments_seed FROM games WHERE id IN (:a, :b)"),
                              {"a": first, "b": second})).scalars().all()  # fmt: skip
    assert len(set(seeds)) == 2
