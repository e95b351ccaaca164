"""``frolic bench allocate``: K allocator processes deciding N plays of one game, against
the seed's one-call-per-play script measured on the same Redis in the same run."""

from __future__ import annotations

import multiprocessing
import re
import secrets
import shutil
import subprocess
import time
from typing import Any
from urllib.parse import urlsplit

from frolic.engine import keys, scripts
from frolic.engine.rules import GameRules
from frolic.redis_client import connect_sync
from frolic_bench import hammer
from frolic_bench.cpu import CpuMeter, CpuTally

REPLAY_RATIO = 0.1
BASELINE_CLIENTS = 50  # redis-benchmark's default
# Each worker waits for Redis between batches, so two on two cores leave both idle part of
# the time (0.77-0.80x against 1.05x with four, same code: docs/performance.md); the
# baseline keeps Redis busy with 50 connections. Issue 15's own outside check ran four.
WORKERS = 4


def measure(
    url: str, *, plays: int, budget: int, workers: int, batch: int = 256,
    store: hammer.StoreKind = "lua",
) -> dict[str, Any]:  # fmt: skip
    """Decide ``plays`` plays (a tenth of them replays) and compare with the baseline."""
    rules = GameRules(
        game_id=secrets.randbelow(10**9), start=0.0, end=3600.0, budget=budget, brands=(1, 2)
    )
    meter = CpuMeter()
    meter.add_server("redis", url)
    memory_before = used_memory(url)
    before = meter.read()
    run = hammer.run(
        hammer.Hammer(
            url, rules, {1: budget // 2, 2: budget - budget // 2},
            plays=round(plays * (1 - REPLAY_RATIO)), workers=workers, batch=batch,
            replay_ratio=REPLAY_RATIO, processed_ttl=600, store=store,
        )
    )  # fmt: skip
    after = meter.read()
    # What Redis keeps of each decided play (its processed entry, for idempotency) until
    # the processed hash expires: with the CPU, what sizes a shard (docs/capacity.md).
    held = (used_memory(url) - memory_before) / max(1, run.decisions - run.replays)
    rate = run.decisions / run.seconds
    # Redis' own CPU per decision: what one game's shard spends on it (docs/capacity.md).
    # Read around the whole run, the game's load and read-back included (a few calls).
    redis_us = CpuTally(frozenset({"redis"}))
    redis_us.add(before, after, run.decisions)
    baseline, tool = seed_evalsha_rate(url, calls=max(plays, 100_000), workers=workers)
    return {
        "decisions_per_s": round(rate),
        "redis_cpu_us_per_decision": redis_us.per_request_us().get("redis"),
        "redis_bytes_per_decided_play": round(held),
        "decisions": run.decisions,
        "seconds": round(run.seconds, 3),
        "workers": workers,
        "batch": batch,
        "store": store,
        "awarded": run.awarded,
        "budget": budget,
        "overspent": max(0, run.awarded - budget),
        "mismatched_replays": run.mismatched_replays,
        "baseline_evalsha_per_s": round(baseline),
        "baseline": tool,
        "vs_seed_evalsha": round(rate / baseline, 3),
    }


def used_memory(url: str) -> int:
    """Bytes Redis holds, summed over a Cluster's nodes."""
    client = connect_sync(url)
    try:
        info: dict[str, Any] = client.info("memory")
    finally:
        client.close()
    if "used_memory" in info:
        return int(info["used_memory"])
    return sum(int(node["used_memory"]) for node in info.values())


def seed_evalsha_rate(url: str, *, calls: int, workers: int) -> tuple[float, str]:
    """Calls per second of the seed's decrement script, one EVALSHA per call, unpipelined.

    redis-benchmark when it is installed (Debian's redis-tools) and the URL is one server;
    otherwise ``workers`` Python processes, which is the slower client of the two and so
    makes the ratio look better than it is: the output says which baseline was used.
    """
    key = keys.budget(secrets.randbelow(10**9), 1)
    client = connect_sync(url)
    try:
        client.set(key, calls * 2)
        sha = client.script_load(scripts.SEED_DECREMENT)
        tool = shutil.which("redis-benchmark")
        if tool and not url.startswith(("redis+cluster", "rediss")):
            return _redis_benchmark(tool, url, sha, key, calls), "redis-benchmark"
        return _python_clients(url, key, calls, workers), "python-evalsha"
    finally:
        client.delete(key)
        client.close()


def _redis_benchmark(tool: str, url: str, sha: str, key: str, calls: int) -> float:
    parts = urlsplit(url)
    argv = [
        tool, "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 6379),
        "-c", str(BASELINE_CLIENTS), "-n", str(calls), "-q", "--csv",
        "EVALSHA", sha, "1", key, "1",
    ]  # fmt: skip
    if parts.password:
        argv[1:1] = ["-a", parts.password]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=600).stdout
    rates = re.findall(r'"([0-9.]+)"', out.splitlines()[-1])
    return float(rates[0])


def _python_clients(url: str, key: str, calls: int, workers: int) -> float:
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[tuple[float, float]] = context.Queue()
    share = calls // workers
    processes = [context.Process(target=_evalsha_loop, args=(url, key, share, results))
                 for _ in range(workers)]  # fmt: skip
    for process in processes:
        process.start()
    spans = [results.get(timeout=600) for _ in processes]
    for process in processes:
        process.join()
    return share * workers / (max(end for _, end in spans) - min(start for start, _ in spans))


def _evalsha_loop(
    url: str, key: str, calls: int, results: multiprocessing.Queue[tuple[float, float]]
) -> None:
    client = connect_sync(url)
    decrement = client.register_script(scripts.SEED_DECREMENT)
    decrement(keys=[key], args=[1])
    start = time.monotonic()
    for _ in range(calls):
        decrement(keys=[key], args=[1])
    results.put((start, time.monotonic()))
    client.close()
