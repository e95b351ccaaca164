"""Figures read from the servers when Prometheus scrapes: consumer lag, Redis CPU and
slowlog, and each live game's budget against its pace line and against the ledger.

Each costs round trips to the broker, Redis or PostgreSQL, so only the api role gathers
them (scraping N allocators must not ask the broker N times), each source under a timeout,
and a snapshot serves every scrape for ``max_age`` seconds: a scrape storm costs the
servers one refresh per ``max_age``. A source that fails or times out reports
``frolic_monitoring_source_up{source} 0`` and none of its figures, rather than stale ones.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from redis.asyncio.cluster import RedisCluster
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from frolic.config import Settings
from frolic.engine.redis_store import store_for
from frolic.monitoring.lag import consumer_lag
from frolic.reconcile.service import balances
from frolic.redis_client import AsyncRedis

log = logging.getLogger(__name__)

_LIVE_GAMES = text(
    "SELECT id, extract(epoch FROM start_time) AS start, extract(epoch FROM end_time) AS end "
    "FROM games WHERE status = 'live'"
)


@dataclass
class Snapshot:
    taken: float = 0.0
    up: dict[str, bool] = field(default_factory=dict)
    metrics: list[Metric] = field(default_factory=list)


class ServerFigures(Collector):
    """A collector of the last snapshot; ``await refresh()`` before rendering a scrape."""

    def __init__(
        self, settings: Settings, db: AsyncEngine, redis: AsyncRedis, *,
        max_age: float = 5.0, timeout: float = 2.0, clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.db = db
        self.redis = redis
        self.store = store_for(settings, redis)
        self.max_age = max_age
        self.timeout = timeout
        self.clock = clock
        self._snapshot = Snapshot()
        self._lock = asyncio.Lock()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    async def refresh(self) -> None:
        if self._fresh():
            return
        async with self._lock:  # concurrent scrapes wait for one refresh and share it
            if self._fresh():
                return
            sources: dict[str, Callable[[], Awaitable[list[Metric]]]] = {
                "kafka": self._lag, "redis": self._redis, "budget": self._budgets,
            }  # fmt: skip
            answers = await asyncio.gather(
                *(asyncio.wait_for(read(), self.timeout) for read in sources.values()),
                return_exceptions=True,
            )
            snapshot = Snapshot(self.clock())
            for name, answer in zip(sources, answers, strict=True):
                if isinstance(answer, BaseException):
                    log.warning("monitoring source %s failed: %r", name, answer)
                    snapshot.up[name] = False
                else:
                    snapshot.up[name] = True
                    snapshot.metrics += answer
            self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "frolic_monitoring_source_up",
            "1 when the last read of a source (kafka, redis, budget) for these figures "
            "succeeded, within its timeout.",
            labels=["source"],
        )
        for name, ok in self._snapshot.up.items():
            up.add_metric([name], 1.0 if ok else 0.0)
        yield up
        yield from self._snapshot.metrics

    def _fresh(self) -> bool:
        return self.clock() - self._snapshot.taken < self.max_age

    async def _lag(self) -> list[Metric]:
        lag = GaugeMetricFamily(
            "frolic_consumer_lag",
            "Messages of a partition its consumer group has not committed yet "
            "(allocators on the play topic, recorders on the result topic).",
            labels=["group", "topic", "partition"],
        )
        for p in await consumer_lag(self.settings, timeout=self.timeout):
            lag.add_metric([p.group, p.topic, str(p.partition)], p.lag)
        return [lag]

    async def _redis(self) -> list[Metric]:
        # On a Cluster, every node's (masters and replicas): each has its own CPU and log.
        nodes: list[dict[str, Any]] = [{}]
        if isinstance(self.redis, RedisCluster):
            await self.redis.initialize()  # a client that has sent nothing knows no nodes
            nodes = [{"target_nodes": node} for node in self.redis.get_nodes()]
        answers = await asyncio.gather(*(
            asyncio.gather(self.redis.info("cpu", **node), self.redis.slowlog_len(**node),
                           self.redis.slowlog_get(1, **node))
            for node in nodes
        ))  # fmt: skip
        used = {"sys": 0.0, "user": 0.0}
        length = logged = 0
        for cpu, slow_len, last in answers:
            used["sys"] += float(cpu["used_cpu_sys"])
            used["user"] += float(cpu["used_cpu_user"])
            length += int(slow_len)
            # Slow-log ids only grow, so the newest id + 1 counts every slow command ever
            # logged.
            logged += last[0]["id"] + 1 if last else 0
        seconds = CounterMetricFamily(
            "frolic_redis_cpu_seconds",
            "CPU time the Redis server has used (INFO used_cpu_sys, used_cpu_user); on a "
            "Cluster, every node's.",
            labels=["mode"],
        )
        seconds.add_metric(["sys"], used["sys"])
        seconds.add_metric(["user"], used["user"])
        slowlog = GaugeMetricFamily(
            "frolic_redis_slowlog_length",
            "Entries in Redis's slow log (SLOWLOG LEN); it stops at slowlog-max-len.",
            value=float(length),
        )
        slow = CounterMetricFamily(
            "frolic_redis_slow_commands",
            "Commands Redis has logged as slow since it started (the newest SLOWLOG id + 1).",
            value=float(logged),
        )
        return [seconds, slowlog, slow]

    async def _budgets(self) -> list[Metric]:
        async with self.db.connect() as conn:
            live = {r.id: (float(r.start), float(r.end)) for r in await conn.execute(_LIVE_GAMES)}
        balanced = await balances(self.db, self.store, live_only=True)
        found = [b for b in balanced if b.game_id in live]
        labels = ["game", "brand"]
        families = {
            "total": GaugeMetricFamily(
                "frolic_budget_total", "Coupons a live game offers of a brand.", labels=labels
            ),
            "issued": GaugeMetricFamily(
                "frolic_budget_issued",
                "Coupons of a live game and brand the ledger has locked to winners.",
                labels=labels,
            ),
            "remaining": GaugeMetricFamily(
                "frolic_budget_remaining",
                "Coupons of a live game and brand Redis still holds to award.",
                labels=labels,
            ),
            "expected": GaugeMetricFamily(
                "frolic_budget_expected_remaining",
                "Coupons that should remain by the pace line: total x the share of the "
                "game's time still to run.",
                labels=labels,
            ),
            "drift": GaugeMetricFamily(
                "frolic_budget_drift",
                "total - issued - Redis remaining: wins decided but not yet recorded; a value "
                "that does not return to 0, or any negative one, is drift (see frolic "
                "reconcile).",
                labels=labels,
            ),
            "missing": GaugeMetricFamily(
                "frolic_budget_missing_in_redis",
                "1 when Redis holds no budget for a live game's brand (lost; frolic reconcile "
                "--rebuild restores it).",
                labels=labels,
            ),
        }
        now = self.clock()
        for b in found:
            key = [str(b.game_id), str(b.brand_id)]
            start, end = live[b.game_id]
            still = min(1.0, max(0.0, (end - now) / (end - start))) if end > start else 0.0
            families["total"].add_metric(key, b.total)
            families["issued"].add_metric(key, b.issued)
            families["expected"].add_metric(key, b.total * still)
            families["missing"].add_metric(key, 1.0 if b.redis_remaining is None else 0.0)
            if b.redis_remaining is not None and b.drift is not None:
                families["remaining"].add_metric(key, b.redis_remaining)
                families["drift"].add_metric(key, b.drift)
        return list(families.values())
