"""Kill the Redis Cluster master that serves a live game, mid-load: its replica takes over.

The run's Redis is a Cluster of three masters with a replica each. The fault sends a spike
of plays so that decisions are in flight, then SIGKILLs the master serving the paced game's
slot. The other masters promote its replica once they have missed the master for the node
timeout (5 s on the embedded cluster). Redis Cluster replicates asynchronously, so the
replica may lack the last decrements the master acknowledged: an older state of the game.
It has its own run id, so the decide script refuses the game's state as another run's
(``frolic.engine.scripts``), exactly as after a Redis restart, and the allocator rebuilds
the game from the ledger under a new epoch before it decides another play of it. Then the
killed node is started again, empty, on its port and with its cluster configuration: it
rejoins as a replica of the node that took its slots. The history checker then finds every
invariant intact.

Evidence: the master killed and the replica promoted, how long the promotion took, each
game's epoch on its row before and after (the failed-over game must have a new one), the
role the old master came back in, and how long each game's plays waited around the
failover: ``latency_ms`` (request to recorded) of the plays requested from a second before
the kill until five seconds after the old master was back.
"""

from __future__ import annotations

import asyncio
import time
from types import MappingProxyType
from typing import Any

from sqlalchemy import text

from frolic.db.session import create_engine
from frolic.engine import keys
from frolic.errors import StackError
from frolic.stack.redis_cluster import RedisClusterHandle
from frolic_chaos.fault import Context, Evidence, Fault
from frolic_chaos.faults.redis_restart import game_epochs

AT = 0.3  # when, as a share of the load's time
BURST = 150  # plays sent at once just before the kill: decisions in flight
PROMOTION_SECONDS = 60.0
BACK_SECONDS = 60.0
AFTER_BACK_SECONDS = 5.0  # of the plays' waits, counted after the old master is back


class RedisFailover(Fault):
    name = "redis_failover"
    summary = (
        "SIGKILL the Redis Cluster master serving a live game mid-load; its replica is "
        "promoted, the game rebuilt; the old master back as a replica"
    )
    stack = MappingProxyType({"stack_redis_cluster": "3x1"})
    # Plays whose decision the failover dropped come back through the re-driver.
    overrides = MappingProxyType({"redrive_after_seconds": 4.0})

    async def inject(self, ctx: Context) -> None:
        cluster = ctx.stack.redis_cluster
        if cluster is None:
            raise RuntimeError("redis_failover needs the run's Redis to be an embedded Cluster")
        game = ctx.games[-1]  # the paced game: it lasts the whole load
        key = keys.pacing(game)
        before = await game_epochs(ctx)
        await ctx.load.until(AT)
        ctx.load.burst(BURST)
        await asyncio.sleep(0.2)
        master = await asyncio.to_thread(cluster.master_of, key)
        killed_at = time.time()
        await asyncio.to_thread(cluster.kill, master)
        ctx.progress(f"killed Redis master {master}, which serves game {game}")
        promoted = await _promoted(cluster, key, master)
        promoted_after = time.time() - killed_at
        ctx.progress(f"replica {promoted} promoted after {promoted_after:.1f} s")
        after = await game_epochs(ctx, other_than={str(game): before[str(game)]})
        await asyncio.to_thread(cluster.restart, master)
        role, follows = await _back(cluster, master)
        ctx.progress(f"old master {master} back as {role} of {follows}")
        ctx.evidence.update({
            "game": game, "killed": master, "promoted": promoted,
            "promoted_after_s": round(promoted_after, 1),
            "other_games_same_master": [
                g for g in ctx.games if g != game
                and await asyncio.to_thread(cluster.master_of, keys.pacing(g)) == promoted
            ],
            "epochs_before": before, "epochs_after": after,
            "back_as": role, "back_following": follows,
            "window": [killed_at - 1.0, time.time() + AFTER_BACK_SECONDS],
        })  # fmt: skip

    async def after(self, ctx: Context) -> None:
        first, last = ctx.evidence.get("window", (0.0, 0.0))
        assert ctx.settings.database_url
        db = create_engine(ctx.settings.database_url)
        try:
            async with db.connect() as conn:
                rows = (await conn.execute(_WAITS, {
                    "games": list(ctx.games), "first": first, "last": last,
                })).all()  # fmt: skip
        finally:
            await db.dispose()
        ctx.evidence["waited_ms"] = {str(row.game_id): _waits(row) for row in rows}

    def missing(self, evidence: Evidence) -> list[str]:
        problems = []
        if not evidence.get("promoted"):
            problems.append("no replica was promoted")
        game = str(evidence.get("game"))
        if evidence.get("epochs_after", {}).get(game) == evidence.get("epochs_before", {}).get(
            game
        ):
            problems.append(f"game {game} was not rebuilt after the failover")
        if (evidence.get("back_as"), evidence.get("back_following")) != (
            "slave", evidence.get("promoted")
        ):  # fmt: skip
            problems.append("the old master did not come back as the new master's replica")
        if game not in evidence.get("waited_ms", {}):
            problems.append(f"no play of game {game} was recorded around the failover")
        return problems


async def _promoted(cluster: RedisClusterHandle, key: str, killed: int) -> int:
    deadline = time.monotonic() + PROMOTION_SECONDS
    while time.monotonic() < deadline:
        try:
            now = await asyncio.to_thread(cluster.master_of, key)
        except StackError:  # no node answers yet
            now = killed
        if now != killed:
            return now
        await asyncio.sleep(0.2)
    raise RuntimeError(f"no replica took over from master {killed} in {PROMOTION_SECONDS:g} s")


async def _back(cluster: RedisClusterHandle, port: int) -> tuple[str, int | None]:
    deadline = time.monotonic() + BACK_SECONDS
    role: tuple[str, int | None] = ("down", None)
    while time.monotonic() < deadline:
        role = await asyncio.to_thread(cluster.role, port)
        if role[0] == "slave":
            return role
        await asyncio.sleep(0.2)
    return role


def _waits(row: Any) -> dict[str, int]:
    return {"plays": row.plays, "p50": row.p50, "p99": row.p99, "max": row.max}


_WAITS = text(
    "SELECT game_id, count(*) AS plays, "
    "CAST(percentile_disc(0.5) WITHIN GROUP (ORDER BY latency_ms) AS integer) AS p50, "
    "CAST(percentile_disc(0.99) WITHIN GROUP (ORDER BY latency_ms) AS integer) AS p99, "
    "max(latency_ms) AS max FROM play_events "
    "WHERE game_id = ANY(:games) AND status IN ('WIN', 'LOSE') "
    "AND request_time BETWEEN to_timestamp(:first) AND to_timestamp(:last) GROUP BY game_id"
)
FAULT = RedisFailover()
