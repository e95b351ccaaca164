"""SIGKILL Redis in the middle of the load, twice, and start it again on its own files.

The embedded Redis keeps an append-only file (``appendfsync everysec``), as many
production deployments do: killed, it comes back with what it had written, possibly less
the last second of writes: an older state whose epochs still match the ledger's while its
stock may be higher than the truth. Each game must be rebuilt from the ledger all the same
(its state is another Redis run's, ``frolic.engine.scripts``), before a play is decided
against it; the evidence is ``redis_restart``'s (one more epoch per restart).
"""

from __future__ import annotations

from typing import ClassVar

from frolic_chaos.faults.redis_restart import RedisRestart


class RedisKill(RedisRestart):
    name = "redis_kill"
    summary = "SIGKILL Redis mid-load, twice, back on its append-only file; rebuilt anyway"
    kills: ClassVar[tuple[bool, ...]] = (True,)
    wipe: ClassVar[bool] = False


FAULT = RedisKill()
