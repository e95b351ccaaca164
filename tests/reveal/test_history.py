"""Reconnect delivery: a player's recent results come from PostgreSQL."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from frolic.db import models
from frolic.reveal.history import recent
from tests.reveal.conftest import Server, final_for, player, received
from tests.reveal.test_socket import ping

REVEAL = 10.0


def at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


@dataclass
class Seeded:
    game: int
    brand: int
    user: str
    user_id: int

    async def play(
        self,
        db: AsyncEngine,
        requested: float,
        *,
        status: str = "QUEUED",
        decided: bool = False,
        code: str | None = None,
        meta: dict[str, Any] | None = None,
        user_id: int | None = None,
    ) -> str:
        play_id = uuid.uuid4()
        async with db.begin() as conn:
            coupon = None
            if code is not None:
                coupon = (
                    await conn.execute(
                        insert(models.Coupon)
                        .values(brand_id=self.brand, code=code, game_id=self.game, play_id=play_id)
                        .returning(models.Coupon.id)
                    )
                ).scalar_one()
            await conn.execute(
                insert(models.PlayRow).values(
                    play_id=play_id, user_id=user_id or self.user_id, game_id=self.game,
                    status=status, request_time=at(requested), reward_coupon_id=coupon,
                    processed_time=at(requested + 0.5) if decided else None, metadata_=meta,
                )
            )  # fmt: skip
        return str(play_id)


async def seed(db: AsyncEngine) -> Seeded:
    now = datetime.now(UTC)
    async with db.begin() as conn:

        async def new(model: Any, **values: Any) -> int:
            row = await conn.execute(insert(model).values(**values).returning(model.id))
            return int(row.scalar_one())

        campaign = await new(
            models.Campaign, name="reveal", start_time=now - timedelta(days=1),
            end_time=now + timedelta(days=1), status="ACTIVE",
        )  # fmt: skip
        game = await new(
            models.Game, campaign_id=campaign, name="wheel", start_time=now - timedelta(days=1),
            end_time=now + timedelta(days=1), total_budget=10, probability_type="paced",
            status="ACTIVE",
        )  # fmt: skip
        brand = await new(models.Brand, name="acme")
        user = player()
        user_id = await new(models.User, external_id=user)
    return Seeded(game, brand, user, user_id)


async def test_recent_plays_come_from_postgres(db: AsyncEngine) -> None:
    s = await seed(db)
    other = await seed(db)
    now = time.time()
    await s.play(db, now - 700, status="LOSE", decided=True)  # older than 10 minutes
    won = await s.play(db, now - 60, status="WIN", decided=True, code="C-" + s.user)
    lost = await s.play(db, now - 30, status="LOSE", decided=True, meta={"revealAt": now - 19})
    by_meta = await s.play(db, now - 20, status="WIN", decided=True, meta={"brand": s.brand})
    pending = await s.play(db, now - 1)
    await other.play(db, now - 5, status="WIN", decided=True)  # someone else's

    history = await recent(db, s.user, now - 600, REVEAL)

    assert list(history.pending) == [pending]
    assert [(f.play_id, f.outcome, f.brand, f.coupon_code) for f in history.decided] == [
        (won, "WIN", s.brand, "C-" + s.user),
        (lost, "LOSE", None, None),
        (by_meta, "WIN", s.brand, None),
    ]
    assert history.decided[0].reveal_at == pytest.approx(now - 60 + REVEAL)
    assert history.decided[1].reveal_at == pytest.approx(now - 19)  # as ingestion stored it
    assert all(f.user == s.user and f.game_id == s.game for f in history.decided)
    assert (await recent(db, "no-such-player", now - 600, REVEAL)).decided == []


async def test_a_reconnecting_player_gets_recent_results_then_pending_ones(
    server: Server, db: AsyncEngine
) -> None:
    s = await seed(db)
    reveal = server.settings.reveal_seconds
    now = time.time()
    won = await s.play(db, now - 60, status="WIN", decided=True, code="R-" + s.user)
    lost = await s.play(db, now - 30, status="LOSE", decided=True)
    soon = await s.play(db, now - reveal + 1.0, status="WIN", decided=True, code="S-" + s.user)
    pending = await s.play(db, now - reveal + 1.2)

    async with server.connect(s.user) as ws:
        # Due results at once, oldest first; the one due in a second is not disclosed yet.
        assert (await received(ws))["playId"] == won
        assert await received(ws) == {
            "type": "result", "playId": lost, "outcome": "LOSE", "brand": None,
            "couponCode": None, "probability": None,
        }  # fmt: skip
        await ping(ws)
        pending_final = final_for(s.user, now + 1.2, play_id=pending, game_id=s.game)
        server.publish(pending_final)
        message = await received(ws)
        assert time.time() >= now + 1.0
        assert message == {
            "type": "result", "playId": soon, "outcome": "WIN", "brand": s.brand,
            "couponCode": "S-" + s.user, "probability": None,
        }  # fmt: skip
        assert await received(ws) == pending_final.reveal()
        assert time.time() >= pending_final.reveal_at

    async with server.connect(s.user) as again:  # a later reconnect: the decided ones again
        assert [(await received(again))["playId"] for _ in range(3)] == [won, lost, soon]
        # Still undecided in PostgreSQL, and due: pending, not a result.
        assert await received(again) == {"type": "pending", "playId": pending, "retryAfter": 5}
        await ping(again)
