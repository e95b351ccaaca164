"""One server as a child process that cannot outlive its parent.

Three layers keep a server from being orphaned:
  1. ``Stack.__exit__`` stops each server in order (normal exit, Ctrl-C, SIGTERM).
  2. ``PR_SET_PDEATHSIG``: the kernel signals the server when the parent dies, even by SIGKILL.
  3. The server runs in its own session, so a terminal's Ctrl-C reaches only Frolic, which
     drains its work while the servers are still up, then stops them.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from frolic.errors import StackError

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


@dataclass
class ChildServer:
    """A running server: its process, where it logs, and how it likes to be stopped."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    stop_signal: signal.Signals = signal.SIGTERM
    stop_grace: float = 15.0
    started_at: float = field(default_factory=time.monotonic)

    @classmethod
    def spawn(
        cls,
        name: str,
        argv: Sequence[str | os.PathLike[str]],
        *,
        log_path: Path,
        stop_signal: signal.Signals = signal.SIGTERM,
        stop_grace: float = 15.0,
        user: str | None = None,
    ) -> ChildServer:
        """Start ``argv``. Call from a thread that lives as long as the server.

        The kernel sends the death signal when the *thread* that forked the child exits,
        so a server spawned from a short-lived worker thread would be killed with it.
        """
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as out:
            try:
                process = subprocess.Popen(
                    [os.fspath(a) for a in argv],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=_die_with_parent(stop_signal),
                    **run_as(user),
                )
            except OSError as exc:
                raise StackError(f"embedded {name}: cannot run {argv[0]}: {exc}") from exc
        log.info("started %s (pid %d), log %s", name, process.pid, log_path)
        return cls(name, process, log_path, stop_signal, stop_grace)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self, probe: Callable[[], bool], timeout: float) -> None:
        """Poll ``probe`` until it answers True; fail clearly if the server dies or stalls."""
        deadline = time.monotonic() + timeout
        delay = 0.02
        while True:
            if not self.alive():
                raise StackError(
                    f"embedded {self.name} exited with code {self.process.returncode} "
                    f"before it was ready; its log ({self.log_path}) ends with:\n"
                    f"{tail(self.log_path)}"
                )
            with contextlib.suppress(Exception):
                if probe():
                    log.info("%s ready in %.2fs", self.name, time.monotonic() - self.started_at)
                    return
            if time.monotonic() > deadline:
                self.stop()
                raise StackError(
                    f"embedded {self.name} was not ready within {timeout:.0f}s "
                    f"(raise FROLIC_STACK_START_TIMEOUT); its log ({self.log_path}) ends "
                    f"with:\n{tail(self.log_path)}"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would; nothing gets to flush."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        log.info("killed %s", self.name)

    def stop(self) -> None:
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(self.stop_signal)
        try:
            self.process.wait(self.stop_grace)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0fs; killing it", self.name, self.stop_grace)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        log.info("stopped %s", self.name)


def _die_with_parent(sig: signal.Signals) -> Callable[[], None]:
    def preexec() -> None:
        # Runs in the child after any user switch, so the setting survives it.
        _libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)

    return preexec


def unprivileged_user(name: str) -> pwd.struct_passwd:
    """The system user a server runs as when Frolic runs as root (PostgreSQL refuses root)."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    try:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise StackError(
            f"running as root, the embedded PostgreSQL needs an unprivileged user {name!r} "
            f"and `useradd` failed ({exc}); create the user, or run Frolic as a normal user"
        ) from exc
    return pwd.getpwnam(name)


def given_binary(path: Path, server: str, setting: str, own_server_setting: str) -> Path:
    """A binary the operator named in a setting: it must exist, or we say which setting."""
    if not path.is_file():
        raise StackError(
            f"embedded {server}: {setting}={path} is not a file; point it at the binary, or "
            f"set {own_server_setting} to use a server of your own"
        )
    return path


def run_as(user: str | None) -> dict[str, Any]:
    """``subprocess`` arguments that drop to ``user``: uid, gid and groups alike.

    Dropping only the uid would keep root's group, and root's 0700 folders would then be
    judged by their (empty) group bits.
    """
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def grant_traversal(path: Path) -> None:
    """Let another user reach ``path``: add o+x to every folder above it."""
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if mode & 0o001 == 0:
            parent.chmod(mode | 0o001)
