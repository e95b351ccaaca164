"""``POST /play`` and ``GET /plays/{id}``: the gateway's checks, then record and publish.

Order matters. A retried request (same ``Idempotency-Key``) gets its play back before any
limit is counted again. A play is committed to PostgreSQL before it is published and
answered, so a broker that loses it cannot lose the play: the re-driver publishes again
whatever stays undecided (``allocator.redrive``).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import uuid_utils
from sqlalchemy import select, text

from frolic.config import Settings
from frolic.db.models import Coupon, PlayEvent, User
from frolic.errors import Forbidden, FrolicError, NotFound, NotReady, ValidationFailed
from frolic.games.repository import GameCache
from frolic.monitoring import metrics
from frolic.play.limits import Limits, Rate
from frolic.play.schemas import PlayAccepted, PlayView
from frolic.play.writer import PlayWriter
from frolic.playlog import messages
from frolic.playlog.producer import PlayLog
from frolic.redis_client import AsyncRedis

IDEMPOTENCY_SECONDS = 86_400
USER_CACHE_SECONDS = 5.0
# Blocking or unblocking a player leaves a notice in Redis that makes every gateway re-read
# the player from PostgreSQL. It outlives any cache entry made before the change, so the
# change holds everywhere as soon as the admin API answers; should Redis lose the notice,
# within USER_CACHE_SECONDS.
PLAYER_NOTICE_SECONDS = 2 * USER_CACHE_SECONDS

_UPSERT_USER = text(
    "INSERT INTO users (external_id) VALUES (:x) "
    "ON CONFLICT (external_id) DO UPDATE SET external_id = EXCLUDED.external_id "
    "RETURNING id, blocked"
)


@dataclass(frozen=True)
class Player:
    id: int
    blocked: bool


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
        self._players: dict[str, tuple[float, Player]] = {}

    async def accept(
        self, user: str, game_id: int, *, ip: str, key: str | None, device: dict[str, Any] | None
    ) -> PlayAccepted:
        try:
            accepted = await self._accept(user, game_id, ip=ip, key=key, device=device)
        except FrolicError as exc:
            metrics.PLAYS_REFUSED.labels(type(exc).__name__).inc()
            raise
        metrics.PLAYS_ACCEPTED.labels(str(game_id)).inc()  # only a known game gets here
        return accepted

    async def _accept(
        self, user: str, game_id: int, *, ip: str, key: str | None, device: dict[str, Any] | None
    ) -> PlayAccepted:
        await self.limits.rate("ip", ip, self.ip_rate)
        await self.limits.rate("user", user, self.user_rate)
        if key is not None:
            _check_key(key)
            earlier = await self.redis.get(_idempotency_key(user, key))
            if earlier is not None:
                return _accepted(earlier)
        now = time.time()
        game = await self.games.get(game_id)
        if game is None:
            raise NotFound(f"no game {game_id}")
        if not game.open_at(now):
            raise ValidationFailed(f"game {game_id} is not open for play ({game.status})")
        player = await self._player(user)
        if player.blocked:
            raise Forbidden("this player may not play")
        await self.limits.player(
            game_id, user, max_per_day=game.max_plays_per_day,
            cooldown_seconds=game.cooldown_seconds,
        )  # fmt: skip
        play_id = str(uuid_utils.uuid7())
        reveal_at = now + self.settings.reveal_seconds
        if key is not None:
            claimed = await self.redis.set(
                _idempotency_key(user, key), f"{play_id} {reveal_at!r}",
                nx=True, ex=IDEMPOTENCY_SECONDS,
            )  # fmt: skip
            if not claimed:  # a concurrent retry of the same request got there first
                earlier = await self.redis.get(_idempotency_key(user, key))
                if earlier is not None:
                    return _accepted(earlier)
        try:
            await self.writer.record({
                "play_id": uuid.UUID(play_id), "user_id": player.id, "game_id": game_id,
                "status": "QUEUED", "request_time": datetime.fromtimestamp(now, UTC),
                # A Core insert takes column keys: "metadata", not the attribute metadata_.
                "metadata": {"revealAt": reveal_at, "device": device},
            })  # fmt: skip
        except Exception as exc:
            if key is not None:
                await self.redis.delete(_idempotency_key(user, key))
            raise NotReady("the play could not be recorded; try again") from exc
        event = messages.PlayEvent(play_id, game_id, player.id, user, now, reveal_at, device)
        self.playlog.publish(self.settings.play_topic, user, messages.encode(event))
        return PlayAccepted(playId=play_id, revealAt=reveal_at)

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

    async def _player(self, user: str) -> Player:
        cached = self._players.get(user)
        now = time.monotonic()
        if (
            cached is not None
            and now - cached[0] < USER_CACHE_SECONDS
            and not await self.redis.exists(player_notice_key(user))
        ):
            return cached[1]
        async with self.db.begin() as conn:
            row = (await conn.execute(_UPSERT_USER, {"x": user})).one()
        player = Player(row.id, row.blocked)
        if len(self._players) > 100_000:
            self._players.clear()
        self._players[user] = (now, player)
        return player


def player_notice_key(user: str) -> str:
    """Present for PLAYER_NOTICE_SECONDS after an admin changed the player (``user``: the
    external id)."""
    return f"player:{{{user}}}:changed"


def _idempotency_key(user: str, key: str) -> str:
    return f"idem:{{{user}}}:{key}"


def _check_key(key: str) -> None:
    if not 1 <= len(key) <= 128 or not key.isprintable():
        raise ValidationFailed("Idempotency-Key must be 1 to 128 printable characters")


def _accepted(stored: bytes | str) -> PlayAccepted:
    text = stored.decode() if isinstance(stored, bytes) else stored
    play_id, reveal_at = text.split(" ")
    return PlayAccepted(playId=play_id, revealAt=float(reveal_at))
