"""Rate limits (GCRA) and a game's per-player limits, as atomic Lua calls in Redis."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from redis.asyncio import cluster as redis_cluster

from frolic.clock import Clock
from frolic.errors import RateLimited
from frolic.games.repository import GameView
from frolic.redis_client import AsyncRedis, Batched

IDEMPOTENCY_SECONDS = 86_400

# Generic Cell Rate Algorithm: one key a client, holding its theoretical arrival time.
# gcra(key, now ms, emission interval ms (1000 / rate), burst) counts a request and returns
# 0, or counts nothing and returns the ms to wait before the next request would be allowed.
#
# ``now`` is the gateway's clock when the request arrived, and under load the call reaches
# Redis later than that. A key expiring at its TAT by Redis' clock could then be gone while
# a late request still finds its TAT ahead, and that request would start a fresh bucket:
# so the key outlives its TAT by LATE_MS, longer than any request waits.
_GCRA_FUNCTION = """
local LATE_MS = 60000
local function gcra(key, now, interval, burst)
    local tolerance = interval * (burst - 1)
    local tat = math.max(tonumber(redis.call('GET', key) or now), now)
    if tat - now > tolerance then
        return math.ceil(tat - now - tolerance)
    end
    local new_tat = tat + interval
    redis.call('SET', key, new_tat, 'PX', math.ceil(new_tat - now) + LATE_MS)
    return 0
end
"""

# One client's rate.
#   KEYS[1]  rate:<who>:{<id>}
#   ARGV[1]  now, ms;  ARGV[2]  emission interval, ms;  ARGV[3]  burst
#   returns  0 if allowed, else the ms to wait before the next request would be
GCRA = (
    _GCRA_FUNCTION
    + """
return gcra(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
"""
)

# Everything a play asks of Redis, in one round trip: the address's rate (on one Redis; a
# Cluster checks it with GCRA first, its key being in another slot), the player's rate,
# the Idempotency-Key lookup, the game's per-player limits (plays per UTC day, cooldown
# between plays), and the key's claim. A retry finds its play before any per-player limit
# is counted again; nothing is counted or claimed for a play a limit refuses.
#   KEYS[1]  rate:user:{<user>}          KEYS[2]  idem:{<user>}:<Idempotency-Key>
#   KEYS[3]  plays:game:<g>:{<user>}:<day>          KEYS[4]  cooldown:game:<g>:{<user>}
#   KEYS[5]  rate:ip:{<address>}, or absent
#   ARGV[1]  now, ms;  ARGV[2], ARGV[3]  the player's emission interval (ms) and burst
#   ARGV[4]  1 if the request has an Idempotency-Key, else 0
#   ARGV[5]  max plays a day (0: none);  ARGV[6]  cooldown ms (0: none)
#   ARGV[7]  what the key's claim holds (``Claim.text``);  ARGV[8]  its life, s
#   ARGV[9], ARGV[10]  the address's emission interval (ms) and burst
#   returns  {0, ''} go ahead (counted, and the key claimed);  {1, ms} over the player's
#            rate;  {2, claim} the key's earlier play;  {3, ms} cooling down;  {4, ms} the
#            daily cap (ms until the day's count expires);  {5, ms} over the address's rate
GATE = (
    _GCRA_FUNCTION
    + """
local now = tonumber(ARGV[1])
if KEYS[5] then
    local wait = gcra(KEYS[5], now, tonumber(ARGV[9]), tonumber(ARGV[10]))
    if wait > 0 then return {5, wait} end
end
local wait = gcra(KEYS[1], now, tonumber(ARGV[2]), tonumber(ARGV[3]))
if wait > 0 then return {1, wait} end
local keyed = ARGV[4] == '1'
if keyed then
    local earlier = redis.call('GET', KEYS[2])
    if earlier then return {2, earlier} end
end
local cooling = redis.call('PTTL', KEYS[4])
if cooling > 0 then return {3, cooling} end
local cap = tonumber(ARGV[5])
if cap > 0 then
    local played = tonumber(redis.call('GET', KEYS[3]) or '0')
    if played >= cap then return {4, redis.call('PTTL', KEYS[3])} end
    redis.call('INCR', KEYS[3])
    redis.call('EXPIRE', KEYS[3], 90000)
end
local cooldown = tonumber(ARGV[6])
if cooldown > 0 then redis.call('SET', KEYS[4], 1, 'PX', cooldown) end
if keyed then redis.call('SET', KEYS[2], ARGV[7], 'EX', tonumber(ARGV[8])) end
return {0, ''}
"""
)


@dataclass(frozen=True)
class Rate:
    per_second: float
    burst: int


class Limits:
    def __init__(self, redis: AsyncRedis, clock: Clock = time.time) -> None:
        self._redis = redis
        self._clock = clock
        self._cluster = isinstance(redis, redis_cluster.RedisCluster)
        self._gcra = Batched(redis, GCRA)
        self._gate = Batched(redis, GATE)

    async def rate(self, who: str, ident: str, rate: Rate) -> None:
        """Raise ``RateLimited`` if ``ident`` is over ``rate``."""
        wait_ms = await self._gcra(
            keys=[f"rate:{who}:{{{ident}}}"],
            args=[int(self._clock() * 1000), 1000 / rate.per_second, rate.burst],
        )
        if int(wait_ms) > 0:
            raise RateLimited(
                f"too many requests from this {who}; retry in {int(wait_ms)} ms",
                retry_after=int(wait_ms) / 1000,
            )

    async def gate(
        self, user: str, game: GameView, rate: Rate, *, ip: str, ip_rate: Rate,
        key: str | None, claim: str, now: float,
    ) -> str | None:  # fmt: skip
        """Count a play of ``game`` by ``user`` against their rate and the game's limits, and
        claim ``key`` for it; return the claim of ``key``'s earlier play instead, if it has
        one. Raise ``RateLimited`` if a limit refuses the play."""
        day = time.strftime("%Y%m%d", time.gmtime(now))
        g = game.game_id
        tag = player_tag(user)
        keys = [f"rate:user:{{{tag}}}", idempotency_key(user, key or ""),
                f"plays:game:{g}:{{{tag}}}:{day}", f"cooldown:game:{g}:{{{tag}}}"]  # fmt: skip
        if self._cluster:
            await self.rate("ip", ip, ip_rate)
        else:
            keys.append(f"rate:ip:{{{ip}}}")
        verdict, value = await self._gate(
            keys=keys,
            args=[int(now * 1000), 1000 / rate.per_second, rate.burst, 0 if key is None else 1,
                  game.max_plays_per_day or 0, game.cooldown_seconds * 1000, claim,
                  IDEMPOTENCY_SECONDS, 1000 / ip_rate.per_second, ip_rate.burst],
        )  # fmt: skip
        verdict = int(verdict)
        if verdict == 0:
            return None
        if verdict == 2:
            return value.decode() if isinstance(value, bytes) else str(value)
        wait_ms = int(value)
        if verdict in (1, 5):
            raise RateLimited(
                f"too many requests from this {'user' if verdict == 1 else 'ip'}; "
                f"retry in {wait_ms} ms",
                retry_after=wait_ms / 1000,
            )
        if verdict == 3:
            raise RateLimited(
                f"wait {wait_ms / 1000:.1f} s between plays of this game",
                retry_after=wait_ms / 1000,
            )
        raise RateLimited(
            f"you have played this game {game.max_plays_per_day} times today",
            retry_after=max(1, wait_ms) / 1000,
        )

    async def claimed(self, user: str, key: str) -> str | None:
        """The claim of ``key``'s play, if it has one."""
        claim = await self._redis.get(idempotency_key(user, key))
        return claim.decode() if isinstance(claim, bytes) else claim

    async def reclaim(self, user: str, key: str, claim: str) -> None:
        """Claim ``key`` for its play again: Redis lost the claim, the ledger had the play."""
        await self._redis.set(idempotency_key(user, key), claim, ex=IDEMPOTENCY_SECONDS)

    async def release(self, user: str, key: str) -> None:
        """Give up ``key``'s claim: its play could not be recorded, so a retry must make it."""
        await self._redis.delete(idempotency_key(user, key))


def idempotency_key(user: str, key: str) -> str:
    return f"idem:{{{player_tag(user)}}}:{key}"


def player_tag(user: str) -> str:
    """``user`` as the hash tag of their keys, so that they share a Cluster slot. Redis
    tags a key by what lies between its first { and the next }: an id holding a } would
    end the tag early, or (first) leave it empty and each key in a slot of its own, which
    a script over them cannot touch. Such an id is tagged by its digest."""
    return user if "}" not in user else hashlib.sha256(user.encode()).hexdigest()[:32]
