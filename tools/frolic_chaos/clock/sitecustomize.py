"""A skewed wall clock for one chaos process: on PYTHONPATH, Python imports this at start-up.

``FROLIC_CHAOS_CLOCK_SKEW`` seconds are added to ``time.time``/``time.time_ns`` and to
``datetime.now``/``utcnow``/``today`` (``datetime.datetime`` is replaced by a subclass, so
modules that import it afterwards get the skewed one). Monotonic clocks are left alone, as a
skewed host's are. Never on PYTHONPATH outside the chaos harness.
"""

from __future__ import annotations

import datetime as _datetime
import os
import time

SKEW = float(os.environ.get("FROLIC_CHAOS_CLOCK_SKEW", "0") or 0)

if SKEW:
    _time, _time_ns = time.time, time.time_ns
    time.time = lambda: _time() + SKEW
    time.time_ns = lambda: _time_ns() + int(SKEW * 1e9)
    _delta = _datetime.timedelta(seconds=SKEW)
    _base = _datetime.datetime

    class _SkewedDatetime(_base):
        # No __dict__: C extensions (asyncpg's codecs) check the type's size on import.
        __slots__ = ()

        @classmethod
        def now(cls, tz: _datetime.tzinfo | None = None) -> _SkewedDatetime:
            return super().now(tz) + _delta

        @classmethod
        def utcnow(cls) -> _SkewedDatetime:
            return super().utcnow() + _delta

        @classmethod
        def today(cls) -> _SkewedDatetime:
            return super().today() + _delta

    _datetime.datetime = _SkewedDatetime  # type: ignore[misc]
