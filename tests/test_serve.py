"""`frolic serve` on its embedded default: ready within 60 s, and nothing left after SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from frolic.stack.process import free_port


def test_serve_is_ready_then_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FROLIC_")}
    env["FROLIC_STATE_DIR"] = str(tmp_path / "state")
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "frolic.cli", "serve", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        started = time.monotonic()
        ready = None
        while time.monotonic() - started < 60 and proc.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        assert ready is not None, (tmp_path / "serve.log").read_text()
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"postgres": "ok", "redis": "ok", "broker": "ok"}
        # An idle connection outlives uvicorn's 5 s default: a client (a proxy) that sends
        # on it after a pause is answered, not cut off.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            answers = conn.makefile("rb")
            for pause in (0, 6):
                time.sleep(pause)
                conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: frolic\r\n\r\n")
                assert answers.readline().startswith(b"HTTP/1.1 200"), pause
                length = 0
                while (line := answers.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                assert len(answers.read(length)) == length > 0

        servers = psutil.Process(proc.pid).children(recursive=True)
        assert len(servers) >= 3
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        _, alive = psutil.wait_procs(servers, timeout=10)
        assert alive == [], [p.pid for p in alive]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
