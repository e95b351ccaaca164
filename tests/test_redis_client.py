"""Frolic's Redis URLs reach a real server and a real cluster, and Lua scripts keep to one slot."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psutil
import pytest
import redis
import redis.asyncio.cluster
import redis.cluster
from redis.crc import key_slot
from redis.exceptions import NoScriptError

from frolic.errors import StackError
from frolic.redis_client import AsyncRedis, Batched, connect, connect_sync
from frolic.stack import redis as redis_server
from frolic.stack.process import free_port
from frolic.stack.redis_cluster import SLOTS, start_cluster

# The shape of the allocator's call: one budget key and one result key, one game's tag.
# KEYS[1] budget counter, KEYS[2] result; ARGV[1] amount. Returns the new budget.
SPEND = """
redis.call('SET', KEYS[2], ARGV[1])
return redis.call('INCRBY', KEYS[1], ARGV[1])
"""


# KEYS[1] a counter; ARGV[1] an amount, ARGV[2] 'fail' to raise. Returns the new count.
COUNT = """
if ARGV[2] == 'fail' then return redis.error_reply('asked to fail') end
return redis.call('INCRBY', KEYS[1], ARGV[1])
"""


def game_keys() -> tuple[str, str]:
    """A budget and a result key of a game no other test uses."""
    game = random.randrange(10**9)
    return f"budget:game:{{{game}}}:brand:7", f"result:{{{game}}}:{uuid.uuid4()}"


def keys_of_two_games() -> tuple[str, str]:
    """One game's budget key and another's result key, in different slots."""
    while True:
        (budget, _), (_, other_result) = game_keys(), game_keys()
        if key_slot(budget.encode()) != key_slot(other_result.encode()):
            return budget, other_result


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    server = redis_server.start(
        tmp_path_factory.mktemp("redis"), port, binary=redis_server.find_binary(None)
    )
    try:
        server.wait_ready(lambda: redis_server.is_ready(port), timeout=10)
        yield redis_server.url(port)
    finally:
        server.stop()


@pytest.fixture
async def cluster(redis_cluster_url: str) -> AsyncIterator[redis.asyncio.cluster.RedisCluster]:
    client = connect(redis_cluster_url)
    assert isinstance(client, redis.asyncio.cluster.RedisCluster)
    await client.initialize()  # discovers the nodes; a first command would do it too
    yield client
    await client.aclose()


@pytest.fixture
def cluster_sync(redis_cluster_url: str) -> Iterator[redis.cluster.RedisCluster]:
    client = connect_sync(redis_cluster_url)
    assert isinstance(client, redis.cluster.RedisCluster)
    yield client
    client.close()


# One server


async def test_server_url_gives_a_plain_client(redis_url: str) -> None:
    client = connect(redis_url)
    try:
        assert isinstance(client, redis.asyncio.Redis)
        budget, result = game_keys()
        assert await client.register_script(SPEND)(keys=[budget, result], args=[3]) == 3
        assert await client.get(result) == b"3"  # bytes: decode_responses=False
    finally:
        await client.aclose()


def test_server_url_gives_a_plain_sync_client(redis_url: str) -> None:
    client = connect_sync(redis_url)
    try:
        assert isinstance(client, redis.Redis)
        budget, result = game_keys()
        assert client.register_script(SPEND)(keys=[budget, result], args=[3]) == 3
    finally:
        client.close()


def test_one_server_does_not_check_slots(redis_url: str) -> None:
    """Why Lua tests must also run on the cluster: one server accepts keys of two tags."""
    client = connect_sync(redis_url)
    try:
        budget, other_result = keys_of_two_games()
        assert client.register_script(SPEND)(keys=[budget, other_result], args=[1]) == 1
    finally:
        client.close()


# Cluster


async def test_cluster_url_discovers_every_node(redis_cluster_url: str) -> None:
    first_node_only = redis_cluster_url.split(",")[0]
    client = connect(first_node_only)
    try:
        assert isinstance(client, redis.asyncio.cluster.RedisCluster)
        await client.ping()
        assert len(client.get_primaries()) == 3
    finally:
        await client.aclose()


async def test_slots_are_shared_evenly(cluster: redis.asyncio.cluster.RedisCluster) -> None:
    # {(first, last): {"primary": (host, port), ...}}; redis-py's annotation says list.
    ranges = await cluster.execute_command("CLUSTER SLOTS", target_nodes=cluster.get_random_node())
    owned = sorted(end - start + 1 for start, end in ranges)
    assert owned == [SLOTS // 3, SLOTS // 3, SLOTS // 3 + 1]
    assert len({slot["primary"] for slot in ranges.values()}) == 3


async def test_one_tag_lands_in_one_slot_on_one_node(
    cluster: redis.asyncio.cluster.RedisCluster,
) -> None:
    budget, result = game_keys()
    tag = budget.split("{")[1].split("}")[0]
    keys = [budget, result, f"budget:game:{{{tag}}}:brand:8", f"pace:{{{tag}}}"]
    for key in keys:
        await cluster.set(key, b"1")

    slot = cluster.keyslot(budget)
    assert {cluster.keyslot(key) for key in keys} == {slot}
    # The server agrees with the client's hashing, and holds every key in that slot.
    owner = cluster.get_node_from_key(budget)
    assert await cluster.execute_command("CLUSTER KEYSLOT", result, target_nodes=owner) == slot
    stored = await cluster.execute_command("CLUSTER COUNTKEYSINSLOT", slot, target_nodes=owner)
    assert stored == len(keys)


async def test_script_over_one_tag_runs_on_the_cluster(
    cluster: redis.asyncio.cluster.RedisCluster,
) -> None:
    budget, result = game_keys()
    spend = cluster.register_script(SPEND)
    assert await spend(keys=[budget, result], args=[5]) == 5
    assert await spend(keys=[budget, result], args=[2]) == 7
    assert await cluster.get(result) == b"2"


def test_script_over_one_tag_runs_on_the_cluster_sync(
    cluster_sync: redis.cluster.RedisCluster,
) -> None:
    budget, result = game_keys()
    spend = cluster_sync.register_script(SPEND)
    assert spend(keys=[budget, result], args=[5]) == 5
    assert spend(keys=[budget, result], args=[2]) == 7


async def test_script_reloads_on_a_node_that_forgot_it(
    cluster: redis.asyncio.cluster.RedisCluster,
) -> None:
    budget, result = game_keys()
    spend = cluster.register_script(SPEND)
    await spend(keys=[budget, result], args=[1])
    owner = cluster.get_node_from_key(budget)
    await cluster.execute_command("SCRIPT FLUSH", target_nodes=owner)  # as after a restart

    assert await spend(keys=[budget, result], args=[1]) == 2  # NOSCRIPT, load, retry
    # The reload went to every primary, so no other node pays a NOSCRIPT round trip.
    loaded = await cluster.execute_command(
        "SCRIPT EXISTS", spend.sha, target_nodes=cluster.get_primaries()
    )
    assert loaded == [True]


def test_script_reloads_on_a_node_that_forgot_it_sync(
    cluster_sync: redis.cluster.RedisCluster,
) -> None:
    budget, result = game_keys()
    spend = cluster_sync.register_script(SPEND)
    spend(keys=[budget, result], args=[1])
    cluster_sync.script_flush()  # on every primary

    assert spend(keys=[budget, result], args=[1]) == 2


async def test_script_over_two_tags_fails(cluster: redis.asyncio.cluster.RedisCluster) -> None:
    budget, other_result = keys_of_two_games()
    assert cluster.keyslot(budget) != cluster.keyslot(other_result)
    spend = cluster.register_script(SPEND)
    # redis-py refuses before sending: the server would answer CROSSSLOT.
    with pytest.raises(redis.RedisClusterException, match="all keys must map to the same"):
        await spend(keys=[budget, other_result], args=[1])
    assert await cluster.exists(budget, other_result) == 0


def test_script_over_two_tags_fails_sync(cluster_sync: redis.cluster.RedisCluster) -> None:
    budget, other_result = keys_of_two_games()
    spend = cluster_sync.register_script(SPEND)
    with pytest.raises(redis.RedisClusterException, match="all keys must map to the same"):
        spend(keys=[budget, other_result], args=[1])


async def test_script_touching_an_undeclared_key_of_another_node_fails(
    cluster: redis.asyncio.cluster.RedisCluster,
) -> None:
    """A key a script builds itself escapes redis-py's check; the server stops it only
    when the key lives on another node (on the same node Redis 6.2 lets it through)."""
    budget, _ = game_keys()
    elsewhere = next(
        key
        for key in (game_keys()[0] for _ in range(100))
        if cluster.get_node_from_key(key) != cluster.get_node_from_key(budget)
    )
    peek = cluster.register_script("return redis.call('GET', ARGV[1])")
    with pytest.raises(redis.ResponseError, match="non local key"):
        await peek(keys=[budget], args=[elsewhere])


# URLs


@pytest.mark.parametrize(
    "url", ["memcached://127.0.0.1:11211", "127.0.0.1:6379", "http://u:secret@h:1"]
)
def test_unknown_scheme_is_refused_without_echoing_secrets(url: str) -> None:
    with pytest.raises(ValueError, match="unsupported Redis URL scheme") as caught:
        connect_sync(url)
    assert "secret" not in str(caught.value)


def test_cluster_url_needs_a_node() -> None:
    with pytest.raises(ValueError, match="at least one host:port"):
        connect_sync("redis+cluster://")


# The launcher


def test_cluster_stop_leaves_no_process(tmp_path: Path) -> None:
    with start_cluster(tmp_path, masters=3) as started:
        nodes = [psutil.Process(server.pid) for server in started.servers]
        assert all(node.is_running() and "redis-server" in node.name() for node in nodes)
        assert len(set(started.ports)) == 3
    assert started.servers == []
    assert not any(node.is_running() for node in nodes)
    mine = {child.pid for child in psutil.Process().children(recursive=True)}
    assert mine.isdisjoint(node.pid for node in nodes)


def test_cluster_with_a_missing_binary_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="is not a file"):
        start_cluster(tmp_path, binary=tmp_path / "no-redis-server")


async def counted_concurrently(client: AsyncRedis, max_batch: int = 256) -> list[set[str]]:
    """200 calls of ``Batched`` over 20 counters, in waves that arrive while pipelines are
    in flight: each call gets its own answer, one failing call fails alone, and they go out
    in far fewer pipelines than calls. Returns each pipeline's counters."""
    count = Batched(client, COUNT, max_batch=max_batch)
    pipelines: list[set[str]] = []
    send = count._pipeline

    async def counting(calls: list[tuple[object, ...]]) -> list[object]:
        pipelines.append({str(call[1]) for call in calls})
        return await send(calls)

    count._pipeline = counting  # type: ignore[method-assign]
    tag = uuid.uuid4().hex[:8]
    counters = [f"count:{{{tag}-{i}}}" for i in range(20)]

    async def call(i: int) -> object:
        await asyncio.sleep(0.001 * (i // 40))  # five waves
        return await count(keys=[counters[i % 20]], args=[1, "fail" if i == 57 else "ok"])

    answers = await asyncio.gather(*(call(i) for i in range(200)), return_exceptions=True)
    assert isinstance(answers[57], redis.ResponseError)
    assert "asked to fail" in str(answers[57])
    for i in range(20):  # each counter's answers are 1..n, in some order: every call counted once
        mine = sorted(int(a) for j, a in enumerate(answers) if j % 20 == i and j != 57)  # type: ignore[call-overload]
        assert mine == list(range(1, len(mine) + 1))
    assert len(pipelines) < 50

    await client.script_flush()  # as after a restart: NOSCRIPT, load, the calls again
    assert await count(keys=[counters[0]], args=[5, "ok"]) == 15
    return pipelines


async def test_batched_calls_share_pipelines_and_fail_alone(redis_url: str) -> None:
    client = connect(redis_url)
    try:
        await counted_concurrently(client)
        # No pipeline holds more than max_batch calls; the rest wait for the next.
        assert all(len(p) <= 16 for p in await counted_concurrently(client, max_batch=16))
    finally:
        await client.aclose()


async def test_batched_calls_share_pipelines_on_the_cluster_a_lane_a_master(
    cluster: redis.asyncio.cluster.RedisCluster,
) -> None:
    pipelines = await counted_concurrently(cluster)

    def master(key: str) -> str:
        node = cluster.get_node_from_key(key)
        assert node is not None
        return str(node.name)

    masters = [{master(key) for key in p} for p in pipelines]
    assert all(len(m) == 1 for m in masters)  # a slow master holds up only its own calls
    assert len(set.union(*masters)) == 3


async def test_batched_refuses_keys_of_two_slots_alone(
    cluster: redis.asyncio.cluster.RedisCluster,
) -> None:
    count = Batched(cluster, COUNT)
    budget, other = keys_of_two_games()
    with pytest.raises(redis.RedisClusterException, match="all keys must map to the same"):
        await count(keys=[budget, other], args=[1, "ok"])


async def test_a_failed_reload_fails_only_the_calls_that_needed_it(redis_url: str) -> None:
    """A shard that restarted answers NOSCRIPT while the others ran their calls; if the
    script cannot be loaded again, only the NOSCRIPT calls fail."""
    client = connect(redis_url)
    count = Batched(client, COUNT)
    replies = iter([[7, NoScriptError("NOSCRIPT No matching script")]])

    async def pipeline(calls: list[tuple[object, ...]]) -> list[object]:
        return next(replies)

    async def unreachable(script: object) -> str:
        raise redis.ConnectionError("the restarted shard is away")

    count._pipeline = pipeline  # type: ignore[method-assign]
    client.script_load = unreachable  # type: ignore[method-assign]
    try:
        answers = await asyncio.gather(
            count(keys=["count:{a}"], args=[1, "ok"]), count(keys=["count:{b}"], args=[1, "ok"]),
            return_exceptions=True,
        )  # fmt: skip
        assert answers[0] == 7
        assert isinstance(answers[1], redis.ConnectionError)
    finally:
        await client.aclose()


async def test_batched_calls_all_fail_when_redis_is_away() -> None:
    client = connect(f"redis://127.0.0.1:{free_port()}/0")
    count = Batched(client, COUNT)
    try:
        answers = await asyncio.gather(
            *(count(keys=["count:{away}"], args=[1, "ok"]) for _ in range(10)),
            return_exceptions=True,
        )
        assert all(isinstance(a, redis.ConnectionError) for a in answers)
    finally:
        await client.aclose()
