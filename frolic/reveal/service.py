"""The reveal role of one process: its hub of sockets and the listener that feeds it.

Wire it into an app's lifespan, after the resources are open::

    app.state.reveal = await start_reveal(res)
    ...
    await stop_reveal(app.state.reveal)
"""

from __future__ import annotations

import asyncio
import gc
import logging
import resource
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from frolic.config import Settings
from frolic.resources import Resources
from frolic.reveal.freezer import Freezer
from frolic.reveal.hub import Hub
from frolic.reveal.listener import FinalListener

log = logging.getLogger(__name__)


@dataclass
class Reveal:
    settings: Settings
    db: AsyncEngine
    hub: Hub
    listener: FinalListener

    @property
    def ready_timeout(self) -> float:
        """How long a new socket waits for the listener before reading its history anyway:
        a group join takes on the order of the session timeout."""
        return 2 * self.settings.kafka_session_timeout_ms / 1000


async def start_reveal(resources: Resources) -> Reveal:
    """Start listening to the final topic; sockets may connect at once (see ``ready``)."""
    open_files_up_to_the_hard_limit()
    hub = Hub(Freezer())
    listener = FinalListener(resources.settings, hub.schedule_many, asyncio.get_running_loop())
    listener.start()
    # Reveals are timed to the millisecond; a full collection over everything loaded at
    # start would stall them. Objects alive now are never garbage: keep them out of it.
    gc.collect()
    gc.freeze()
    return Reveal(resources.settings, resources.db, hub, listener)


def open_files_up_to_the_hard_limit() -> None:
    """Every socket is a file descriptor: the usual soft limit of 1024 would cap a ws
    process at about a thousand players."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        log.info("open files limit raised from %d to %d", soft, wanted)
    except (ValueError, OSError) as exc:
        log.warning("open files limit stays at %d: %s", soft, exc)


async def stop_reveal(reveal: Reveal) -> None:
    """Leave the group, then drop every pending reveal and writer."""
    await asyncio.to_thread(reveal.listener.stop)
    await reveal.hub.close()
    lateness = reveal.hub.lateness
    log.info(
        "reveal stopped: %d messages sent; reveal lateness p50 %s, p99 %s, max %s ms (last %d)",
        reveal.hub.sent, _ms(lateness.percentile(50)), _ms(lateness.percentile(99)),
        _ms(lateness.percentile(100)), len(lateness),
    )  # fmt: skip


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
