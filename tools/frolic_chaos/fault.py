"""What a fault scenario is, and what it is given while the load runs.

A fault is one module under ``tools/frolic_chaos/faults/`` defining ``FAULT``, an instance of a
``Fault`` subclass. The runner starts its own stack, the role processes (under a supervisor
that restarts whichever dies, as a production process manager would), two live games and a
steady load of players; it calls ``inject(ctx)`` once the load is running, and when
``inject`` returns, it lets the load finish, drains, and runs the history checker.

    class Freeze(Fault):
        name = "freeze"
        summary = "SIGSTOP a recorder for 5 s"

        async def inject(self, ctx: Context) -> None:
            await ctx.load.until(0.3)              # 30% of the load's time has passed
            recorder = ctx.cluster.of("recorder")[0]
            ...
            ctx.evidence["frozen"] = 1

        def missing(self, evidence: Evidence) -> list[str]:
            return [] if evidence.get("frozen") else ["no recorder was frozen"]

``missing`` says what in the evidence shows the fault did not really happen: a run whose
fault did not land must not count as a run where the invariants held under it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from frolic.config import Settings
from frolic_chaos.history import Sent

if TYPE_CHECKING:
    from frolic.stack import Stack
    from frolic.stack.launcher import Server
    from frolic_chaos.supervisor import Supervisor

Evidence = dict[str, Any]
Progress = Callable[[str], None]


@dataclass
class LoadProgress:
    """The load as it runs: what has been sent and answered, and how far along it is."""

    seconds: float  # how long the load sends
    rate: float  # plays a second
    sent: Sent = field(default_factory=Sent)
    started: float = field(default_factory=time.monotonic)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    # Set by the load: send this many plays at once, on top of the steady rate (a fault
    # that wants its victims busy, or a spike).
    burst: Callable[[int], None] = lambda n: None
    # Set by the load: send this many already answered plays again, same key; how many.
    again: Callable[[int], int] = lambda n: 0

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    async def until(self, share: float) -> None:
        """Return once ``share`` of the load's time has passed (at once past it)."""
        await asyncio.sleep(max(0.0, share * self.seconds - self.elapsed))

    def left(self) -> float:
        """Seconds of load still to come."""
        return max(0.0, self.seconds - self.elapsed)


@dataclass
class Context:
    settings: Settings  # the run's servers and its own topics
    stack: Stack  # stop_server / start_server: the run's own servers
    cluster: Supervisor  # the role processes: of(name), kill, wait until back
    load: LoadProgress
    games: Sequence[int]
    state: Path  # a folder of the run's own (logs, shims)
    progress: Progress
    evidence: Evidence = field(default_factory=dict)


class Fault:
    name: str
    summary: str  # one line, for the table and ``--help``
    # Settings of the run this fault needs (``redrive_after_seconds``, ...), over the plan's.
    overrides: Mapping[str, Any] = MappingProxyType({})
    # Settings of the servers the run starts for it (a Redis Cluster: ``stack_redis_cluster``).
    stack: Mapping[str, Any] = MappingProxyType({})
    # It stops and starts the run's one Redis server, which a Cluster's run does not have.
    restarts_redis: bool = False

    def servers(self, settings: Settings) -> Settings:
        """``settings`` for the embedded servers this fault's run needs."""
        return settings.model_copy(update=dict(self.stack))

    def environment(self, index: int, roles: Sequence[str]) -> dict[str, str]:
        """Extra environment of the ``index``-th role process (its roles), at every
        (re)start: how a fault changes a process from its first instant."""
        return {}

    async def inject(self, ctx: Context) -> None:
        raise NotImplementedError

    async def after(self, ctx: Context) -> None:
        """Once every accepted play is final, before the role processes stop: gather the
        evidence the run left (topics, the ledger, metrics) into ``ctx.evidence``."""

    def missing(self, evidence: Evidence) -> list[str]:
        """Why the evidence shows the fault did not happen as meant; empty when it did."""
        return []


class Together(Fault):
    """Several faults in one run, each injected on its own schedule, at the same time: a
    broker restart while allocators and recorders are being killed, Redis restarting under
    duplicate deliveries. Each part keeps its evidence under its own name, and says by
    itself whether it happened; where parts want a setting of the run differently, the
    last one named wins."""

    def __init__(self, parts: Sequence[Fault]) -> None:
        if len(parts) < 2 or len({p.name for p in parts}) < len(parts):
            raise ValueError("faults together: two or more different ones")
        self.parts = tuple(parts)
        self.name = "+".join(p.name for p in parts)
        self.summary = "; ".join(p.summary for p in parts)
        self.overrides = {k: v for p in parts for k, v in p.overrides.items()}
        self.stack = {k: v for p in parts for k, v in p.stack.items()}
        if self.stack.get("stack_redis_cluster") and any(p.restarts_redis for p in parts):
            raise ValueError(f"faults {self.name}: a Redis Cluster's run has no one Redis "
                             "server to restart")  # fmt: skip
        self._contexts: dict[str, Context] = {}

    def environment(self, index: int, roles: Sequence[str]) -> dict[str, str]:
        merged: dict[str, str] = {}
        for part in self.parts:
            for key, value in part.environment(index, roles).items():
                if key in merged and merged[key] != value:
                    raise ValueError(f"faults {self.name} both set {key} of process {index}")
                merged[key] = value
        return merged

    async def inject(self, ctx: Context) -> None:
        self._contexts = {p.name: dataclasses.replace(ctx, evidence={}) for p in self.parts}
        for name, own in self._contexts.items():
            ctx.evidence[name] = own.evidence
        await asyncio.gather(*(p.inject(self._contexts[p.name]) for p in self.parts))

    async def after(self, ctx: Context) -> None:
        for part in self.parts:
            await part.after(self._contexts[part.name])

    def missing(self, evidence: Evidence) -> list[str]:
        return [f"{p.name}: {why}" for p in self.parts
                for why in p.missing(evidence.get(p.name, {}))]  # fmt: skip


async def restart_server(
    ctx: Context, server: Server, *, at: Sequence[float], kills: Sequence[bool],
    burst: int, down_seconds: float, wipe: bool = False,
    before: Callable[[int], None] = lambda i: None,
    back: Callable[[int], Awaitable[object]] | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Take ``server`` down and bring it back at each share of the load's time in ``at``:
    a spike of ``burst`` plays first, so work is in flight on every path, then a stop
    (SIGKILL where ``kills`` says so), ``down_seconds`` away, and a start on the same port
    (``wipe``: Redis empty). ``before(i)`` runs just before the i-th stop, ``back(i)`` is
    awaited once it is started again. The restarts, also kept in the evidence."""
    restarts: list[dict[str, Any]] = []
    ctx.evidence["restarts"] = restarts
    for i, share in enumerate(at):
        await ctx.load.until(share)
        ctx.load.burst(burst)
        await asyncio.sleep(0.2)
        before(i)
        kill = kills[i % len(kills)]
        started = time.monotonic()
        await asyncio.to_thread(ctx.stack.stop_server, server, kill=kill)
        await asyncio.sleep(down_seconds)
        await asyncio.to_thread(ctx.stack.start_server, server, wipe=wipe)
        down = time.monotonic() - started
        restarts.append({"at": time.time(), "killed": kill, "down_s": round(down, 2)})
        ctx.progress(f"{server} {'killed' if kill else 'stopped'} and back after {down:.1f} s")
        if back is not None:
            await back(i)
    return restarts
