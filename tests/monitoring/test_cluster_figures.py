"""The scrape-time figures and the budget balances on a Redis Cluster: every source up, the
Redis figures summed over every node, and each live game's budget read from whichever
node holds its hash tag (before, a Cluster URL reported Redis and the budget down)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio.cluster
from sqlalchemy.ext.asyncio import AsyncEngine

from frolic.config import Settings
from frolic.engine import keys
from frolic.engine.redis_store import store_for
from frolic.monitoring.scrape import ServerFigures
from frolic.reconcile.service import balances
from frolic.redis_client import connect
from tests.support.factories import create_live_game


@pytest.fixture
async def cluster(redis_cluster_url: str) -> AsyncIterator[redis.asyncio.cluster.RedisCluster]:
    client = connect(redis_cluster_url)
    assert isinstance(client, redis.asyncio.cluster.RedisCluster)
    await client.initialize()
    yield client
    await client.aclose()


async def test_balances_read_each_game_from_its_own_node(
    settings: Settings, db: AsyncEngine, redis_cluster_url: str,
    cluster: redis.asyncio.cluster.RedisCluster,
) -> None:  # fmt: skip
    on_cluster = settings.model_copy(update={"redis_url": redis_cluster_url})
    games = [await create_live_game(on_cluster, budgets=(3, 4)) for _ in range(6)]
    nodes = {cluster.get_node_from_key(keys.pacing(g.game_id)) for g in games}
    assert len(nodes) > 1  # the games' keys are spread over the masters
    store = store_for(on_cluster, cluster)
    found = await balances(db, store, live_only=True)
    mine = {(b.game_id, b.brand_id): b for b in found if b.game_id in {g.game_id for g in games}}
    assert len(mine) == 12
    for g in games:
        remaining = sorted(mine[(g.game_id, brand)].redis_remaining or 0 for brand in g.brands)
        assert remaining == [3, 4]
    assert all(b.ok for b in mine.values())


async def test_every_source_is_up_on_a_cluster(
    settings: Settings, db: AsyncEngine, redis_cluster_url: str,
    cluster: redis.asyncio.cluster.RedisCluster,
) -> None:  # fmt: skip
    on_cluster = settings.model_copy(update={"redis_url": redis_cluster_url})
    game = await create_live_game(on_cluster, budgets=(2,))
    figures = ServerFigures(on_cluster, db, cluster, timeout=5.0)
    await figures.refresh()
    found = {m.name: m for m in figures.collect()}
    up = {s.labels["source"]: s.value for s in found["frolic_monitoring_source_up"].samples}
    assert up == {"kafka": 1.0, "redis": 1.0, "budget": 1.0}
    # Summed over the nodes: more than any one node has used.
    used = sum(s.value for s in found["frolic_redis_cpu_seconds"].samples)
    one = await cluster.info("cpu", target_nodes=cluster.get_primaries()[0])
    assert used > float(one["used_cpu_sys"]) + float(one["used_cpu_user"])
    remaining = {
        s.labels["game"]: s.value
        for s in found["frolic_budget_remaining"].samples
        if s.labels["game"] == str(game.game_id)
    }
    assert remaining == {str(game.game_id): 2.0}
