"""The role processes of a chaos run, each restarted when it dies, as a production process
manager (systemd's ``Restart=always``, a Kubernetes Deployment) would restart it.

A fault kills a process with ``Member.kill()``; the supervisor notices within a tenth of a
second, waits ``restart_delay`` (a process manager's back-off), starts the same command on
the same port with the same environment, and sets ``ready`` once it answers ``/readyz``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from frolic.config import Settings
from frolic.stack.process import free_port
from frolic_bench.cluster import Role, environment, serve_argv, wait_ready

Environment = Callable[[int, Sequence[str]], dict[str, str]]


@dataclass
class Member:
    """One supervised ``frolic serve`` process: its roles, and the process it is now."""

    index: int
    roles: tuple[str, ...]
    env: dict[str, str]
    process: Role
    kills: int = 0
    restarts: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def name(self) -> str:
        return self.process.name

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def pid(self) -> int:
        return self.process.process.pid

    def kill(self) -> None:
        """SIGKILL, no goodbye: whatever it held uncommitted is redelivered to others."""
        self.ready.clear()
        self.kills += 1
        self.process.process.send_signal(signal.SIGKILL)


class Supervisor:
    def __init__(
        self, settings: Settings, state: Path, layout: Sequence[Sequence[str]], *,
        extra: Environment | None = None, restart_delay: float = 1.0,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.state = state
        self.layout = [tuple(roles) for roles in layout]
        self.extra = extra or (lambda index, roles: {})
        self.restart_delay = restart_delay
        self.members: list[Member] = []
        self._watch: asyncio.Task[None] | None = None
        self._restarting: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def of(self, role: str) -> list[Member]:
        """The processes running ``role`` (alone or with others)."""
        return [m for m in self.members if role in m.roles]

    async def __aenter__(self) -> Supervisor:
        self.state.mkdir(parents=True, exist_ok=True)
        base = environment(self.settings, self.state)
        try:
            for i, roles in enumerate(self.layout):
                env = {**base, **self.extra(i, roles)}
                self.members.append(Member(i, roles, env, self._spawn(i, roles, env, free_port())))
            await asyncio.gather(*(self._until_ready(m) for m in self.members))
        except BaseException:
            self._stop_all()
            raise
        self._watch = asyncio.create_task(self._supervise())
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.to_thread(self._stop_all)

    async def all_ready(self) -> None:
        await asyncio.gather(*(m.ready.wait() for m in self.members))

    def _spawn(self, index: int, roles: Sequence[str], env: dict[str, str], port: int) -> Role:
        log = self.state / f"{index}-{'-'.join(roles)}.log"
        with open(log, "ab") as out:
            process = subprocess.Popen(
                serve_argv(port, roles), env=env, stdout=out, stderr=subprocess.STDOUT
            )
        return Role("+".join(roles), port, process, log)

    async def _until_ready(self, member: Member) -> None:
        await asyncio.to_thread(wait_ready, member.process)
        member.ready.set()

    async def _supervise(self) -> None:
        while True:
            for member in self.members:
                dead = member.process.process.poll() is not None
                if dead and member.index not in self._restarting:
                    self._restarting.add(member.index)
                    task = asyncio.create_task(self._restart(member))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            await asyncio.sleep(0.1)

    async def _restart(self, member: Member) -> None:
        try:
            member.ready.clear()
            await asyncio.sleep(self.restart_delay)
            member.process = self._spawn(member.index, member.roles, member.env,
                                         member.process.port)  # fmt: skip
            member.restarts += 1
            await self._until_ready(member)
        finally:
            self._restarting.discard(member.index)

    def _stop_all(self) -> None:
        for member in self.members:
            if member.process.process.poll() is None:
                member.process.process.send_signal(signal.SIGTERM)
        for member in self.members:
            try:
                member.process.process.wait(30)
            except subprocess.TimeoutExpired:
                member.process.process.kill()
                member.process.process.wait()
