"""``POST /play`` and ``GET /plays/{id}``: the gateway's checks, then record and publish.

Order matters. A retried request (same ``Idempotency-Key``) gets its play back before any
per-player limit is counted again. A play is committed to PostgreSQL before it is
published and answered, so a broker that loses it cannot lose the play: the re-driver
publishes again whatever stays undecided (``allocator.redrive``).

A play costs one Redis round trip (``Limits.gate``: the address's and the player's rates,
the key, the game's limits and the key's claim, in one script; on a Cluster the address's
rate is a call of its own) and a share of one PostgreSQL statement (``PlayWriter``: the
player, their block, and the play). The game comes from an in-process cache.

The ledger keeps each play's Idempotency-Key too (unique per player): when Redis has lost a
key's claim (a restart without persistence), the retry is not written and gets the key's
play from the ledger, whose claim goes back into Redis. Redis away answers 503.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from redis.exceptions import RedisError

from frolic import metrics
from frolic.clock import Clock
from frolic.config import Settings
from frolic.db.models import play_metadata
from frolic.db.outage import not_ready_while_away
from frolic.errors import Forbidden, FrolicError, NotFound, NotReady, ValidationFailed
from frolic.fairness import log_rows
from frolic.games.repository import GameCache
from frolic.play.limits import Limits, Rate
from frolic.play.schemas import PlayReceipt, PlayView
from frolic.play.writer import PlayWriter
from frolic.playlog import messages
from frolic.playlog.producer import PlayLog
from frolic.plays import repository as play_rows
from frolic.plays.repository import NewPlay
from frolic.plays.row import new_play_id, reveal_at
from frolic.redis_client import AsyncRedis

RECORD_RETRY_SECONDS = 2.0
"""Retry-After of a play that could not be recorded (PostgreSQL unavailable)."""


class PlayService:
    def __init__(
        self,
        settings: Settings,
        redis: AsyncRedis,
        games: GameCache,
        writer: PlayWriter,
        playlog: PlayLog,
        clock: Clock = time.time,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.redis = redis
        self.games = games
        self.db = games.db
        self.writer = writer
        self.playlog = playlog
        self.limits = Limits(redis, clock)
        self.user_rate = Rate(settings.rate_user_per_second, settings.rate_user_burst)
        self.ip_rate = Rate(settings.rate_ip_per_second, settings.rate_ip_burst)

    async def accept(
        self, user: str, game_id: int, *, ip: str, key: str | None,
        device: dict[str, Any] | None, client_seed: str = "",
    ) -> Accepted:  # fmt: skip
        """The accepted play (an earlier play's, for a retried key)."""
        try:
            accepted = await self._accept(user, game_id, ip=ip, key=key, device=device,
                                          client_seed=client_seed)  # fmt: skip
        except RedisError as exc:  # restarting: the retry finds its play, in Redis or the ledger
            metrics.PLAYS_REFUSED.labels(NotReady.__name__).inc()
            raise NotReady(
                "Redis is unavailable; try again with the same Idempotency-Key", retry_after=1
            ) from exc
        except FrolicError as exc:
            metrics.PLAYS_REFUSED.labels(type(exc).__name__).inc()
            raise
        metrics.PLAYS_ACCEPTED.labels(str(game_id)).inc()  # only a known game gets here
        return accepted

    async def _accept(
        self, user: str, game_id: int, *, ip: str, key: str | None,
        device: dict[str, Any] | None, client_seed: str,
    ) -> Accepted:  # fmt: skip
        if key is not None:
            _check_key(key)
        now = self.clock()
        game = await self.games.get(game_id)
        if game is None or (closed := game.closed_because(now)) is not None:
            await self.limits.rate("ip", ip, self.ip_rate)  # a refusal is counted too
            # A retry still gets its play back after the game has closed.
            if key is not None and (earlier := await self.limits.claimed(user, key)):
                return await self._record(user, key, Claim.parse(earlier), device, client_seed)
            if key is not None and (kept := await self._keyed_play(user, key)):
                return kept
            if game is None:
                raise NotFound(f"no game {game_id}")
            raise ValidationFailed(closed)
        play = Claim(new_play_id(now), now + self.settings.reveal_seconds, now, game_id)
        earlier = await self.limits.gate(
            user, game, self.user_rate, ip=ip, ip_rate=self.ip_rate, key=key,
            claim=play.text(), now=now,
        )  # fmt: skip
        if earlier is not None:
            play = Claim.parse(earlier)
        return await self._record(user, key, play, device, client_seed)

    async def _record(
        self, user: str, key: str | None, play: Claim, device: dict[str, Any] | None,
        client_seed: str,
    ) -> Accepted:  # fmt: skip
        """Commit ``play`` (a no-op if an earlier attempt did), then publish it.

        A retried key records its claimed play again rather than trusting that the first
        attempt did: that attempt may have failed (PostgreSQL down), or still be under way.
        The claim is kept when recording fails, so however many retries there are and
        whether or not the failed attempt reached PostgreSQL, the key has one play."""
        try:
            written = await self.writer.record(NewPlay(
                uuid.UUID(play.play_id), user, play.game_id, datetime.fromtimestamp(play.t, UTC),
                orjson.dumps({"revealAt": play.reveal_at, "device": device}).decode(), key,
                client_seed,
            ))  # fmt: skip
        except Exception as exc:
            raise NotReady(
                "the play could not be recorded; try again with the same Idempotency-Key",
                retry_after=RECORD_RETRY_SECONDS,
            ) from exc
        player = written.player
        if player.blocked:
            if key is not None:
                await self.limits.release(user, key)
            raise Forbidden("this player may not play")
        if not written.new and key is not None:
            kept = await self._keyed_play(user, key)
            if kept is not None and kept.play_id != play.play_id:
                # Redis had lost the key's claim; the ledger has the key's play (published
                # when it was accepted, or re-driven). Its claim goes back for the next retry.
                with contextlib.suppress(RedisError):
                    await self.limits.reclaim(user, key, kept.claim.text())
                return kept
        # A retry of a play written before gets that play's number and client seed back.
        seed = written.client_seed if written.client_seed is not None else client_seed
        event = messages.PlayEvent(
            play.play_id, play.game_id, player.id, user, play.t, play.reveal_at, device,
            written.number, seed,
        )  # fmt: skip
        self.playlog.publish(self.settings.play_topic, user, messages.encode(event))
        return Accepted(play, written.number, seed)

    async def _keyed_play(self, user: str, key: str) -> Accepted | None:
        """The ledger's play of ``user``'s ``key``, if it has one."""
        with not_ready_while_away("the play could not be looked up; try again"):
            async with self.db.connect() as conn:
                row = await play_rows.keyed(conn, user, key)
        if row is None:
            return None
        t = float(row.requested)
        revealed = reveal_at(row.reveal_at, t, self.settings.reveal_seconds)
        claim = Claim(str(row.play_id), revealed, t, row.game_id)
        return Accepted(claim, row.play_number, row.client_seed or "")

    async def view(self, user: str, play_id: str) -> PlayView:
        """A play of ``user``'s; someone else's is as unknown as a play that never was."""
        try:
            wanted = uuid.UUID(play_id)
        except ValueError:
            raise NotFound(f"no play {play_id}") from None
        with not_ready_while_away("plays cannot be read right now; try again"):
            async with self.db.connect() as conn:
                row = await play_rows.of_player(conn, wanted, user)
                if row is None:
                    raise NotFound(f"no play {play_id}")
                meta = play_metadata(row.meta)
                revealed = reveal_at(meta.get("revealAt"), row.request_time.timestamp(),
                                     self.settings.reveal_seconds)  # fmt: skip
                shown = self.clock() >= revealed
                entry = await log_rows.receipt(conn, wanted) if shown else None
        receipt = PlayReceipt(playNumber=row.play_number, clientSeed=row.client_seed or "")
        decided = row.processed_time is not None and row.status in ("WIN", "LOSE")
        if not shown:
            # Not yet revealed: say so, and nothing more.
            return PlayView(playId=play_id, gameId=row.game_id, status="QUEUED",
                            revealAt=revealed, receipt=receipt)  # fmt: skip
        if not decided:
            # Due, but its outcome is not recorded yet (PostgreSQL was away, the pipeline is
            # behind): pending, never a guess.
            return PlayView(playId=play_id, gameId=row.game_id, status="PENDING",
                            revealAt=revealed, receipt=receipt)  # fmt: skip
        if entry is not None:
            receipt = receipt.model_copy(update={"n": entry[0], "entry": entry[1]})
        return PlayView(
            playId=play_id, gameId=row.game_id, status="REVEALED", revealAt=revealed,
            outcome=row.status, brand=row.brand_id if row.status == "WIN" else None,
            couponCode=row.code, probability=messages.probability(meta.get("p")),
            receipt=receipt,
        )  # fmt: skip


def _check_key(key: str) -> None:
    if not 1 <= len(key) <= 128 or not key.isprintable():
        raise ValidationFailed("Idempotency-Key must be 1 to 128 printable characters")


@dataclass(frozen=True)
class Accepted:
    """What a player is told of an accepted play: its id and reveal time, and its receipt:
    its number in the game for the player and the client seed it was sent with, which bind
    its draw (docs/fairness.md; the number is None for a play from before numbers)."""

    claim: Claim
    number: int | None
    client_seed: str

    @property
    def play_id(self) -> str:
        return self.claim.play_id

    @property
    def reveal_at(self) -> float:
        return self.claim.reveal_at

    def answer(self) -> dict[str, Any]:
        """The 202's body."""
        return {"playId": self.play_id, "status": "QUEUED", "revealAt": self.reveal_at,
                "playNumber": self.number, "clientSeed": self.client_seed}  # fmt: skip


@dataclass(frozen=True)
class Claim:
    """What an Idempotency-Key holds in Redis: its play, enough to record it again."""

    play_id: str
    reveal_at: float
    t: float  # the request time
    game_id: int

    def text(self) -> str:
        return f"{self.play_id} {self.reveal_at!r} {self.t!r} {self.game_id}"

    @classmethod
    def parse(cls, text: str) -> Claim:
        play_id, reveal_at, t, game_id = text.split(" ")
        return cls(play_id, float(reveal_at), float(t), int(game_id))
