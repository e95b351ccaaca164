"""``frolic serve``: the embedded stack (if needed), migrations, topics, then the roles.

Shutdown order matters: the app drains first while its servers are still up, then the
embedded servers stop. SIGTERM and Ctrl-C both take that path.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType

import uvicorn

from frolic import topics
from frolic.app import create_app
from frolic.config import Role, Settings
from frolic.db import migrate
from frolic.monitoring.logs import configure_logging
from frolic.reveal.upgrade import HttpProtocol
from frolic.stack import Stack

log = logging.getLogger(__name__)


class Stopped(SystemExit):
    """Raised by the SIGTERM handler so that every ``with`` block unwinds."""


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise Stopped(0)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def prepare(settings: Settings) -> None:
    """Bring the schema to head and create the topics: safe to run from many processes."""
    assert settings.database_url
    migrate.upgrade(settings.database_url)
    topics.ensure_topics(topics.admin_client(settings), settings)


def serve(settings: Settings, roles: Sequence[Role]) -> None:
    configure_logging(settings.log_level, settings.log_format, role=",".join(roles), force=True)
    with stop_on_sigterm(), Stack(settings) as endpoints:
        settings = endpoints.apply(settings)
        prepare(settings)
        log.info("serving roles %s on http://%s:%d", ",".join(roles), settings.host, settings.port)
        config = uvicorn.Config(
            create_app(settings, roles),
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            log_config=None,  # uvicorn's loggers go through ours (configure_logging)
            http=HttpProtocol,  # frees each socket's upgrade by reference counting
            timeout_graceful_shutdown=15,
            # uvicorn's 5 s closed connections between a player's plays, and raced clients
            # that sent on one as it closed (a read error for the client; a 502 at a proxy).
            timeout_keep_alive=settings.keep_alive_seconds,
            # The access log would print query strings, and /ws?token= carries a secret.
            access_log=False,
            # A frame is buffered whole before /ws can refuse it: cap what a client can send.
            ws_max_size=65_536,
            # Results are ~150-byte JSON frames: compression saves nothing on them, and each
            # socket kept zlib state (89 -> 48 KB of memory a socket with it off, measured).
            ws_per_message_deflate=False,
            # uvicorn would trust X-Forwarded-For from 127.0.0.1: then anyone behind a local
            # proxy that passes the header on could pick the address the IP limit counts.
            proxy_headers=bool(settings.forwarded_allow_ips),
            forwarded_allow_ips=settings.forwarded_allow_ips or None,
        )
        # uvicorn takes over SIGTERM while it runs, drains, then hands the signal back.
        uvicorn.Server(config).run()
