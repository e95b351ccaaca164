"""Start whichever servers the settings do not point at, and stop them again.

    with Stack(settings) as endpoints:
        settings = endpoints.apply(settings)
        ...

A server whose URL is set is used as it is and nothing is started for it: that is how
production runs. The servers start side by side: Redis and the broker boot while
PostgreSQL runs initdb.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Literal

from frolic.config import Settings
from frolic.errors import StackError
from frolic.stack import broker, postgres, redis, redis_cluster
from frolic.stack.process import ChildServer, free_port, port_is_free, tail

log = logging.getLogger(__name__)
EMBEDDED_PARTITIONS = 2
"""Partitions per topic on the embedded broker, unless set: its every fetch lists each
partition's stored batches, so its CPU grows with partitions times messages kept (memory
storage keeps them all). Two let two allocators and two recorders share the work
(docs/performance.md)."""


@dataclass(frozen=True)
class Endpoints:
    database_url: str
    redis_url: str
    kafka_bootstrap: str
    broker_embedded: bool = False

    def apply(self, settings: Settings) -> Settings:
        """``settings`` pointed at these servers; on the embedded broker, with its own
        partition count unless FROLIC_KAFKA_PARTITIONS says otherwise."""
        update: dict[str, object] = {
            "database_url": self.database_url,
            "redis_url": self.redis_url,
            "kafka_bootstrap": self.kafka_bootstrap,
        }
        if self.broker_embedded and "kafka_partitions" not in settings.model_fields_set:
            update["kafka_partitions"] = EMBEDDED_PARTITIONS
        return settings.model_copy(update=update)

    def as_env(self) -> dict[str, str]:
        return {
            "FROLIC_DATABASE_URL": self.database_url,
            "FROLIC_REDIS_URL": self.redis_url,
            "FROLIC_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
        }


Server = Literal["postgres", "redis", "broker"]
ALL_SERVERS: frozenset[Server] = frozenset({"postgres", "redis", "broker"})
_SETTING: dict[Server, str] = {
    "postgres": "database_url", "redis": "redis_url", "broker": "kafka_bootstrap"
}  # fmt: skip


@dataclass(frozen=True)
class _Launcher:
    """How to start one embedded server again on the same port (see ``Stack.start_server``)."""

    spawn: Callable[[], ChildServer]
    ready: Callable[[], bool] = lambda: True
    wipe: Callable[[], None] | None = None


class Stack:
    def __init__(self, settings: Settings, *, only: frozenset[Server] = ALL_SERVERS) -> None:
        """``only`` narrows which servers may be started (a Redis benchmark needs no
        PostgreSQL); an unset server left out gets the endpoint ``""``."""
        left_out = {
            _SETTING[server]: "" for server in ALL_SERVERS - only
            if getattr(settings, _SETTING[server]) is None
        }  # fmt: skip
        self.settings = settings.model_copy(update=left_out)
        self.servers: list[ChildServer] = []
        self._running: dict[Server, ChildServer] = {}
        self._launchers: dict[Server, _Launcher] = {}
        self._cluster: redis_cluster.RedisClusterHandle | None = None
        self._lock: IO[str] | None = None

    def __enter__(self) -> Endpoints:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> Endpoints:
        s = self.settings
        if not s.embedded:
            assert s.database_url is not None
            assert s.redis_url is not None
            assert s.kafka_bootstrap is not None
            return Endpoints(s.database_url, s.redis_url, s.kafka_bootstrap)
        state_dir = s.state_dir.resolve()
        self._lock = _lock_state_dir(state_dir)
        timeout = s.stack_start_timeout

        # Spawning happens here, on the caller's thread (see ChildServer.spawn); only the
        # waiting overlaps: Redis and the broker boot while PostgreSQL runs initdb.
        redis_url, broker_url = s.redis_url, s.kafka_bootstrap
        booting: list[tuple[ChildServer, Callable[[], bool]]] = []
        if redis_url is None and s.stack_redis_cluster is not None:
            shape = redis_cluster.Shape.parse(s.stack_redis_cluster)
            log.info("starting a Redis Cluster of %s", shape)
            self._cluster = redis_cluster.start_cluster(
                state_dir / "redis-cluster", masters=shape.masters, replicas=shape.replicas,
                binary=s.stack_redis_server, timeout=timeout,
            )  # fmt: skip
            redis_url = self._cluster.url
        if redis_url is None:
            port = _port("Redis", s.stack_redis_port, "FROLIC_STACK_REDIS_PORT")
            binary = redis.find_binary(s.stack_redis_server)
            self._launchers["redis"] = _Launcher(
                functools.partial(redis.start, state_dir, port, binary=binary),
                functools.partial(redis.is_ready, port),
                wipe=functools.partial(redis.wipe, state_dir),
            )
            booting.append(self._spawn("redis"))
            redis_url = redis.url(port)
        if broker_url is None:
            port = _port("broker", s.stack_broker_port, "FROLIC_STACK_BROKER_PORT")
            binary = broker.find_binary(s.stack_tansu)
            self._launchers["broker"] = _Launcher(
                functools.partial(broker.start, state_dir, port, binary=binary),
                functools.partial(broker.is_ready, port),
            )
            booting.append(self._spawn("broker"))
            broker_url = broker.bootstrap(port)
        database_url = s.database_url
        if database_url is None:
            port = _port("PostgreSQL", s.stack_postgres_port, "FROLIC_STACK_POSTGRES_PORT")
            bin_dir = postgres.find_bin_dir(s.stack_postgres_bin_dir)
            # postgres.start waits until it is ready and its database exists.
            self._launchers["postgres"] = _Launcher(
                functools.partial(
                    postgres.start, state_dir, port, bin_dir=bin_dir, timeout=timeout
                ),
                wipe=functools.partial(postgres.wipe, state_dir),
            )
            self._spawn("postgres")
            database_url = postgres.url(port)
        for server, probe in booting:
            _wait(server, probe, timeout)
        embedded = s.kafka_bootstrap is None
        return Endpoints(database_url, redis_url, broker_url, broker_embedded=embedded)

    @property
    def redis_cluster(self) -> redis_cluster.RedisClusterHandle | None:
        """The embedded Redis Cluster's nodes (a fault kills and restarts them one by one),
        or None where Redis is one server or not ours."""
        return self._cluster

    def stop_server(self, server: Server, *, kill: bool = False) -> None:
        """Take one embedded server down, as an outage would: with its usual stop signal
        (PostgreSQL fast shutdown, Redis writing its append-only file), or with SIGKILL
        (``kill``): PostgreSQL then recovers from its WAL, Redis loses up to the last second
        of writes (``appendfsync everysec``). The memory broker loses everything either way.
        """
        if server == "redis" and self._cluster is not None:
            raise StackError("the embedded Redis Cluster starts and stops with the stack as a "
                             "whole; it cannot be restarted alone")  # fmt: skip
        child = self._running.pop(server)
        if kill:
            child.kill()
        else:
            child.stop()
        self.servers.remove(child)

    def start_server(self, server: Server, *, wipe: bool = False) -> None:
        """Start a server taken down by ``stop_server`` again, on the same port, and wait
        until it is ready. ``wipe`` starts Redis with no data, as a Redis without
        persistence (or one whose disk was lost) comes back; PostgreSQL as a new server
        with an empty database, to be migrated."""
        launcher = self._launchers[server]
        if wipe and launcher.wipe is not None:
            launcher.wipe()
        _wait(*self._spawn(server), self.settings.stack_start_timeout)

    def stop(self) -> None:
        if self._cluster is not None:
            self._cluster.stop()
            self._cluster = None
        # Reverse order: the database goes last, after whatever might still write to it.
        while self.servers:
            self.servers.pop().stop()
        self._running.clear()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _spawn(self, server: Server) -> tuple[ChildServer, Callable[[], bool]]:
        launcher = self._launchers[server]
        child = launcher.spawn()
        self.servers.append(child)
        self._running[server] = child
        return child, launcher.ready


def _port(name: str, configured: int, env: str) -> int:
    if configured == 0:
        return free_port()
    if not port_is_free(configured):
        raise StackError(
            f"embedded {name}: port {configured} on 127.0.0.1 is already in use. Set {env} "
            f"to a free port (0 picks one), or stop whatever holds it"
        )
    return configured


def _wait(server: ChildServer, probe: Callable[[], bool], timeout: float) -> None:
    try:
        server.wait_ready(probe, timeout)
    except StackError as exc:
        if "in use" in tail(server.log_path):
            raise StackError(
                f"{exc.detail}\nIts port was taken after Frolic chose it; start again, or "
                "pin a free port with FROLIC_STACK_*_PORT"
            ) from exc
        raise


def _lock_state_dir(state_dir: Path) -> IO[str]:
    """One embedded stack per state dir: two would share PostgreSQL's data folder."""
    state_dir.mkdir(parents=True, exist_ok=True)
    handle = open(state_dir / "stack.lock", "a+")  # held for the stack's life
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise StackError(
            f"the embedded stack in {state_dir} is already run by pid {holder}. Point "
            "FROLIC_DATABASE_URL, FROLIC_REDIS_URL and FROLIC_KAFKA_BOOTSTRAP at its servers "
            "(`frolic stack` prints them), or use another FROLIC_STATE_DIR"
        ) from None
    handle.truncate(0)
    handle.write(str(os.getpid()))
    handle.flush()
    with contextlib.suppress(OSError):
        os.chmod(state_dir, 0o755)
    return handle
