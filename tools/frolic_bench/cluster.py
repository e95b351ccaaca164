"""Frolic as separate ``frolic serve`` processes on given servers, a role (or several) per
process: the end-to-end tests and the benchmarks run the real thing this way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from frolic.config import Settings
from frolic.stack.process import free_port


@dataclass
class Role:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


@dataclass
class Cluster:
    settings: Settings
    roles: list[Role] = field(default_factory=list)

    def of(self, name: str) -> list[Role]:
        return [r for r in self.roles if r.name == name]


def environment(settings: Settings, state: Path) -> dict[str, str]:
    assert settings.jwt_secret is not None, "call Settings.with_local_secrets() first"
    assert settings.admin_token is not None, "call Settings.with_local_secrets() first"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FROLIC_")}
    env.update({
        "FROLIC_DATABASE_URL": settings.database_url or "",
        "FROLIC_REDIS_URL": settings.redis_url or "",
        "FROLIC_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or "",
        "FROLIC_STATE_DIR": str(state),
        "FROLIC_JWT_SECRET": settings.jwt_secret.get_secret_value(),
        "FROLIC_ADMIN_TOKEN": settings.admin_token.get_secret_value(),
        "FROLIC_PLAY_TOPIC": settings.play_topic,
        "FROLIC_RESULT_TOPIC": settings.result_topic,
        "FROLIC_FINAL_TOPIC": settings.final_topic,
        "FROLIC_KAFKA_PARTITIONS": str(settings.kafka_partitions),
        "FROLIC_KAFKA_LINGER_MS": str(settings.kafka_linger_ms),
        "FROLIC_KAFKA_BATCH_BYTES": str(settings.kafka_batch_bytes),
        "FROLIC_KAFKA_FETCH_WAIT_MS": str(settings.kafka_fetch_wait_ms),
        "FROLIC_KAFKA_FETCH_MIN_BYTES": str(settings.kafka_fetch_min_bytes),
        "FROLIC_REVEAL_SECONDS": str(settings.reveal_seconds),
        "FROLIC_REDRIVE_AFTER_SECONDS": str(settings.redrive_after_seconds),
        # Every request of a test or benchmark comes from 127.0.0.1.
        "FROLIC_RATE_IP_PER_SECOND": "100000",
        "FROLIC_RATE_IP_BURST": "100000",
        "FROLIC_LOG_LEVEL": "WARNING",
    })  # fmt: skip
    return env


@contextmanager
def running(
    settings: Settings, state: Path, layout: Sequence[Sequence[str]],
    env: Mapping[str, str] | None = None,
) -> Iterator[Cluster]:  # fmt: skip
    """Start one ``frolic serve`` per entry of ``layout`` (its roles), wait for each to be
    ready, and stop them all (SIGTERM, then SIGKILL) at the end. ``env`` overrides
    ``environment``'s variables (the real IP limit, say)."""
    cluster = Cluster(settings)
    env = {**environment(settings, state), **(env or {})}
    try:
        for i, roles in enumerate(layout):
            port = free_port()
            log = state / f"{i}-{'-'.join(roles)}.log"
            with open(log, "wb") as out:
                process = subprocess.Popen(
                    serve_argv(port, roles), env=env, stdout=out, stderr=subprocess.STDOUT
                )
            cluster.roles.append(Role("+".join(roles), port, process, log))
        for role in cluster.roles:
            wait_ready(role)
        yield cluster
    finally:
        for role in cluster.roles:
            if role.process.poll() is None:
                role.process.send_signal(signal.SIGTERM)
        for role in cluster.roles:
            try:
                role.process.wait(30)
            except subprocess.TimeoutExpired:
                role.process.kill()
                role.process.wait()


def serve_argv(port: int, roles: Sequence[str]) -> list[str]:
    """The command line of one ``frolic serve`` process running ``roles``."""
    argv = [sys.executable, "-m", "frolic.cli", "serve", "--port", str(port)]
    for name in roles:
        argv += ["--role", name]
    return argv


def wait_ready(role: Role, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if role.process.poll() is not None:
            raise RuntimeError(f"{role.name} exited: {role.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{role.url}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{role.name} not ready: {role.log.read_text()[-3000:]}")
