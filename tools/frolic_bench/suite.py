"""``frolic bench all``: every benchmark in sequence on one stack, summed up in one JSON line.

Each figure keeps the baseline it was measured against in the same run. ``smoke`` sizes run
each benchmark for a second or two: CI checks the keys, not the targets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from frolic.config import Settings
from frolic_bench import abuse, allocate, e2e, embedded, reveal

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Sizes:
    ingest: list[str]  # options of ``frolic bench ingest``
    plays: int
    budget: int
    rate: int
    seconds: float
    steps: tuple[int, ...]
    reveals: int
    spread: float
    embedded: tuple[int, float, int]  # plays/s, seconds, sockets of ``bench embedded``


FULL = Sizes(
    ingest=[], plays=200_000, budget=10_000, rate=5000, seconds=60.0,
    steps=(1000, 2000, 5000, 10_000, 15_000, 18_000), reveals=5000, spread=5.0,
    embedded=(1000, 20.0, 200),
)  # fmt: skip
SMOKE = Sizes(
    ingest=["--seconds", "1", "--rounds", "1"], plays=3000, budget=100, rate=500, seconds=1.0,
    steps=(20, 50), reveals=100, spread=1.0, embedded=(50, 1.0, 5),
)  # fmt: skip


def run(
    settings: Settings,
    state: Path,
    *,
    smoke: bool,
    progress: Progress,
    settle: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """Every step's figures; ``settle`` empties the servers before each step that leans on
    the broker and Redis, so none pays for what an earlier one left there."""
    sizes = SMOKE if smoke else FULL
    assert settings.redis_url
    result: dict[str, Any] = {"smoke": smoke}

    progress("ingest ...")
    result.update(ingest(settings, state, sizes.ingest))

    progress("abuse ...")
    abused = abuse.measure(settings, _dir(state, "abuse"), abuse.SMOKE if smoke else abuse.FULL,
                           progress)  # fmt: skip
    result.update({
        "abuse_limits_held": abused["limits_held"],
        "abuse_legit_p99_on_target": abused["legit_p99_on_target"],
        **{f"abuse_{name}_legit_p99_ms": abused[name]["legit_p99_ms"]
           for name in ("baseline", *abuse.SCENARIOS)},
    })  # fmt: skip

    progress(f"allocate: {sizes.plays:,} plays ...")
    decided = allocate.measure(settings.redis_url, plays=sizes.plays, budget=sizes.budget,
                               workers=allocate.WORKERS)  # fmt: skip
    result.update({
        "alloc_decisions_per_s": decided["decisions_per_s"],
        "alloc_redis_cpu_us_per_decision": decided.get("redis_cpu_us_per_decision"),
        "alloc_vs_seed_evalsha": decided["vs_seed_evalsha"],
        "alloc_baseline_evalsha_per_s": decided["baseline_evalsha_per_s"],
        "alloc_baseline": decided["baseline"], "alloc_workers": decided["workers"],
        "alloc_overspent": decided["overspent"],
        "alloc_mismatched_replays": decided["mismatched_replays"],
    })  # fmt: skip

    progress(f"e2e: {sizes.rate:,} plays/s for {sizes.seconds:g} s, allocators and a recorder ...")
    settle()
    result.update(e2e.measure(settings, _dir(state, "e2e"), rate=sizes.rate,
                              seconds=sizes.seconds))  # fmt: skip
    for allocators in (1, 2):
        # Allocation alone on the machine: the seed's < 100 ms is the allocators' figure.
        progress(f"e2e: {sizes.rate:,} plays/s through {allocators} allocator(s), no recorder ...")
        settle()
        alone = e2e.measure(settings, _dir(state, f"e2e-{allocators}"), rate=sizes.rate,
                            seconds=sizes.seconds, allocators=allocators, recorders=0)  # fmt: skip
        name = f"alloc_latency_{allocators}_allocator{'s' * (allocators > 1)}"
        result.update({
            f"{name}_p99_ms": alone["e2e_alloc_p99_ms"],
            f"{name}_p50_ms": alone["e2e_alloc_p50_ms"],
            f"{name}_broker_floor_p99_ms": alone["e2e_broker_floor_p99_ms"],
            f"{name}_stored": alone["e2e_stored"], f"{name}_plays": alone["e2e_plays"],
            f"{name}_overspent": alone["e2e_overspent"],
        })  # fmt: skip

    progress("broker floor, plain clients ...")
    settle()
    result.update(plain_floor(settings, rate=sizes.rate, seconds=sizes.seconds,
                              ours=result["e2e_broker_floor_p99_ms"]))  # fmt: skip

    rate, seconds, sockets = sizes.embedded
    progress(f"embedded: {rate:,} plays/s for {seconds:g} s with {sockets} sockets ...")
    settle()
    try:
        result.update(embedded.measure(settings, _dir(state, "embedded"), rate=rate,
                                       seconds=seconds, sockets=sockets))  # fmt: skip
    except Exception as exc:  # the figures so far are kept, with why this one is missing
        result["embedded_note"] = f"{type(exc).__name__}: {exc}"

    progress(f"reveal and ws: sockets {', '.join(map(str, sizes.steps))} ...")
    settle()
    held = reveal.ramp(settings, _dir(state, "ws"), steps=sizes.steps, reveals=sizes.reveals,
                       spread=sizes.spread, progress=progress)  # fmt: skip
    first = held["ws_steps"][0]
    result.update({
        "reveal_late_p50_ms": first["reveal_late_p50_ms"],
        "reveal_late_p99_ms": first["reveal_late_p99_ms"],
        "reveal_late_max_ms": first["reveal_late_max_ms"],
        "reveal_sockets": first["sockets"], "reveal_reveals": first["reveals"],
        "reveal_spread_s": sizes.spread, "reveal_early": first["early"],
        **{k: v for k, v in held.items() if k != "ws_steps"},
        "ws_steps": [
            {k: s[k] for k in ("sockets", "connected", "reveal_late_p99_ms")}
            for s in held["ws_steps"]
        ],
    })  # fmt: skip
    return result


PLAIN_FLOOR = Path(__file__).resolve().parents[2] / "benchmarks" / "broker_floor.py"


def plain_floor(settings: Settings, *, rate: int, seconds: float, ours: float) -> dict[str, Any]:
    """``benchmarks/broker_floor.py`` (plain confluent-kafka clients, nothing of Frolic's)
    on this run's broker, at the roles' settings; and whether it agrees with ``ours``
    within 2x. Null, with the reason, where the script is not there (an installed copy)."""
    if not PLAIN_FLOOR.exists():
        return {"plain_broker_floor_p99_ms": None, "plain_broker_floor_note": "no script"}
    argv = [sys.executable, str(PLAIN_FLOOR), "--bootstrap", settings.kafka_bootstrap or "",
            "--rate", str(rate), "--seconds", str(seconds),
            "--partitions", str(settings.kafka_partitions),
            "--linger-ms", str(settings.kafka_linger_ms),
            "--fetch-wait-ms", str(settings.kafka_fetch_wait_ms)]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 300)
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        return {"plain_broker_floor_p99_ms": None,
                "plain_broker_floor_note": out.stderr.strip()[-300:]}  # fmt: skip
    plain = json.loads(lines[-1])["floor_p99_ms"]
    return {"plain_broker_floor_p99_ms": plain,
            "broker_floors_agree_within_2x": max(plain, ours) <= 2 * min(plain, ours)}  # fmt: skip


INGEST_KEYS = ("ingest_rps", "ingest_p99_ms", "ingest_vs_fastapi_hello")


def ingest(settings: Settings, state: Path, options: list[str]) -> dict[str, Any]:
    """``frolic bench ingest`` in its own process, on this run's servers; its keys as null,
    with the reason, when it is not there or fails."""
    env = {**os.environ, "FROLIC_STATE_DIR": str(_dir(state, "ingest")),
           "FROLIC_DATABASE_URL": settings.database_url or "",
           "FROLIC_REDIS_URL": settings.redis_url or "",
           "FROLIC_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or ""}  # fmt: skip
    argv = [sys.executable, "-m", "frolic.cli", "bench", "ingest", *options, "--json"]
    try:
        out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        return _no_ingest("frolic bench ingest took more than 900 s")
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        return _no_ingest(f"frolic bench ingest failed: {out.stderr.strip()[-300:]}")
    measured: dict[str, Any] = json.loads(lines[-1])
    return {k if k.startswith("ingest_") else f"ingest_{k}": v for k, v in measured.items()}


def _no_ingest(why: str) -> dict[str, Any]:
    return {**dict.fromkeys(INGEST_KEYS), "ingest_note": why}


def _dir(state: Path, name: str) -> Path:
    path = state / name
    path.mkdir(parents=True, exist_ok=True)
    return path
