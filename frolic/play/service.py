"""``POST /play`` and ``GET /plays/{id}``: the gateway's checks, then record and publish.

Order matters. A retried request (same ``Idempotency-Key``) gets its play back before any
per-player limit is counted again. A play is committed to PostgreSQL before it is
published and answered, so a broker that loses it cannot lose the play: the re-driver
publishes again whatever stays undecided (``allocator.redrive``).

A play costs one Redis round trip (``Limits.gate``: the address's and the player's rates,
the key, the game's limits and the key's claim, in one script; on a Cluster the address's
rate is a call of its own) and a share of one PostgreSQL statement (``PlayWriter``: the
player, their block, and the play). The game comes from an in-process cache.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import uuid_utils
from sqlalchemy import select

from frolic.config import Settings
from frolic.db.models import Coupon, PlayEvent, User
from frolic.errors import Forbidden, FrolicError, NotFound, NotReady, ValidationFailed
from frolic.games.repository import GameCache
from frolic.monitoring import metrics
from frolic.play.limits import Limits, Rate
from frolic.play.schemas import PlayView
from frolic.play.writer import NewPlay, PlayWriter
from frolic.playlog import messages
from frolic.playlog.producer import PlayLog
from frolic.redis_client import AsyncRedis


class PlayService:
    def __init__(
        self,
        settings: Settings,
        redis: AsyncRedis,
        games: GameCache,
        writer: PlayWriter,
        playlog: PlayLog,
    ) -> None:
        self.settings = settings
        self.redis = redis
        self.games = games
        self.db = games.db
        self.writer = writer
        self.playlog = playlog
        self.limits = Limits(redis)
        self.user_rate = Rate(settings.rate_user_per_second, settings.rate_user_burst)
        self.ip_rate = Rate(settings.rate_ip_per_second, settings.rate_ip_burst)

    async def accept(
        self, user: str, game_id: int, *, ip: str, key: str | None, device: dict[str, Any] | None
    ) -> tuple[str, float]:
        """The accepted play's id and revealAt (an earlier play's, for a retried key)."""
        try:
            accepted = await self._accept(user, game_id, ip=ip, key=key, device=device)
        except FrolicError as exc:
            metrics.PLAYS_REFUSED.labels(type(exc).__name__).inc()
            raise
        metrics.PLAYS_ACCEPTED.labels(str(game_id)).inc()  # only a known game gets here
        return accepted

    async def _accept(
        self, user: str, game_id: int, *, ip: str, key: str | None, device: dict[str, Any] | None
    ) -> tuple[str, float]:
        if key is not None:
            _check_key(key)
        now = time.time()
        game = await self.games.get(game_id)
        if game is None or not game.open_at(now):
            await self.limits.rate("ip", ip, self.ip_rate)  # a refusal is counted too
            # A retry still gets its play back after the game has closed.
            if key is not None and (earlier := await self.limits.claimed(user, key)):
                return _accepted(earlier)
            if game is None:
                raise NotFound(f"no game {game_id}")
            raise ValidationFailed(f"game {game_id} is not open for play ({game.status})")
        play_id = str(uuid_utils.uuid7())
        reveal_at = now + self.settings.reveal_seconds
        earlier = await self.limits.gate(
            user, game, self.user_rate, ip=ip, ip_rate=self.ip_rate, key=key,
            claim=f"{play_id} {reveal_at!r}", now=now,
        )  # fmt: skip
        if earlier is not None:
            return _accepted(earlier)
        try:
            player = await self.writer.record(NewPlay(
                uuid.UUID(play_id), user, game_id, datetime.fromtimestamp(now, UTC),
                orjson.dumps({"revealAt": reveal_at, "device": device}).decode(),
            ))  # fmt: skip
        except Exception as exc:
            if key is not None:
                await self.limits.release(user, key)
            raise NotReady("the play could not be recorded; try again") from exc
        if player.blocked:
            if key is not None:
                await self.limits.release(user, key)
            raise Forbidden("this player may not play")
        event = messages.PlayEvent(play_id, game_id, player.id, user, now, reveal_at, device)
        self.playlog.publish(self.settings.play_topic, user, messages.encode(event))
        return play_id, reveal_at

    async def view(self, user: str, play_id: str) -> PlayView:
        """A play of ``user``'s; someone else's is as unknown as a play that never was."""
        try:
            wanted = uuid.UUID(play_id)
        except ValueError:
            raise NotFound(f"no play {play_id}") from None
        async with self.db.connect() as conn:
            row = (
                await conn.execute(
                    select(
                        PlayEvent.game_id,
                        PlayEvent.status,
                        PlayEvent.request_time,
                        PlayEvent.processed_time,
                        PlayEvent.metadata_.label("meta"),
                        Coupon.code,
                        Coupon.brand_id,
                    )
                    .join(User, User.id == PlayEvent.user_id)
                    .outerjoin(Coupon, Coupon.id == PlayEvent.reward_coupon_id)
                    .where(PlayEvent.play_id == wanted, User.external_id == user)
                )
            ).one_or_none()
        if row is None:
            raise NotFound(f"no play {play_id}")
        meta = row.meta or {}
        reveal_at = float(
            meta.get("revealAt") or row.request_time.timestamp() + self.settings.reveal_seconds
        )
        decided = row.processed_time is not None and row.status in ("WIN", "LOSE")
        if not decided or time.time() < reveal_at:
            # Undecided, or not yet revealed: say so, and nothing more.
            return PlayView(playId=play_id, gameId=row.game_id, status="QUEUED",
                            revealAt=reveal_at)  # fmt: skip
        return PlayView(
            playId=play_id, gameId=row.game_id, status="REVEALED", revealAt=reveal_at,
            outcome=row.status, brand=row.brand_id if row.status == "WIN" else None,
            couponCode=row.code,
        )  # fmt: skip


def _check_key(key: str) -> None:
    if not 1 <= len(key) <= 128 or not key.isprintable():
        raise ValidationFailed("Idempotency-Key must be 1 to 128 printable characters")


def _accepted(claim: str) -> tuple[str, float]:
    play_id, reveal_at = claim.split(" ")
    return play_id, float(reveal_at)
