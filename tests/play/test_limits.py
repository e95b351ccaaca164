"""``Limits.gate``: one Lua call for a play's rates, key, per-player limits and claim, on
the real Redis."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from frolic.config import Settings
from frolic.engine.rules import GameRules
from frolic.errors import RateLimited
from frolic.games.repository import GameView
from frolic.play.limits import Limits, Rate
from frolic.redis_client import AsyncRedis, connect

PLENTY = Rate(per_second=1000, burst=1000)


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[AsyncRedis]:
    assert settings.redis_url
    client = connect(settings.redis_url)
    yield client
    await client.aclose()


def game(max_plays_per_day: int | None = None, cooldown_seconds: int = 0) -> GameView:
    now = time.time()
    rules = GameRules(random.randrange(10**9, 2 * 10**9), now - 60, now + 3600, 10, (1,))
    return GameView(rules, "live", max_plays_per_day, cooldown_seconds)


def fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_the_address_rate_refuses_before_anything_is_counted(redis: AsyncRedis) -> None:
    limits, g, ip = Limits(redis), game(max_plays_per_day=2), fresh("10.0.0")
    tight = Rate(per_second=1, burst=2)
    for user in (fresh("a"), fresh("b")):
        assert await limits.gate(user, g, PLENTY, ip=ip, ip_rate=tight, key=None,
                                 claim="p 1.0", now=time.time()) is None  # fmt: skip
    late = fresh("c")
    with pytest.raises(RateLimited) as refused:
        await limits.gate(late, g, PLENTY, ip=ip, ip_rate=tight, key="k", claim="p 1.0",
                          now=time.time())  # fmt: skip
    assert "this ip" in str(refused.value.detail)
    assert 0 < refused.value.retry_after <= 1
    # Nothing of the refused play was counted or claimed.
    assert await limits.claimed(late, "k") is None
    for _ in range(2):
        await limits.gate(late, g, PLENTY, ip=fresh("10.0.1"), ip_rate=tight, key=None,
                          claim="p 1.0", now=time.time())  # fmt: skip


async def test_a_key_returns_its_play_without_counting_the_limits_again(
    redis: AsyncRedis,
) -> None:
    limits, g, user = Limits(redis), game(max_plays_per_day=1), fresh("keyed")
    now = time.time()
    assert await limits.gate(user, g, PLENTY, ip=fresh("ip"), ip_rate=PLENTY, key="k",
                             claim="first 12.5", now=now) is None  # fmt: skip
    for _ in range(3):  # retries: the first play back, though the daily cap is reached
        assert await limits.gate(user, g, PLENTY, ip=fresh("ip"), ip_rate=PLENTY, key="k",
                                 claim="other 1.0", now=now) == "first 12.5"  # fmt: skip
    with pytest.raises(RateLimited, match="1 times today"):
        await limits.gate(user, g, PLENTY, ip=fresh("ip"), ip_rate=PLENTY, key="k2",
                          claim="second 1.0", now=now)  # fmt: skip
    assert await limits.claimed(user, "k2") is None
    await limits.release(user, "k")
    assert await limits.claimed(user, "k") is None


async def test_the_players_rate_and_cooldown(redis: AsyncRedis) -> None:
    limits, user = Limits(redis), fresh("eager")
    g = game()
    slow = Rate(per_second=1, burst=1)
    await limits.gate(user, g, slow, ip=fresh("ip"), ip_rate=PLENTY, key=None, claim="p 1.0",
                      now=time.time())  # fmt: skip
    with pytest.raises(RateLimited, match="this user"):
        await limits.gate(user, g, slow, ip=fresh("ip"), ip_rate=PLENTY, key=None,
                          claim="p 1.0", now=time.time())  # fmt: skip
    cooling, user = game(cooldown_seconds=30), fresh("hasty")
    await limits.gate(user, cooling, PLENTY, ip=fresh("ip"), ip_rate=PLENTY, key=None,
                      claim="p 1.0", now=time.time())  # fmt: skip
    with pytest.raises(RateLimited, match="between plays") as refused:
        await limits.gate(user, cooling, PLENTY, ip=fresh("ip"), ip_rate=PLENTY, key=None,
                          claim="p 1.0", now=time.time())  # fmt: skip
    assert 25 <= refused.value.retry_after <= 30


async def test_a_request_that_reaches_redis_late_still_finds_its_bucket(redis: AsyncRedis) -> None:
    # Under load a request's clock reading (taken as it arrived) is older than Redis' clock
    # when the script runs. The bucket must still be there for it.
    limits, g, ip, user = Limits(redis), game(), fresh("10.0.2"), fresh("late")
    one_a_tenth = Rate(per_second=10, burst=1)  # one play per 100 ms
    arrived = time.time()
    assert await limits.gate(user, g, one_a_tenth, ip=ip, ip_rate=PLENTY, key=None,
                             claim="p 1.0", now=arrived) is None  # fmt: skip
    await asyncio.sleep(0.25)  # past the bucket's TAT by Redis' clock
    with pytest.raises(RateLimited):
        # Arrived 50 ms after the first, but reaching Redis only now.
        await limits.gate(user, g, one_a_tenth, ip=ip, ip_rate=PLENTY, key=None,
                          claim="p 1.0", now=arrived + 0.05)  # fmt: skip


@pytest.mark.parametrize("odd", ["}first", "a}b", "{x}", "}"])
async def test_a_player_id_with_braces_keeps_its_keys_in_one_slot(
    redis_cluster_url: str, odd: str
) -> None:
    """Redis Cluster tags a key by what lies between its first { and the next }: a player id
    that closes the tag early would scatter the gate's keys over slots, and the script
    would fail (a 500 for the player). Their keys share a slot, and the gate counts them."""
    client = connect(redis_cluster_url)
    try:
        limits, g, user = Limits(client), game(max_plays_per_day=1), f"{odd}{fresh('')}"
        assert await limits.gate(user, g, PLENTY, ip=fresh("ip"), ip_rate=PLENTY, key="k",
                                 claim="p 1.0", now=time.time()) is None  # fmt: skip
        assert await limits.claimed(user, "k") == "p 1.0"
        with pytest.raises(RateLimited, match="times today"):
            await limits.gate(user, g, PLENTY, ip=fresh("ip"), ip_rate=PLENTY, key=None,
                              claim="p 2.0", now=time.time())  # fmt: skip
    finally:
        await client.aclose()
