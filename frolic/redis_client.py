"""One place that turns a Frolic Redis URL into a client.

    redis://[user:password@]host:port/db                 one server (also rediss://, unix://)
    redis+cluster://[user:password@]host:port[,host:port...]   Redis Cluster (rediss+cluster://)

The nodes of a cluster URL are startup nodes: the client asks them for the slot map and
discovers the rest, so listing a few is enough. Query options (``?socket_timeout=2``) work
as in redis-py's own URLs.

Scripts work alike on both: ``client.register_script(LUA)`` returns a callable that sends
EVALSHA. On a cluster, redis-py routes it by its keys (so every key must carry the same hash
tag, or the call fails before it leaves the client with "all keys must map to the same key
slot"); on NOSCRIPT it loads the script on every primary and retries once.
``Batched(client, LUA)`` is the same callable for a script that concurrent tasks call by the
thousand a second: it sends their calls to Redis together.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any, TypeAlias
from urllib.parse import urlsplit, urlunsplit

import hiredis
import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.connection
import redis.cluster
from redis.exceptions import NoScriptError

AsyncRedis: TypeAlias = redis.asyncio.Redis | redis.asyncio.cluster.RedisCluster
SyncRedis: TypeAlias = redis.Redis | redis.cluster.RedisCluster

_CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
_SERVER_SCHEMES = {"redis", "rediss", "unix"}


class _PackInC:
    """Pack commands with hiredis, as redis-py's sync client does.

    redis-py's asyncio connection packs in Python, rebuilding its buffer for each argument
    (about a microsecond each), and one batch decision sends thousands of arguments.
    """

    def pack_command(self, *args: Any) -> list[bytes]:
        if isinstance(args[0], str):
            args = (*args[0].encode().split(), *args[1:])
        elif b" " in args[0]:
            args = (*args[0].split(), *args[1:])
        return [hiredis.pack_command(args)]


class FastConnection(_PackInC, redis.asyncio.connection.Connection):
    pass


class FastSSLConnection(_PackInC, redis.asyncio.connection.SSLConnection):
    pass


_Call = tuple[tuple[Any, ...], "asyncio.Future[Any]"]


class Batched:
    """A script's calls from concurrent tasks, sent to Redis as one pipeline.

    One EVALSHA from asyncio costs redis-py about 100 µs of CPU (a connection taken from
    the pool and given back, a timeout, the reply read through its layers); in a pipeline
    of many, about 30 µs each (docs/performance.md, Ingest). While one pipeline is in
    flight the next calls gather, with no timer: a lone call goes out at once, and a busy
    gateway sends what arrived during the last round trip.

    A pipeline is not a transaction: each call runs as it would alone, and fails alone (a
    script error, keys of two slots on a Cluster); a connection lost fails the calls it
    carried. On a Cluster each master has its own lane, so a master that is slow or failing
    over holds up only the calls whose keys it serves. NOSCRIPT (a restarted or promoted
    server) loads the script, on every primary, and sends those calls again.
    """

    def __init__(self, client: AsyncRedis, script: str, max_batch: int = 256) -> None:
        self._client = client
        self._cluster = client if isinstance(client, redis.asyncio.cluster.RedisCluster) else None
        self._script = script
        self._sha = hashlib.sha1(script.encode()).hexdigest()
        self._max_batch = max_batch
        self._queues: dict[str, list[_Call]] = {}
        self._senders: dict[str, asyncio.Task[None]] = {}

    async def __call__(self, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        lane = self._lane(keys)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(lane, []).append(((len(keys), *keys, *args), future))
        sender = self._senders.get(lane)
        if sender is None or sender.done():
            self._senders[lane] = asyncio.create_task(self._send(lane), name="redis-batched")
        return await future

    def _lane(self, keys: Sequence[Any]) -> str:
        """The master that serves ``keys`` on a Cluster (refusing keys of two slots, as a
        lone script call is refused); one lane for one server."""
        if self._cluster is None or not keys:
            return ""
        slots = {self._cluster.keyslot(key) for key in keys}
        if len(slots) > 1:
            raise redis.exceptions.RedisClusterException(
                "EVALSHA - all keys must map to the same key slot"
            )
        try:
            return str(self._cluster.nodes_manager.get_node_from_slot(slots.pop()).name)
        except redis.exceptions.RedisClusterException:  # no master for it yet (failing over)
            return ""

    async def _send(self, lane: str) -> None:
        queue = self._queues[lane]
        try:
            while queue:
                batch = [c for c in queue[: self._max_batch] if not c[1].done()]
                del queue[: self._max_batch]  # a cancelled caller's call is not sent
                if batch:
                    await self._run(batch)
        except BaseException:  # cancelled (shutting down): nobody is left to send the rest
            for _, future in queue:
                future.cancel()
            queue.clear()
            raise
        finally:
            if self._senders.get(lane) is asyncio.current_task():
                del self._senders[lane]

    async def _run(self, batch: list[_Call]) -> None:
        try:
            try:
                results = await self._pipeline([call for call, _ in batch])
            except Exception as exc:
                results = [exc] * len(batch)
            unknown = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
            if unknown:
                try:
                    await self._client.script_load(self._script)
                    again = await self._pipeline([batch[i][0] for i in unknown])
                except Exception as exc:  # only those calls fail: the others have run
                    again = [exc] * len(unknown)
                for i, result in zip(unknown, again, strict=True):
                    results[i] = result
        except BaseException:
            for _, future in batch:
                future.cancel()
            raise
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue  # its caller was cancelled
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _pipeline(self, calls: list[tuple[Any, ...]]) -> list[Any]:
        async with self._client.pipeline(transaction=False) as pipe:
            for call in calls:
                pipe.execute_command("EVALSHA", self._sha, *call)
            return list(await pipe.execute(raise_on_error=False))


def connect(url: str) -> AsyncRedis:
    """An asyncio client for ``url``; responses stay bytes (``decode_responses=False``)."""
    cluster = _cluster_url(url)
    tls = url.lower().startswith(("rediss://", "rediss+cluster://"))
    fast = FastSSLConnection if tls else FastConnection
    if cluster is None:
        if url.lower().startswith("unix://"):
            return redis.asyncio.Redis.from_url(url, decode_responses=False)
        return redis.asyncio.Redis.from_url(url, decode_responses=False, connection_class=fast)
    first, others = cluster
    client = redis.asyncio.cluster.RedisCluster.from_url(
        first,
        startup_nodes=[
            redis.asyncio.cluster.ClusterNode(host, port, connection_class=fast)
            for host, port in others
        ],
        decode_responses=False,
    )
    # The nodes it discovers are built from these kwargs; RedisCluster takes no class.
    client.connection_kwargs["connection_class"] = fast
    for node in client.get_nodes():
        node.connection_class = fast
    return client


def connect_sync(url: str) -> SyncRedis:
    """The blocking twin of ``connect``, for the CLI, migrations and set-up code."""
    cluster = _cluster_url(url)
    if cluster is None:
        return redis.Redis.from_url(url, decode_responses=False)
    first, others = cluster
    # The sync ClusterNode is not annotated; it takes (host, port) like the async one.
    nodes = [redis.cluster.ClusterNode(host, port) for host, port in others]  # type: ignore[no-untyped-call]
    return redis.cluster.RedisCluster.from_url(
        first,
        startup_nodes=nodes,
        decode_responses=False,
    )


def _cluster_url(url: str) -> tuple[str, list[tuple[str, int]]] | None:
    """None for a one-server URL; else a plain URL of the first node, and the other nodes.

    redis-py parses a cluster URL of one node only; handing it the first node as such keeps
    its handling of credentials, TLS and query options, and the rest go in as startup nodes.
    """
    scheme, sep, _ = url.partition("://")
    if sep and scheme.lower() in _SERVER_SCHEMES:
        return None
    if not sep or scheme.lower() not in _CLUSTER_SCHEMES:
        # The scheme only: the rest of a URL may hold a password.
        raise ValueError(
            f"unsupported Redis URL scheme {scheme + ':' if sep else '(none)'}; use redis://, "
            "rediss:// or unix:// for one server, redis+cluster:// or rediss+cluster:// for "
            "Redis Cluster"
        )
    parts = urlsplit(url)
    credentials, _, hosts = parts.netloc.rpartition("@")
    nodes = [node.strip() for node in hosts.split(",") if node.strip()]
    if not nodes:
        raise ValueError(f"a {scheme}:// URL needs at least one host:port")
    first = urlunsplit(
        (
            _CLUSTER_SCHEMES[scheme.lower()],
            f"{credentials}@{nodes[0]}" if credentials else nodes[0],
            parts.path,
            parts.query,
            parts.fragment,
        )
    )
    return first, [_host_port(node) for node in nodes[1:]]


def _host_port(node: str) -> tuple[str, int]:
    host, sep, port = node.rpartition(":")
    if not sep or host.endswith(":"):  # no port, or a bare IPv6 address
        host, port = node, "6379"
    try:
        return host.strip("[]"), int(port)
    except ValueError:
        raise ValueError(f"Redis Cluster node {node!r} is not host:port") from None
