"""Rate limits (GCRA) and a game's per-player limits, each one atomic Lua call in Redis."""

from __future__ import annotations

import time
from dataclasses import dataclass

from frolic.errors import RateLimited
from frolic.redis_client import AsyncRedis

# Generic Cell Rate Algorithm: one key a client, holding its theoretical arrival time.
#   KEYS[1]  rate:<who>:{<id>}
#   ARGV[1]  now, ms;  ARGV[2]  emission interval, ms (1000 / rate);  ARGV[3]  burst
#   returns  0 if allowed, else the ms to wait before the next request would be
GCRA = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tolerance = interval * (tonumber(ARGV[3]) - 1)
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or now), now)
if tat - now > tolerance then
    return math.ceil(tat - now - tolerance)
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now))
return 0
"""

# A game's per-player limits: plays per UTC day, and a cooldown between plays.
#   KEYS[1]  plays:game:{g}:<user>:<day>    KEYS[2]  cooldown:game:{g}:<user>
#   ARGV[1]  max plays a day (0: none);  ARGV[2]  cooldown ms (0: none)
#   returns  {0, 0} if the play may go ahead (and counts it), else {1, retry ms} for the
#            cooldown or {2, retry ms} for the daily cap
PLAYER_LIMITS = """
local cooling = redis.call('PTTL', KEYS[2])
if cooling > 0 then return {1, cooling} end
local cap = tonumber(ARGV[1])
if cap > 0 then
    local played = tonumber(redis.call('GET', KEYS[1]) or '0')
    if played >= cap then return {2, redis.call('PTTL', KEYS[1])} end
end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], 90000)
local cooldown = tonumber(ARGV[2])
if cooldown > 0 then redis.call('SET', KEYS[2], 1, 'PX', cooldown) end
return {0, 0}
"""


@dataclass(frozen=True)
class Rate:
    per_second: float
    burst: int


class Limits:
    def __init__(self, redis: AsyncRedis) -> None:
        self._gcra = redis.register_script(GCRA)
        self._player = redis.register_script(PLAYER_LIMITS)

    async def rate(self, who: str, ident: str, rate: Rate) -> None:
        """Raise ``RateLimited`` if ``ident`` is over ``rate``."""
        wait_ms = await self._gcra(
            keys=[f"rate:{who}:{{{ident}}}"],
            args=[int(time.time() * 1000), 1000 / rate.per_second, rate.burst],
        )
        if int(wait_ms) > 0:
            raise RateLimited(
                f"too many requests from this {who}; retry in {int(wait_ms)} ms",
                retry_after=int(wait_ms) / 1000,
            )

    async def player(
        self, game_id: int, user: str, *, max_per_day: int | None, cooldown_seconds: int
    ) -> None:
        """Count a play against the game's limits for ``user``, or raise ``RateLimited``."""
        if not max_per_day and not cooldown_seconds:
            return
        day = time.strftime("%Y%m%d", time.gmtime())
        verdict, retry_ms = await self._player(
            keys=[f"plays:game:{{{game_id}}}:{user}:{day}", f"cooldown:game:{{{game_id}}}:{user}"],
            args=[max_per_day or 0, cooldown_seconds * 1000],
        )
        if int(verdict) == 1:
            raise RateLimited(
                f"wait {int(retry_ms) / 1000:.1f} s between plays of this game",
                retry_after=int(retry_ms) / 1000,
            )
        if int(verdict) == 2:
            raise RateLimited(
                f"you have played this game {max_per_day} times today",
                retry_after=max(1, int(retry_ms)) / 1000,
            )
