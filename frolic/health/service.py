"""Readiness: every dependency answers, and the schema is at the latest migration."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from frolic import topics
from frolic.db import migrate
from frolic.resources import Resources

CHECK_TIMEOUT = 3.0


async def check_postgres(res: Resources) -> str:
    async with res.db.connect() as connection:
        at = await migrate.current(connection)
    head = migrate.head()
    if at != head:
        return f"schema at {at or 'nothing'}, head is {head}: run `frolic migrate`"
    return "ok"


async def check_redis(res: Resources) -> str:
    await res.redis.ping()
    return "ok"


async def check_broker(res: Resources) -> str:
    counts = await asyncio.to_thread(topics.partition_counts, res.kafka_admin, CHECK_TIMEOUT)
    s = res.settings
    missing = [t for t in (s.play_topic, s.result_topic, s.final_topic) if t not in counts]
    return f"missing topics: {', '.join(missing)}" if missing else "ok"


CHECKS: dict[str, Callable[[Resources], Awaitable[str]]] = {
    "postgres": check_postgres,
    "redis": check_redis,
    "broker": check_broker,
}


async def readiness(res: Resources) -> dict[str, str]:
    """Each check's verdict: ``"ok"`` or what is wrong."""

    async def run(check: Callable[[Resources], Awaitable[str]]) -> str:
        try:
            return await asyncio.wait_for(check(res), CHECK_TIMEOUT)
        except TimeoutError:
            return f"no answer within {CHECK_TIMEOUT:.0f}s"
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"

    verdicts = await asyncio.gather(*(run(check) for check in CHECKS.values()))
    return dict(zip(CHECKS, verdicts, strict=True))
