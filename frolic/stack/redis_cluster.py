"""A real Redis Cluster of child processes, for tests, benchmarks and anyone who wants to
run Frolic on one (``frolic stack`` and ``frolic serve`` with ``FROLIC_STACK_REDIS_CLUSTER=3x1``).

    with start_cluster(state_dir, masters=3, replicas=1) as cluster:
        client = frolic.redis_client.connect(cluster.url)

Each node is a ``redis-server --cluster-enabled yes`` on its own loopback port. The masters
are given the 16384 slots and every node meets every other with plain redis-py commands
(what ``redis-cli --cluster create`` does), so nothing beyond the ``redis-server`` binary is
needed; each replica then follows its master (``CLUSTER REPLICATE``), and the cluster is
ready once every node draws the same map and every replica has synced. Nothing is
persisted: a cluster started again is a new, empty one (the warden rebuilds each game from
the ledger, as after any Redis loss).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import redis

from frolic.errors import StackError
from frolic.stack import redis as redis_server
from frolic.stack.process import ChildServer, free_port, port_is_free, tail

HOST = "127.0.0.1"
SLOTS = 16384
# Redis 6.2 listens for cluster gossip on port + 10000, so a node's port must leave room.
_BUS_OFFSET = 10000
_HIGHEST_PORT = 65535 - _BUS_OFFSET


@dataclass(frozen=True)
class Shape:
    """How many masters, and how many replicas each: ``MxR`` (``3x1``), or ``M`` alone."""

    masters: int
    replicas: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.masters <= SLOTS or not 0 <= self.replicas <= 5:
            raise ValueError(f"a Redis Cluster needs 1 to {SLOTS} masters and 0 to 5 "
                             f"replicas each, not {self}")  # fmt: skip

    @classmethod
    def parse(cls, text: str) -> Shape:
        masters, _, replicas = text.strip().lower().partition("x")
        try:
            numbers = int(masters), int(replicas or 0)
        except ValueError:
            raise ValueError(f"a Redis Cluster's shape is MxR, as 3x1, not {text!r}") from None
        return cls(*numbers)

    def __str__(self) -> str:
        return f"{self.masters}x{self.replicas}"


@dataclass
class RedisClusterHandle:
    """Running nodes; ``url`` (its masters) is what ``frolic.redis_client.connect`` takes.
    ``replicas_of`` gives each master's port its replicas' ports as the cluster was formed
    (a failover changes who serves what: ``master_of`` asks the cluster)."""

    servers: list[ChildServer]
    ports: list[int]
    replicas_of: dict[int, list[int]] = field(default_factory=dict)
    state_dir: Path = Path()
    binary: Path = Path()

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"{HOST}:{port}" for port in self.masters)

    @property
    def masters(self) -> list[int]:
        replicas = {p for followers in self.replicas_of.values() for p in followers}
        return [port for port in self.ports if port not in replicas]

    def master_of(self, key: str) -> int:
        """The port of the master serving ``key`` now, as the first node that answers sees
        it."""
        for port in self.ports:
            client = redis.Redis(host=HOST, port=port, socket_timeout=1)
            try:
                slot = int(client.cluster("KEYSLOT", key))
                for first, last, master, *_ in client.cluster("SLOTS"):
                    if first <= slot <= last:
                        return int(master[1])
            except redis.RedisError:
                continue
            finally:
                client.close()
        raise StackError(f"no node of the cluster on {self.ports} says who serves {key!r}")

    def role(self, port: int) -> tuple[str, int | None]:
        """``("master", None)`` or ``("slave", its master's port)``, as the node says;
        ``("down", None)`` when it does not answer."""
        info = _replication(port)
        return ("down", None) if info is None else (str(info["role"]), info.get("master_port"))

    def kill(self, port: int) -> None:
        """SIGKILL one node, as a machine lost would go: its replica is promoted once the
        others have missed it for the node timeout."""
        server = self._server(port)
        server.kill()
        self.servers.remove(server)

    def restart(self, port: int, timeout: float = 30) -> None:
        """Start a killed node again on its port, with its cluster configuration: it comes
        back empty (nothing is persisted) and rejoins, as a replica of whoever took its
        slots meanwhile."""
        server = _spawn_node(self.state_dir, port, self.binary, fresh=False)
        self.servers.append(server)
        server.wait_ready(functools.partial(redis_server.is_ready, port), timeout)

    def _server(self, port: int) -> ChildServer:
        for server in self.servers:
            if server.name.endswith(f" {port}"):
                return server
        raise StackError(f"no running node of this cluster on port {port}")

    def stop(self) -> None:
        # Signal every node first so they shut down side by side, then wait for each.
        for server in self.servers:
            if server.alive():
                server.process.send_signal(server.stop_signal)
        while self.servers:
            self.servers.pop().stop()

    def __enter__(self) -> RedisClusterHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_cluster(
    state_dir: Path,
    *,
    masters: int = 3,
    replicas: int = 0,
    binary: Path | None = None,
    timeout: float = 30,
) -> RedisClusterHandle:
    """Start ``masters`` nodes with ``replicas`` replicas each under ``state_dir``, give the
    masters all slots, and wait until every node agrees and every replica has synced.

    Spawns on the calling thread, which must outlive the cluster (see ``ChildServer.spawn``).
    """
    shape = Shape(masters, replicas)  # checks the bounds
    deadline = time.monotonic() + timeout
    executable = redis_server.find_binary(binary)
    handle = RedisClusterHandle(servers=[], ports=[], state_dir=state_dir, binary=executable)
    try:
        ports = _cluster_ports(shape.masters * (1 + shape.replicas))
        for port in ports:
            handle.servers.append(_spawn_node(state_dir, port, executable))
            handle.ports.append(port)
        followers = iter(ports[shape.masters :])
        handle.replicas_of = {
            master: [next(followers) for _ in range(shape.replicas)]
            for master in ports[: shape.masters]
        }
        for server, port in zip(handle.servers, handle.ports, strict=True):
            server.wait_ready(functools.partial(redis_server.is_ready, port), _left(deadline))
        _form(handle.masters, handle.ports)
        if shape.replicas:
            _wait_agreed(handle, deadline, replicated=False)
            _follow(handle.replicas_of)
        _wait_agreed(handle, deadline)
    except BaseException:
        handle.stop()
        raise
    return handle


def _cluster_ports(count: int) -> list[int]:
    """Free ports whose gossip port (port + 10000) is free too and exists."""
    chosen: list[int] = []
    while len(chosen) < count:
        port = free_port()
        taken = {p + offset for p in chosen for offset in (0, _BUS_OFFSET)}
        if (
            port <= _HIGHEST_PORT
            and port not in taken
            and port + _BUS_OFFSET not in taken
            and port_is_free(port + _BUS_OFFSET)
        ):
            chosen.append(port)
    return chosen


def _spawn_node(state_dir: Path, port: int, binary: Path, *, fresh: bool = True) -> ChildServer:
    data = state_dir / f"redis-cluster-{port}"
    data.mkdir(parents=True, exist_ok=True)
    nodes_conf = data / "nodes.conf"
    if fresh:
        # A node that finds an old nodes.conf rejoins that old cluster; a new one must not.
        nodes_conf.unlink(missing_ok=True)
    # Nothing is persisted, but a replica's full sync goes through a dump file on disk,
    # which a start would load: every node starts empty.
    (data / "dump.rdb").unlink(missing_ok=True)
    argv: list[str | Path] = [
        binary, "--port", str(port), "--bind", HOST, "--dir", data,
        "--daemonize", "no", "--protected-mode", "no",
        "--cluster-enabled", "yes", "--cluster-config-file", nodes_conf,
        "--cluster-node-timeout", "5000",
        "--appendonly", "no", "--save", "",
    ]  # fmt: skip
    return ChildServer.spawn(
        f"Redis Cluster node {port}",
        argv,
        log_path=state_dir / "logs" / f"redis-cluster-{port}.log",
    )


def _form(masters: list[int], ports: list[int]) -> None:
    """Give each master an even share of slots and a distinct epoch, then introduce every
    node to every other."""
    clients = [redis.Redis(host=HOST, port=port, socket_timeout=5) for port in ports]
    try:
        for index, client in enumerate(clients[: len(masters)]):
            first, last = _share(index, len(masters))
            client.cluster("ADDSLOTS", *range(first, last))
            # Distinct epochs spare the nodes a round of collision resolution; Redis accepts
            # this only while a node knows no other node, so it goes before MEET.
            client.cluster("SET-CONFIG-EPOCH", index + 1)
        # Every pair meets directly: learning of a peer second-hand, by gossip, can take
        # seconds longer.
        for index, client in enumerate(clients):
            for port in ports[index + 1 :]:
                client.cluster("MEET", HOST, port)
    finally:
        for client in clients:
            client.close()


def _follow(replicas_of: dict[int, list[int]]) -> None:
    """Make each replica follow its master (every node must know the master by now)."""
    for master, followers in replicas_of.items():
        with redis.Redis(host=HOST, port=master, socket_timeout=5) as client:
            master_id = client.cluster("MYID")
        master_id = master_id.decode() if isinstance(master_id, bytes) else str(master_id)
        for port in followers:
            with redis.Redis(host=HOST, port=port, socket_timeout=5) as client:
                client.cluster("REPLICATE", master_id)


def _share(index: int, count: int) -> tuple[int, int]:
    """Slots [first, last) of node ``index`` of ``count``."""
    return index * SLOTS // count, (index + 1) * SLOTS // count


def _wait_agreed(handle: RedisClusterHandle, deadline: float, *, replicated: bool = True) -> None:
    """Until every node says ``cluster_state:ok`` and all draw the same slot map, and (with
    ``replicated``) every replica follows its master with its link up."""
    delay = 0.05
    while True:
        views = list(_views(handle))
        if all(view is not None and view == views[0] for view in views) and (
            not replicated or _replicas_synced(handle)
        ):
            return
        for server in handle.servers:
            if not server.alive():
                raise StackError(
                    f"embedded {server.name} exited with code {server.process.returncode} "
                    f"while the cluster formed; its log ({server.log_path}) ends with:\n"
                    f"{tail(server.log_path)}"
                )
        if time.monotonic() > deadline:
            raise StackError(
                f"embedded Redis Cluster on ports {handle.ports} did not agree on its slots "
                f"and replicas in time (state per node: {views}); logs under "
                f"{handle.servers[0].log_path.parent}"
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)


def _replicas_synced(handle: RedisClusterHandle) -> bool:
    for master, followers in handle.replicas_of.items():
        for port in followers:
            info = _replication(port) or {}
            if (info.get("role"), info.get("master_port"), info.get("master_link_status")) != (
                "slave", master, "up"
            ):  # fmt: skip
                return False
    return True


def _replication(port: int) -> dict[str, Any] | None:
    """The node's INFO replication, or None when it does not answer."""
    client = redis.Redis(host=HOST, port=port, socket_timeout=1)
    try:
        return client.info("replication")
    except redis.RedisError:
        return None
    finally:
        client.close()


_SlotMap = frozenset[tuple[str, tuple[tuple[str, ...], ...]]]


def _views(handle: RedisClusterHandle) -> Iterator[_SlotMap | None]:
    """Each node's slot map (node id -> slot ranges), or None while it is not ``ok``."""
    for port in handle.ports:
        client = redis.Redis(host=HOST, port=port, socket_timeout=1)
        try:
            info = client.cluster("INFO")
            nodes = client.cluster("NODES")
        except redis.RedisError:
            yield None
            continue
        finally:
            client.close()
        if (
            info.get("cluster_state") != "ok"
            or int(info.get("cluster_known_nodes", 0)) != len(handle.ports)
            or int(info.get("cluster_slots_assigned", 0)) != SLOTS
        ):
            yield None
            continue
        yield frozenset(
            (node["node_id"], tuple(tuple(r) for r in node["slots"])) for node in nodes.values()
        )


def _left(deadline: float) -> float:
    return max(deadline - time.monotonic(), 0.1)
