"""One way to run a step every few seconds until stopped: the scheduler's sweep, the
re-driver, the topic keeper, the Redis warden and the reveal's overdue poll.

A step that fails is tried again at the next period; it never ends the loop. A failure that
only says a server is away (``away`` names it, e.g. "PostgreSQL unavailable") is logged in
one line at ``level``, since an outage would otherwise print a traceback every period; any
other failure is logged with its traceback. Lines go to the caller's logger. A step that
should not press on a struggling server (``back_off_to``) waits twice as long after each
failure, up to that many seconds, and its period again after a success."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable


def _never(exc: Exception) -> str | None:
    return None


async def every(
    seconds: float, step: Callable[[], Awaitable[object]], stop: asyncio.Event, *, name: str,
    log: logging.Logger, away: Callable[[Exception], str | None] = _never,
    level: int = logging.WARNING, back_off_to: float | None = None,
) -> None:  # fmt: skip
    """Run ``step`` now and then every ``seconds`` until ``stop`` is set."""
    wait = seconds
    while not stop.is_set():
        try:
            await step()
            wait = seconds
        except Exception as exc:
            if (server := away(exc)) is not None:
                log.log(level, "%s: %s (%s); trying again", name, server, exc)
            else:
                log.exception("%s failed; trying again", name)
            if back_off_to is not None:
                wait = min(2 * wait, back_off_to)
        try:
            await asyncio.wait_for(stop.wait(), wait)
        except TimeoutError:
            pass
