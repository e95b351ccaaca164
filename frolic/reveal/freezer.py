"""Keeps the objects of held sockets out of the garbage collector's full collections.

Each socket is ~160 objects that live as long as it (uvicorn's protocol, its tasks, the
outbox), and a full collection walks them all: 0.6 to 1 s at 5,000 sockets on the shared
bench machine, a stall of every reveal due meanwhile. Python runs one whenever the objects
that reached the oldest generation grew by a quarter, so a process that keeps gaining
sockets stalls again and again. A socket's objects are frozen (``gc.freeze``: moved to a
generation that is never collected, at constant cost) as soon as it is held.

The price: cyclic garbage frozen with them (a dropped socket's cycles) is not collected
while frozen. Once as many sockets have been dropped as are held, everything is thawed and
Python's next full collection reclaims it: one stall per turnover of the held sockets
instead of one per quarter of growth.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)

THAW_AFTER_AT_LEAST = 1000
"""Dropped sockets below which a thaw is never worth a full collection."""


class Freezer:
    def __init__(self) -> None:
        self.dropped_since_thaw = 0

    def held(self) -> None:
        """A socket was held: freeze it with everything else alive now."""
        gc.freeze()

    def dropped(self, still_held: int) -> None:
        """A socket was dropped; ``still_held`` are left."""
        self.dropped_since_thaw += 1
        if self.dropped_since_thaw >= max(still_held, THAW_AFTER_AT_LEAST):
            log.info(
                "thawing %d frozen objects: %d sockets dropped, %d held",
                gc.get_freeze_count(), self.dropped_since_thaw, still_held,
            )  # fmt: skip
            gc.unfreeze()
            self.dropped_since_thaw = 0
