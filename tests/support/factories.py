"""Factories for the pipeline tests: a live game with its budget, codes and warm Redis; and
a wait for its plays' outcomes."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from frolic import topics
from frolic.config import Settings
from frolic.db.session import create_engine
from frolic.engine.redis_store import store_for
from frolic.fairness.terms import Terms
from frolic.games.repository import load_game
from frolic.redis_client import connect


def with_own_topics(settings: Settings, prefix: str, **overrides: object) -> Settings:
    """Settings whose topics no other test uses, created, so no stray message reaches
    their consumers."""
    tag = f"{prefix}-{uuid.uuid4().hex[:6]}"
    mine = settings.model_copy(update={
        "play_topic": f"{tag}-plays", "result_topic": f"{tag}-results",
        "final_topic": f"{tag}-final", "kafka_partitions": 4, **overrides,
    })  # fmt: skip
    topics.ensure_topics(topics.admin_client(mine), mine)
    return mine


@dataclass(frozen=True)
class LiveGame:
    game_id: int
    brands: dict[int, int]  # brand id -> budget
    codes: set[str]


async def create_live_game(
    settings: Settings, *, budgets: tuple[int, ...] = (10, 10), minutes: float = 60,
    strategy: str = "paced", spare_codes: int = 0, seed: bytes | None = None, **limits: object,
) -> LiveGame:  # fmt: skip
    """``seed``: the game's committed fairness seed (its terms committed with it, as
    ``lifecycle.commit_fairness`` does), so its plays draw from it and are chained."""
    assert settings.database_url
    assert settings.redis_url
    db = create_engine(settings.database_url)
    now = datetime.now(UTC)
    tag = uuid.uuid4().hex[:8]
    brands: dict[int, int] = {}
    codes: set[str] = set()
    async with db.begin() as conn:
        campaign = (await conn.execute(text(
            "INSERT INTO campaigns (name, start_time, end_time, status) "
            "VALUES (:n, :s, :e, 'live') RETURNING id"),
            {"n": f"c-{tag}", "s": now - timedelta(hours=1), "e": now + timedelta(days=1)},
        )).scalar_one()  # fmt: skip
        columns = ", ".join(limits)
        values = ", ".join(f":{k}" for k in limits)
        game = (await conn.execute(text(
            "INSERT INTO games (campaign_id, name, start_time, end_time, total_budget, "
            f"probability_type, status, slot_seconds{', ' + columns if limits else ''}) "
            f"VALUES (:c, :n, :s, :e, :b, :p, 'live', 1{', ' + values if limits else ''}) "
            "RETURNING id"),
            {"c": campaign, "n": f"g-{tag}", "s": now - timedelta(seconds=5),
             "e": now + timedelta(minutes=minutes), "b": sum(budgets), "p": strategy, **limits},
        )).scalar_one()  # fmt: skip
        for i, budget in enumerate(budgets):
            brand = (await conn.execute(text(
                "INSERT INTO brands (name) VALUES (:n) RETURNING id"), {"n": f"b{i}-{tag}"}
            )).scalar_one()  # fmt: skip
            brands[brand] = budget
            await conn.execute(text(
                "INSERT INTO game_brand_budgets (game_id, brand_id, total_coupons, "
                "remaining_coupons) VALUES (:g, :b, :n, :n)"), {"g": game, "b": brand, "n": budget},
            )  # fmt: skip
            for n in range(budget + spare_codes):
                code = f"{tag}-{brand}-{n}"
                codes.add(code)
                await conn.execute(text(
                    "INSERT INTO coupons (brand_id, code) VALUES (:b, :c)"), {"b": brand, "c": code}
                )  # fmt: skip
    if seed is not None:
        async with db.begin() as conn:
            await conn.execute(text(
                "UPDATE games SET fairness_seed = :seed, fairness_terms = CAST(:terms AS jsonb) "
                "WHERE id = :g"),
                {"seed": seed, "g": game, "terms": json.dumps(Terms(
                    game_id=game, start=(now - timedelta(seconds=5)).timestamp(),
                    end=(now + timedelta(minutes=minutes)).timestamp(), budgets=brands,
                    strategy=strategy, slot_seconds=1.0, odds=int(str(limits.get("odds", 100))),
                ).document())},
            )  # fmt: skip
    view = await load_game(db, game)
    assert view is not None
    redis = connect(settings.redis_url)
    await store_for(settings, redis).load(view.rules, brands)
    await redis.aclose()
    await db.dispose()
    return LiveGame(game, brands, codes)


async def wait_decided(settings: Settings, play_ids: list[str], timeout: float = 30) -> None:
    """Return once every play has an outcome in PostgreSQL; fail after ``timeout`` s. A
    failed read counts as not yet: the outage tests wait while PostgreSQL comes back."""
    assert settings.database_url
    ids = list({uuid.UUID(p) for p in play_ids})
    decided = text(
        "SELECT count(*) FROM play_events WHERE play_id = ANY(:ids) AND status IN ('WIN', 'LOSE')"
    )
    db = create_engine(settings.database_url)
    left, deadline = len(ids), time.monotonic() + timeout
    try:
        while left and time.monotonic() < deadline:
            try:
                async with db.connect() as conn:
                    left = len(ids) - int((await conn.execute(decided, {"ids": ids})).scalar_one())
            except (OSError, SQLAlchemyError):
                pass
            if left:
                await asyncio.sleep(0.2)
    finally:
        await db.dispose()
    assert left == 0, f"{left} of {len(play_ids)} plays still have no outcome after {timeout:.0f} s"
