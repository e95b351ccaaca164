"""Structured logs: the JSON formatter's fields, and a real ``frolic serve`` whose every
line, uvicorn's included, is one JSON object when its output is not a terminal."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect

from frolic.auth.tokens import mint_player_token
from frolic.config import Settings
from frolic.monitoring.logs import JsonFormatter, configure_logging
from frolic.stack.process import free_port


def test_a_json_line_has_the_fields_extras_and_the_exception() -> None:
    record = logging.LogRecord(
        "frolic.allocator", logging.ERROR, __file__, 1, "%d plays", (3,), None
    )
    record.game = 7  # as logging does with extra={"game": 7}
    try:
        raise ValueError("boom")
    except ValueError:
        record.exc_info = sys.exc_info()
    line = orjson.loads(JsonFormatter("allocator").format(record))
    assert line["level"] == "ERROR"
    assert line["logger"] == "frolic.allocator"
    assert line["msg"] == "3 plays"
    assert line["role"] == "allocator"
    assert line["pid"] == os.getpid()
    assert line["ts"].endswith("+00:00")
    assert line["game"] == 7
    assert "ValueError: boom" in line["exc"]
    assert "args" not in line  # LogRecord's own attributes stay out
    assert "levelno" not in line


def test_auto_is_text_on_a_terminal_and_json_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    level = root.level
    try:
        pipe = io.StringIO()
        configure_logging("INFO", "auto", role="api", stream=pipe)
        logging.getLogger("uvicorn.error").warning("hello %s", "there")
        assert orjson.loads(pipe.getvalue())["msg"] == "hello there"

        class Terminal(io.StringIO):
            def isatty(self) -> bool:
                return True

        terminal = Terminal()
        configure_logging("INFO", "auto", stream=terminal, force=True)
        logging.getLogger("frolic").warning("hello")
        assert terminal.getvalue().rstrip().endswith("WARNING frolic: hello")
    finally:
        root.setLevel(level)


def test_frolic_serve_logs_json_lines(settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FROLIC_")}
    assert settings.database_url
    assert settings.redis_url
    assert settings.kafka_bootstrap
    env |= {
        "FROLIC_STATE_DIR": str(tmp_path), "FROLIC_DATABASE_URL": settings.database_url,
        "FROLIC_REDIS_URL": settings.redis_url, "FROLIC_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
    }  # fmt: skip
    path = tmp_path / "serve.log"
    with path.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "frolic.cli", "serve", "--port", str(port), "--role", "api",
             "--role", "ws"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, path.read_text()
                assert time.monotonic() < deadline, path.read_text()
                try:
                    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            assert metrics.status_code == 200
            assert "frolic_monitoring_source_up" in metrics.text  # an api process reads servers
            token = mint_player_token(settings, "logged-player")
            asyncio.run(_open_socket(f"ws://127.0.0.1:{port}/ws?token={token}"))
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    lines = [orjson.loads(line) for line in path.read_text().splitlines() if line.strip()]
    assert lines
    for line in lines:
        assert {"ts", "level", "logger", "msg", "role", "pid"} <= line.keys()
        assert line["role"] == "api,ws"
        assert token not in orjson.dumps(line).decode()
        assert line["pid"] == proc.pid
    loggers = {line["logger"] for line in lines}
    assert "frolic.serve" in loggers
    assert "uvicorn.error" in loggers  # uvicorn's own lines go through the same formatter
    # uvicorn logged the socket's path, query and all, with the token blanked out.
    assert any("/ws?token=[redacted]" in line["msg"] for line in lines)


async def _open_socket(url: str) -> None:
    async with connect(url):
        pass


def test_tokens_are_blanked_out_of_any_line() -> None:
    out = io.StringIO()
    root = logging.getLogger()
    level = root.level
    saved = root.handlers[:]
    try:
        configure_logging("INFO", "json", stream=out, force=True)
        # warning: a server run earlier in the session may have left uvicorn at that level
        logging.getLogger("uvicorn.error").warning('%s - "WebSocket %s" [accepted]', "127.0.0.1:1",
                                                "/ws?game=1&token=eyJ.secret.sig")  # fmt: skip
        logging.getLogger("frolic").warning("upstream said Authorization: Bearer abc.def.ghi")
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
        for handler in saved:
            root.addHandler(handler)
        root.setLevel(level)
    text = out.getvalue()
    assert "secret" not in text
    assert "abc.def" not in text
    assert "/ws?game=1&token=[redacted]" in text
    assert "Bearer [redacted]" in text
