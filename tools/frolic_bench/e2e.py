"""``frolic bench e2e``: time from publishing a play to its outcome stored, through real
``frolic serve --role allocator`` processes, at a fixed publish rate.

A separate producer process publishes ``PlayEvent``s to the play topic at ``rate`` a second
for ``seconds``, each stamped with the moment it is handed to the producer. The allocator
stamps each ``Decided`` with the moment its store call returned, the play's outcome and
the budget's change recorded in Redis (``decided_at``): that minus the publish stamp is
the allocation latency (``e2e_alloc_*``; the clocks are one host's). A consumer in this
process also notes each ``Decided``'s arrival on the results topic (``e2e_result_*``: one
more broker hop). At the end every play's outcome is looked up in Redis's processed
hashes: a play counts as decided only if it is recorded there.

A recorder process runs beside the allocators, and the same consumer reads the final
topic too: publish to a play's final outcome recorded in PostgreSQL and published for the
reveal (``e2e_final_*``). The bench's plays were not written by ingestion, so the recorder
writes each row as well as its outcome (``insert_missing``): a little more than its work on
a real play.

The baseline is the broker floor: the same messages at the same rate through a topic with
no allocator, produce to consume, measured the same way in the same run. Every client here
uses the roles' own settings (``topics.producer_config``, ``topics.consumer_config``), so
the floor is the broker's at the settings Frolic runs with; ``benchmarks/broker_floor.py``
measures it again with nothing of Frolic's.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from sqlalchemy import insert

from frolic import topics
from frolic.config import Settings
from frolic.db import models
from frolic.db.session import create_engine
from frolic.engine import keys
from frolic.engine.redis_store import store_for
from frolic.engine.rules import GameRules
from frolic.fairness import draws
from frolic.games.repository import load_game
from frolic.playlog import messages
from frolic.playlog.producer import PlayLog
from frolic.redis_client import connect
from frolic_bench.cluster import Cluster, running
from frolic_bench.cpu import CpuMeter, CpuTally, Reading

WARM_PLAYS = 50  # decided before the clock starts: the allocators have joined their group
USERS = 10_000
BUDGET = 1000


def measure(
    settings: Settings, state: Path, *, rate: int, seconds: float, allocators: int = 1,
    recorders: int = 1,
) -> dict[str, Any]:  # fmt: skip
    """The broker floor, then the same load through ``allocators`` allocator processes and
    ``recorders`` recorder processes (none: no finals, and the allocators alone on the
    machine)."""
    tag = uuid.uuid4().hex[:6]
    settings = settings.model_copy(update={
        "play_topic": f"bench-e2e-{tag}-plays", "result_topic": f"bench-e2e-{tag}-results",
        "final_topic": f"bench-e2e-{tag}-final",
    })  # fmt: skip
    topics.ensure_topics(topics.admin_client(settings), settings)
    rules, users = asyncio.run(_create_game(settings))

    plays = settings.play_topic
    floor = _run_load(settings, plays, rules, users, rate, seconds, watch=(plays,))
    floor_late = _percentiles(floor.latencies)

    play_topic = f"bench-e2e-{tag}-load"
    loaded = settings.model_copy(update={"play_topic": play_topic})
    topics.ensure_topics(topics.admin_client(loaded), loaded)
    watch = (loaded.result_topic, loaded.final_topic)[: 2 if recorders else 1]
    layout = [["allocator"]] * allocators + [["recorder"]] * recorders
    with running(loaded, state, layout) as cluster:
        _run_load(loaded, play_topic, rules, users, rate=WARM_PLAYS, seconds=1, watch=watch)
        meter = _meter(loaded, cluster)
        before = meter.read()
        run = _run_load(loaded, play_topic, rules, users, rate, seconds, watch=watch)
        after = meter.read()
    late = _percentiles(run.stored)
    result = _percentiles(run.latencies)
    finals = _percentiles(run.finals)
    stored, awarded = asyncio.run(_stored(settings, rules, run.published))
    return {
        "e2e_alloc_p50_ms": late[50], "e2e_alloc_p99_ms": late[99],
        "e2e_alloc_max_ms": late[100],
        "e2e_result_p50_ms": result[50], "e2e_result_p99_ms": result[99],
        "e2e_final_p50_ms": finals[50], "e2e_final_p99_ms": finals[99],
        "e2e_final_max_ms": finals[100], "e2e_finals": len(run.finals),
        "e2e_rate_per_s": round(run.rate), "e2e_rate_asked_per_s": rate,
        "e2e_seconds": seconds, "e2e_allocators": allocators, "e2e_recorders": recorders,
        "e2e_plays": len(run.published), "e2e_stored": stored,
        "e2e_undecided": len(run.published) - stored,
        "e2e_awarded": awarded, "e2e_budget": rules.budget,
        "e2e_overspent": max(0, awarded - rules.budget),
        "e2e_broker_floor_p50_ms": floor_late[50], "e2e_broker_floor_p99_ms": floor_late[99],
        "e2e_broker_floor_rate_per_s": round(floor.rate),
        "e2e_vs_broker_floor": round((late[99] or 0) / max(floor_late[99] or 0, 0.001), 2),
        "e2e_cpu_us": _per_play(meter, before, after, len(run.published)),
    }  # fmt: skip


def _meter(settings: Settings, cluster: Cluster) -> CpuMeter:
    """The role processes (each ``<role>-<n>``) and the servers, to read CPU time from."""
    meter = CpuMeter()
    for i, role in enumerate(cluster.roles):
        meter.add(f"{role.name}-{i}", role.process.pid)
    meter.add_server("redis", settings.redis_url)
    meter.add_server("postgres", settings.database_url, with_children=True)
    meter.add_server("broker", settings.kafka_bootstrap)
    return meter


def _per_play(meter: CpuMeter, before: Reading, after: Reading, plays: int) -> dict[str, float]:
    """µs of CPU per play published, by role (its processes summed) and server: the cost of
    each part of the pipeline at this rate (docs/capacity.md builds on it)."""
    tally = CpuTally(frozenset(meter.processes))
    tally.add(before, after, plays)
    by_part: dict[str, float] = {}
    for name, us in tally.per_request_us().items():
        part = name.rsplit("-", 1)[0]  # "allocator-1" is an allocator; "redis" is itself
        by_part[part] = round(by_part.get(part, 0.0) + us, 1)
    return by_part


Users = list[tuple[int, str]]  # the players' ids and external ids


async def _create_game(settings: Settings) -> tuple[GameRules, Users]:
    """A live hour-long paced game of two brands, in PostgreSQL and loaded into Redis, with
    a committed fairness seed: its plays are drawn from it and logged, as a real game's;
    and ``USERS`` players to play it."""
    assert settings.database_url
    assert settings.redis_url
    db = create_engine(settings.database_url)
    now = datetime.now(UTC)
    tag = uuid.uuid4().hex[:8]
    try:
        async with db.begin() as conn:
            campaign = await conn.scalar(insert(models.Campaign).values(
                name=f"bench-{tag}", start_time=now - timedelta(hours=1),
                end_time=now + timedelta(days=1), status="live",
            ).returning(models.Campaign.id))  # fmt: skip
            game = await conn.scalar(insert(models.Game).values(
                campaign_id=campaign, name=f"bench-{tag}", total_budget=BUDGET,
                start_time=now - timedelta(seconds=5), end_time=now + timedelta(hours=1),
                probability_type="paced", status="live", slot_seconds=1,
                fairness_seed=draws.new_seed(), fairness_terms={},
            ).returning(models.Game.id))  # fmt: skip
            stock = {}
            for i in range(2):
                brand = await conn.scalar(
                    insert(models.Brand).values(name=f"bench-{tag}-{i}").returning(models.Brand.id)
                )
                assert brand is not None
                stock[brand] = BUDGET // 2
                await conn.execute(insert(models.GameBrandBudget).values(
                    game_id=game, brand_id=brand, total_coupons=BUDGET // 2,
                    remaining_coupons=BUDGET // 2,
                ))  # fmt: skip
            assert game is not None
            players = await conn.execute(insert(models.User).values(
                [{"external_id": f"bench-{tag}-{i}"} for i in range(USERS)]
            ).returning(models.User.id, models.User.external_id))  # fmt: skip
            users = [(row.id, row.external_id or "") for row in players]
        view = await load_game(db, game)
    finally:
        await db.dispose()
    assert view is not None
    redis = connect(settings.redis_url)
    try:
        await store_for(settings, redis).load(view.rules, stock)
    finally:
        await redis.aclose()
    return view.rules, users


@dataclass(frozen=True)
class Load:
    published: dict[str, float]  # play id -> the request time it carries
    latencies: list[float]  # ms, of the plays that arrived
    # ms from publish to the outcome stored in Redis (its Decided's decided_at); empty for
    # the broker floor
    stored: list[float]
    finals: list[float]  # ms from publish to the play's final on the final topic, if watched
    rate: float  # plays a second the producer achieved


def _run_load(
    settings: Settings, play_topic: str, rules: GameRules, users: Users, rate: int,
    seconds: float, *, watch: tuple[str, ...],
) -> Load:  # fmt: skip
    """Publish from a separate process; time each play from its publish to its arrival on
    each topic of ``watch``: ``play_topic`` itself (the broker floor), or the result topic
    and perhaps the final topic. A play is done when it has arrived on each."""
    watcher = _watcher(settings, list(watch))
    kinds: dict[str, type[messages.PlayEvent] | type[messages.Decided] | type[messages.Final]]
    kinds = {play_topic: messages.PlayEvent, settings.result_topic: messages.Decided,
             settings.final_topic: messages.Final}  # fmt: skip
    decoders = {topic: messages.decoder(kinds[topic]) for topic in watch}
    final = settings.final_topic in watch
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[tuple[dict[str, float], float]] = context.Queue()
    producer = context.Process(
        target=_produce,
        args=(settings, play_topic, rules.game_id, users, rate, seconds, results),
    )
    producer.start()
    try:
        arrived: dict[str, float] = {}
        finished: dict[str, float] = {}
        stored: dict[str, float] = {}
        published: dict[str, float] | None = None
        pending: set[str] = set()
        achieved = 0.0
        deadline = time.monotonic() + seconds + 120
        while time.monotonic() < deadline:
            # One message a call: a batch call waits for its batch, and the wait would count.
            message = watcher.poll(0.005)
            if message is not None and message.error() is None:
                now = time.time()
                seen = decoders[message.topic() or ""].decode(message.value() or b"")
                if isinstance(seen, messages.Final):
                    finished.setdefault(seen.play_id, now)
                else:
                    arrived.setdefault(seen.play_id, now)
                if isinstance(seen, messages.Decided):
                    stored.setdefault(seen.play_id, (seen.decided_at - seen.t) * 1000)
                if seen.play_id in arrived and (not final or seen.play_id in finished):
                    pending.discard(seen.play_id)
            elif published is None and not results.empty():
                published, achieved = results.get()
                done = arrived.keys() & finished.keys() if final else arrived.keys()
                pending = set(published) - done
            if published is not None and not pending:
                break
        if published is None:
            published, achieved = results.get(timeout=10)
    finally:
        watcher.close()
        producer.join(30)

    # Only this run's plays, each once: the topic may hold earlier runs' results, and a
    # result decided again (a replay after a rebalance) arrives twice.
    def since(times: dict[str, float]) -> list[float]:
        return [(times[p] - t) * 1000 for p, t in published.items() if p in times]

    return Load(published, since(arrived), [stored[p] for p in published if p in stored],
                since(finished), achieved)  # fmt: skip


def _watcher(settings: Settings, watched: list[str]) -> Consumer:
    """A consumer on every partition of ``watched`` from their start, fetching as the roles
    do (``topics.consumer_config``), with no group membership: it sees the messages of this
    run only, and joins no rebalance."""
    consumer = Consumer(topics.consumer_config(
        settings, f"bench-watch-{uuid.uuid4().hex[:6]}", **{"enable.auto.commit": False}
    ))  # fmt: skip
    counts = topics.partition_counts(topics.admin_client(settings), 15)
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING)
                     for topic in watched for p in range(counts[topic])])  # fmt: skip
    return consumer


def _produce(
    settings: Settings, topic: str, game_id: int, users: Users, rate: int, seconds: float,
    results: multiprocessing.Queue[tuple[dict[str, float], float]],
) -> None:  # fmt: skip
    """Paced publishing, as ``POST /play`` does it (the same producer and settings): every
    millisecond, the plays due by then, each stamped as it is handed over."""
    playlog = PlayLog(settings)
    published: dict[str, float] = {}
    total = max(1, round(rate * seconds))
    reveal = settings.reveal_seconds
    start = time.monotonic()
    while len(published) < total:
        due = min(total, int((time.monotonic() - start) * rate) + 1)
        for n in range(len(published), due):
            play_id = str(uuid.uuid4())
            user_id, user = users[n % len(users)]
            t = time.time()
            # numbered as ingestion numbers them: each player's plays 1, 2, 3...
            event = messages.PlayEvent(play_id, game_id, user_id, user, t, t + reveal,
                                       number=n // len(users) + 1)  # fmt: skip
            playlog.publish(topic, user, messages.encode(event))
            published[play_id] = t
        time.sleep(0.001)
    elapsed = time.monotonic() - start
    playlog.close(30)
    # The last play is published at (total - 1) / rate: that is the span the rate covers.
    results.put((published, (total - 1) / elapsed if elapsed > 0 else float(total)))


async def _stored(settings: Settings, rules: GameRules, plays: dict[str, float]) -> tuple[int, int]:
    """How many of ``plays`` have their outcome recorded in Redis, and how many coupons the
    game has awarded."""
    assert settings.redis_url
    redis = connect(settings.redis_url)
    try:
        by_bucket: dict[int, list[str]] = defaultdict(list)
        for play_id, t in plays.items():
            by_bucket[keys.processed_bucket(t)].append(play_id)
        stored = 0
        for bucket, ids in by_bucket.items():
            found = await redis.hmget(keys.processed(rules.game_id, bucket), ids)
            stored += sum(value is not None for value in found)
        awarded = (await store_for(settings, redis).state(rules)).awarded
    finally:
        await redis.aclose()
    return stored, awarded


def _percentiles(values: list[float]) -> dict[int, float | None]:
    """p50, p99 and the max; None (JSON null) when nothing was timed."""
    if not values:
        return dict.fromkeys((50, 99, 100))
    ordered = sorted(values)
    last = len(ordered) - 1
    return {q: round(ordered[min(last, int(q / 100 * len(ordered)))], 2) for q in (50, 99, 100)}
