"""CPU per request: per-pid deltas, only the serving processes counted."""

from __future__ import annotations

import subprocess
import sys

import pytest

from frolic.stack import Endpoints
from frolic_bench.cpu import CORES, CpuMeter, CpuTally, listening_process, port_of


def test_a_phase_counts_each_pids_own_time_and_only_the_serving_processes() -> None:
    tally = CpuTally(frozenset({"api", "postgres", "client"}))
    before = {"api": {1: 10.0}, "postgres": {2: 5.0, 3: 1.0}, "hello": {4: 3.0}}
    # Backend 3 ended (its time is missed, not subtracted); backend 5 started in the phase.
    after = {"api": {1: 10.4}, "postgres": {2: 5.1, 5: 0.2}, "hello": {4: 9.0}}
    tally.add(before, after, 1000, client=0.1)
    assert tally.per_request_us() == {"api": 400.0, "postgres": 300.0, "client": 100.0,
                                      "total": 800.0}  # fmt: skip
    assert tally.ceiling_rps() == pytest.approx(CORES * 1000 / 0.8, rel=1e-3)


def test_a_busy_process_is_measured() -> None:
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        meter = CpuMeter()
        meter.add("busy", busy.pid)
        before = meter.read()
        subprocess.run([sys.executable, "-c", "import time; time.sleep(0.5)"], check=True)
        tally = CpuTally(frozenset({"busy"}))
        tally.add(before, meter.read(), 1)
        assert tally.seconds["busy"] > 0.1
    finally:
        busy.kill()
        busy.wait()


def test_servers_are_found_by_their_urls_port(endpoints: Endpoints) -> None:
    assert port_of("redis://127.0.0.1:6390/0") == 6390
    assert port_of("postgresql://frolic@127.0.0.1:5433/frolic") == 5433
    assert port_of("127.0.0.1:9092") == 9092
    port = port_of(endpoints.redis_url)
    assert port is not None
    found = listening_process(port)
    assert found is not None
    assert "redis" in found.name()
