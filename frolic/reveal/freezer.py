"""Keeps the objects of held sockets out of the garbage collector's full collections.

Each socket is ~195 objects that live as long as it (uvicorn's protocol, its tasks, the
outbox), and a full collection walks them all: 0.6 to 1 s at 5,000 sockets on the shared
bench machine, a stall of every reveal due meanwhile. Python runs one whenever the objects
that reached the oldest generation grew by a quarter, so a process that keeps gaining
sockets stalls again and again. A socket's objects are frozen (``gc.freeze``: moved to a
generation that is never collected, at constant cost) as soon as it is held.

A dropped socket is freed by reference counting alone, frozen or not: it leaves no
reference cycle behind (``Outbox.stop``, ``frolic/reveal/upgrade.py``; checked by
``tests/reveal/test_turnover.py``). What could still pile up in the frozen generation is
cyclic garbage of anything else frozen along with the sockets. Thawing it costs a full
collection of everything frozen (seconds at 10,000 sockets), so the freezer looks at the
frozen count once per turnover of the held sockets and thaws only when at least half of it
is not explained by the sockets held since the last look and what was alive at start:
frozen memory stays under twice what the sockets need, and a process whose sockets leave no
cycles never thaws.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)

SOCKET_OBJECTS = 190
"""Objects a held socket keeps alive: 189 to 195 measured (``tests/reveal/turnover_measure.py``)."""
CHECK_AFTER_AT_LEAST = 1000
"""Dropped sockets between two looks at the frozen count, which walks every frozen object
(~10 ms a million)."""
THAW_AT_LEAST = 200_000
"""Frozen objects nothing explains below which a thaw is never worth a full collection."""


def worth_thawing(frozen: int, floor: int, held: int) -> bool:
    """Whether at least half of the ``frozen`` objects are neither the ``held`` sockets' nor
    the ``floor`` alive at start, and enough of them to be worth a full collection."""
    explained = floor + held * SOCKET_OBJECTS
    return frozen - explained >= max(explained, THAW_AT_LEAST)


class Freezer:
    def __init__(self) -> None:
        self.dropped_since_check = 0
        self.thaws = 0
        self._floor = 0  # frozen objects that are not sockets': alive at start or at a thaw
        # Most sockets held since the last look: a dropped socket's objects live on until
        # uvicorn is done with its connection, so a mass disconnect is not garbage yet.
        self._peak = 0

    def start(self) -> None:
        """Freeze everything alive once the process has loaded: none of it is garbage."""
        gc.collect()
        gc.freeze()
        self._floor = gc.get_freeze_count()

    def held(self) -> None:
        """A socket was held: freeze it with everything else alive now."""
        gc.freeze()

    def dropped(self, still_held: int) -> None:
        """A socket was dropped; ``still_held`` are left."""
        self.dropped_since_check += 1
        self._peak = max(self._peak, still_held + 1)
        if self.dropped_since_check < max(still_held, CHECK_AFTER_AT_LEAST):
            return
        self.dropped_since_check = 0
        peak, self._peak = self._peak, still_held
        if worth_thawing(gc.get_freeze_count(), self._floor, peak):
            self.thaw(still_held)

    def thaw(self, still_held: int) -> int:
        """Collect everything frozen once, then freeze what survived; the garbage found."""
        frozen = gc.get_freeze_count()
        gc.unfreeze()
        found = gc.collect()
        gc.freeze()
        self._floor = max(gc.get_freeze_count() - still_held * SOCKET_OBJECTS, 0)
        self.thaws += 1
        log.warning(
            "thawed %d frozen objects (%d sockets held): %d were garbage",
            frozen, still_held, found,
        )  # fmt: skip
        return found
