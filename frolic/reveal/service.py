"""The reveal role of one process: its hub of sockets and the listener that feeds it.

Wire it into an app's lifespan, after the resources are open::

    app.state.reveal = await start_reveal(res)
    ...
    await stop_reveal(app.state.reveal)
"""

from __future__ import annotations

import asyncio
import logging
import resource
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from frolic import periodic
from frolic.config import Settings
from frolic.db.outage import postgres_away
from frolic.playlog.messages import PlayEvent
from frolic.resources import Resources
from frolic.reveal.freezer import Freezer
from frolic.reveal.history import decided
from frolic.reveal.hub import Hub
from frolic.reveal.listener import BroadcastListener

log = logging.getLogger(__name__)


OVERDUE_POLL_SECONDS = 1.0
"""How often the results of overdue plays are looked for in PostgreSQL; doubled after each
failure (PostgreSQL away), up to ``OVERDUE_POLL_MAX_SECONDS``."""
OVERDUE_POLL_MAX_SECONDS = 8.0
OVERDUE_BATCH = 1000


@dataclass
class Reveal:
    settings: Settings
    db: AsyncEngine
    hub: Hub
    listener: BroadcastListener  # final results
    plays: BroadcastListener  # accepted plays, so that a late result is told pending
    overdue: asyncio.Task[None]
    stop: asyncio.Event  # ends the overdue poll

    @property
    def ready_timeout(self) -> float:
        """How long a new socket waits for the listener before reading its history anyway:
        a group join takes on the order of the session timeout."""
        return 2 * self.settings.kafka_session_timeout_ms / 1000


async def start_reveal(resources: Resources) -> Reveal:
    """Start listening to the final topic; sockets may connect at once (see ``ready``)."""
    open_files_up_to_the_hard_limit()
    freezer = Freezer()
    hub = Hub(freezer, resources.clock)
    loop = asyncio.get_running_loop()
    s = resources.settings
    listener = BroadcastListener(s, hub.schedule_many, loop)
    listener.start()
    plays = BroadcastListener(s, hub.expect_many, loop, topic=s.play_topic, kind=PlayEvent)
    plays.start()
    stop = asyncio.Event()
    overdue = asyncio.create_task(settle_overdue(hub, resources.db, s, stop),
                                  name="reveal-overdue")  # fmt: skip
    # Reveals are timed to the millisecond; a full collection over everything loaded at
    # start would stall them. Objects alive now are never garbage: keep them out of it.
    freezer.start()
    return Reveal(s, resources.db, hub, listener, plays, overdue, stop)


async def settle_overdue(
    hub: Hub, db: AsyncEngine, settings: Settings, stop: asyncio.Event
) -> None:
    """Send overdue plays their results from PostgreSQL as soon as they are recorded there:
    a final the broker lost (a restart) would otherwise never come. While PostgreSQL is
    away their sockets were told pending, and are still waiting: nothing is guessed."""

    async def settle() -> None:
        if owed := hub.overdue():
            hub.schedule_many(await decided(db, owed[:OVERDUE_BATCH], settings.reveal_seconds))

    await periodic.every(OVERDUE_POLL_SECONDS, settle, stop, name="overdue results", log=log,
                         away=postgres_away, back_off_to=OVERDUE_POLL_MAX_SECONDS)  # fmt: skip


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
    reveal.stop.set()
    await reveal.overdue
    await asyncio.gather(
        asyncio.to_thread(reveal.listener.stop), asyncio.to_thread(reveal.plays.stop)
    )
    await reveal.hub.close()
    lateness = reveal.hub.lateness
    log.info(
        "reveal stopped: %d messages sent; reveal lateness p50 %s, p99 %s, max %s ms (last %d)",
        reveal.hub.sent, _ms(lateness.percentile(50)), _ms(lateness.percentile(99)),
        _ms(lateness.percentile(100)), len(lateness),
    )  # fmt: skip


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
