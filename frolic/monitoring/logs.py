"""Log lines for people or for machines, one formatter each, set up once per process.

``FROLIC_LOG_FORMAT=auto`` (the default) writes text when stderr is a terminal, where a
person reads it, and JSON otherwise: a process under a supervisor (systemd, Kubernetes, a
bench cluster) writes to a pipe or a file that a log shipper parses, and there a line that
is one JSON object keeps its fields (and a multi-line traceback stays one record).

A JSON line holds ``ts`` (UTC, ISO 8601, ms), ``level``, ``logger``, ``msg``, ``role`` (the
roles the process runs), ``pid``, any ``extra={...}`` fields of the call, and ``exc`` for
an exception. uvicorn's loggers are routed through the same handler.
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

import orjson

LogFormat = Literal["auto", "text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access")
# What every LogRecord carries; anything else on a record came from ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName",
}  # fmt: skip


# A player's JWT rides in /ws?token= (browsers cannot set a WebSocket's headers), and
# uvicorn logs each WebSocket's path as it accepts it; a bearer token may reach a message too.
_SECRET = re.compile(r"((?:[?&]token=)|(?:Bearer\s+))[^\s&\"']+", re.IGNORECASE)
# At DEBUG the websockets library logs each frame it sends ("> TEXT '<payload>' [n bytes]",
# the middle elided): a reveal's payload is a coupon code, which only its winner may see.
_FRAME = re.compile(r"^([<>] (?:TEXT|BINARY) ).*( \[\d+ bytes\])$", re.DOTALL)


_TRACEBACKS = logging.Formatter()


def redact(text: str) -> str:
    return _FRAME.sub(r"\1[redacted]\2", _SECRET.sub(r"\1[redacted]", text))


class RedactSecrets(logging.Filter):
    """Blanks tokens and frame payloads out of every line and its traceback, whoever logs
    it, before any formatter sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info:
            # An exception's message may quote a request; formatters reuse exc_text.
            text = record.exc_text or _TRACEBACKS.formatException(record.exc_info)
            record.exc_text = redact(text)
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, role: str) -> None:
        super().__init__()
        self.role = role

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "role": self.role,
            "pid": record.process,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in line:
                line[key] = value
        if record.exc_info:
            line["exc"] = record.exc_text or self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(line, default=repr, option=orjson.OPT_NON_STR_KEYS).decode()


_NOT_UTF8 = "Invalid UTF-8 sequence received from client."


class ClientFaults(logging.Filter):
    """uvicorn logs a WebSocket text frame that is not UTF-8 at ERROR, with a traceback,
    then closes the socket with 1007. The fault is the client's, and any client can repeat
    it at will: it becomes a WARNING without the traceback, so that ERROR stays the
    server's own faults."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == _NOT_UTF8 and record.exc_info:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True


def quiet_client_faults() -> None:
    """Put ``ClientFaults`` on uvicorn's error logger, once per process."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, ClientFaults) for f in logger.filters):
        logger.addFilter(ClientFaults())


def configure_logging(
    level: str, log_format: LogFormat, *, role: str = "cli", stream: TextIO | None = None,
    force: bool = False,
) -> None:  # fmt: skip
    """Send every log line, uvicorn's included, to ``stream`` (stderr) in ``log_format``.

    Like ``logging.basicConfig``, it leaves a root logger that has handlers alone (a test
    runner's, say) unless ``force``: ``frolic serve`` forces, as its process's entry point.
    """
    root = logging.getLogger()
    if root.handlers and not force:
        return
    out = stream or sys.stderr
    if log_format == "auto":
        log_format = "text" if out.isatty() else "json"
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactSecrets())
    handler.setFormatter(
        JsonFormatter(role) if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _UVICORN:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
