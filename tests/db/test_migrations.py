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

from frolic.db import migrate, partitions
from frolic.db.models import Base
from frolic.db.session import create_engine

SEED_TABLES = {
    "campaigns", "games", "brands", "game_brand_budgets", "coupons", "play_events", "users"
}  # fmt: skip
HEAD_TABLES = SEED_TABLES | {
    "player_plays", "play_numbers",  # migration 0009
    "decision_log", "decision_log_heads",  # migration 0010
    "decision_log_events",  # migrations 0011, 0012
    "play_keys", "play_retention",  # migration 0013
}  # fmt: skip


async def tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: inspect(c).get_table_names())
    return {n for n in names if not partitions.is_partition(n)} - {"alembic_version"}


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
        context = MigrationContext.configure(sync_conn, opts={
            "compare_type": True,
            "include_name": lambda name, kind, _: not (kind == "table"
                                                       and partitions.is_partition(name)),
        })  # fmt: skip
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
    """Invariant 3 in the schema: a play holds a code only if the code was issued to it (a
    foreign key to ``coupons (id, play_id)``), so no code is ever held by two plays, on
    whatever days they fall."""
    game, brand = await seed_game(db)
    winner, other = uuid.uuid4(), uuid.uuid4()
    coupon = await insert(db, "INSERT INTO coupons (brand_id, code, play_id) VALUES "
                              "(:b, 'C1', :p)", b=brand, p=winner)  # fmt: skip
    sql = (
        "INSERT INTO play_events (play_id, user_id, game_id, status, reward_coupon_id, "
        "request_time) VALUES (:p, 1, :g, 'WIN', :c, :t)"
    )
    now = datetime.now(UTC)
    await insert(db, sql, p=winner, g=game, c=coupon, t=now)
    for t in (now, now - timedelta(days=3)):
        with pytest.raises(IntegrityError, match="play_events_coupon_fkey"):
            await insert(db, sql, p=other, g=game, c=coupon, t=t)


async def test_a_play_is_its_id_and_time_and_games_must_exist(db: AsyncConnection) -> None:
    game, _ = await seed_game(db)
    play = uuid.uuid4()
    sql = (
        "INSERT INTO play_events (play_id, user_id, game_id, status, request_time) "
        "VALUES (:p, 1, :g, 'QUEUED', :t)"
    )
    now = datetime.now(UTC)
    await insert(db, sql, p=play, g=game, t=now)
    with pytest.raises(IntegrityError, match="play_id_request_time_key"):
        await insert(db, sql, p=play, g=game, t=now)
    with pytest.raises(IntegrityError, match="play_events_game_id_fkey"):
        await insert(db, sql, p=uuid.uuid4(), g=game + 1000, t=now)


async def test_a_players_key_is_unique_across_days(db: AsyncConnection) -> None:
    sql = ("INSERT INTO play_keys (user_id, idempotency_key, play_id, request_time) "
           "VALUES (7, 'k-1', :p, :t)")  # fmt: skip
    now = datetime.now(UTC)
    async with db.begin_nested():
        await db.execute(text(sql), {"p": uuid.uuid4(), "t": now})
    with pytest.raises(IntegrityError, match="play_keys_pkey"):
        async with db.begin_nested():
            await db.execute(text(sql), {"p": uuid.uuid4(), "t": now + timedelta(days=2)})


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


async def test_partitioning_keeps_every_play_its_key_and_its_code(empty_database: str) -> None:
    """Migration 0013 on a ledger with plays: each day that holds some gets its partition,
    keys move to ``play_keys``, a win's code learns its play; and back down again."""
    await asyncio.to_thread(migrate.upgrade, empty_database, "0012")
    engine = create_engine(empty_database)
    old = datetime.now(UTC) - timedelta(days=40)
    winner, loser = uuid.uuid4(), uuid.uuid4()
    try:
        async with engine.begin() as conn:
            game, brand = await seed_game(conn)
            coupon = await insert(conn, "INSERT INTO coupons (brand_id, code) VALUES (:b, 'W')",
                                  b=brand)  # fmt: skip
            for play, status, code, key in ((winner, "WIN", coupon, "k-1"),
                                            (loser, "LOSE", None, None)):  # fmt: skip
                await insert(conn, "INSERT INTO play_events (play_id, user_id, game_id, status, "
                                   "reward_coupon_id, request_time, idempotency_key) VALUES "
                                   "(:p, 1, :g, :s, :c, :t, :k)",
                             p=play, g=game, s=status, c=code, t=old, k=key)  # fmt: skip
        await asyncio.to_thread(migrate.upgrade, empty_database)
        async with engine.connect() as conn:
            where = (await conn.execute(text(
                "SELECT play_id, tableoid::regclass::text AS part FROM play_events"
            ))).all()  # fmt: skip
            assert {(r.play_id, r.part) for r in where} == {
                (winner, partitions.name_of(old.date())), (loser, partitions.name_of(old.date()))
            }  # fmt: skip
            keys = (await conn.execute(text("SELECT user_id, idempotency_key, play_id, "
                                            "request_time FROM play_keys"))).all()  # fmt: skip
            assert [tuple(k) for k in keys] == [(1, "k-1", winner, old)]
            issued = await conn.execute(text("SELECT play_id FROM coupons WHERE id = :c"),
                                        {"c": coupon})  # fmt: skip
            assert issued.scalar_one() == winner
        await asyncio.to_thread(migrate.downgrade, empty_database, "0012")
        async with engine.connect() as conn:
            back = (await conn.execute(text(
                "SELECT play_id, reward_coupon_id, idempotency_key FROM play_events"
            ))).all()  # fmt: skip
        assert sorted(map(tuple, back), key=str) == sorted(
            [(winner, coupon, "k-1"), (loser, None, None)], key=str
        )
    finally:
        await engine.dispose()
