"""CPU time per request, per process, during a benchmark phase.

Throughput on a 2-core machine that also runs the servers and the load client is a share
of the same two cores, so "requests per second" alone does not say where a request's cost
lies. Summing each process's CPU seconds (user + system) over a phase and dividing by the
requests served gives microseconds per request per process, a figure that moves much less
with the machine's other load than throughput does, and whose total bounds throughput:
two cores give at most 2e6 / total requests per second.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import psutil

CORES = psutil.cpu_count() or 1
Reading = Mapping[str, Mapping[int, float]]


def listening_process(port: int) -> psutil.Process | None:
    """The process that listens on ``port`` on this machine, if it can be seen."""
    for conn in psutil.net_connections("tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            return psutil.Process(conn.pid) if conn.pid else None
    return None


def port_of(url: str) -> int | None:
    """The port of a server URL (``redis://h:p/0``, ``postgresql://u@h:p/db``, ``h:p``)."""
    with contextlib.suppress(ValueError):
        return urlsplit(url if "://" in url else f"tcp://{url}").port
    return None


def _seconds(process: psutil.Process, with_children: bool) -> dict[int, float]:
    """CPU seconds of the process (and its children), by pid: a child that starts or ends
    between two readings must not count as the others' time going backwards."""
    members = [process]
    if with_children:
        # PostgreSQL serves each connection from a child of its postmaster.
        with contextlib.suppress(psutil.Error):
            members += process.children(recursive=True)
    seconds = {}
    for member in members:
        with contextlib.suppress(psutil.Error):
            times = member.cpu_times()
            seconds[member.pid] = times.user + times.system
    return seconds


@dataclass
class CpuMeter:
    """Named processes whose CPU time is read before and after a phase."""

    processes: dict[str, tuple[psutil.Process, bool]] = field(default_factory=dict)

    def add(self, name: str, pid_or_process: int | psutil.Process | None, *,
            with_children: bool = False) -> None:  # fmt: skip
        if pid_or_process is None:
            return
        process = (
            pid_or_process if isinstance(pid_or_process, psutil.Process)
            else psutil.Process(pid_or_process)
        )  # fmt: skip
        self.processes[name] = (process, with_children)

    def add_server(self, name: str, url: str | None, *, with_children: bool = False) -> None:
        """A server by its URL's port; one this machine does not run is left out."""
        port = port_of(url) if url else None
        if port is not None:
            self.add(name, listening_process(port), with_children=with_children)

    def read(self) -> dict[str, dict[int, float]]:
        return {name: _seconds(p, children) for name, (p, children) in self.processes.items()}


@dataclass
class CpuTally:
    """CPU seconds per process and requests served, summed over phases; only the
    processes named in ``counted`` (those that serve these requests) are counted."""

    counted: frozenset[str]
    seconds: dict[str, float] = field(default_factory=dict)
    requests: int = 0

    def add(self, before: Reading, after: Reading, requests: int, **extra: float) -> None:
        """One phase: the meter's readings around it, and other processes' own figures
        (the load client measures itself). A process that ended during the phase is
        missed; one that started during it counts whole."""
        spent = {
            name: sum(s - before.get(name, {}).get(pid, 0.0) for pid, s in pids.items())
            for name, pids in after.items()
        }
        for name, value in {**spent, **extra}.items():
            if name in self.counted:
                self.seconds[name] = self.seconds.get(name, 0.0) + value
        self.requests += requests

    def per_request_us(self) -> dict[str, float]:
        if not self.requests:
            return {}
        per = {name: round(s / self.requests * 1e6, 1) for name, s in self.seconds.items()}
        per["total"] = round(sum(self.seconds.values()) / self.requests * 1e6, 1)
        return per

    def ceiling_rps(self) -> float:
        """Requests per second if every core did nothing but this work."""
        total = sum(self.seconds.values())
        return round(CORES * self.requests / total, 1) if total else 0.0
