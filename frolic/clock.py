"""The wall clock, built once per process (``Resources.clock``) and passed to what decides
by it: a play's request time and whether its game is open, the rate limits, the pacing
plan's "now", the ledger's processed time, when a reveal fires.

Tests give a fixed or stepping clock; the chaos harness skews a role process by its
``FROLIC_CLOCK_OFFSET_SECONDS``. Nothing patches ``time.time``. Durations are measured on
the monotonic clock, which no offset moves, as a skewed host's would not be.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]
"""Seconds since the epoch, as ``time.time`` gives them."""


def wall_clock(offset: float = 0.0) -> Clock:
    """This host's wall clock, ``offset`` seconds ahead (behind if negative)."""
    if not offset:
        return time.time
    return lambda: time.time() + offset
