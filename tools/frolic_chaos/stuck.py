"""Where the plays that never became final stopped: the chaos runner's diagnosis when a
drain times out, so a failed run says which stage held them instead of only how many.

A play is undecided (no outcome on the results topic: the allocators' group never handled
it), decided but not recorded (the recorders' group never handled its outcome), or recorded
as dropped (decided under a Redis epoch the ledger had retired, which only the re-driver
brings round again). The consumer groups' committed offsets beside each partition's end
show whether a group stopped reading a partition.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, cast

from confluent_kafka import Consumer, TopicPartition
from sqlalchemy import text

from frolic.config import Settings
from frolic.db.session import create_engine
from frolic.playlog import messages
from frolic.topics import ALLOCATORS, RECORDERS, client_config
from frolic_chaos.topic_log import read_all

_decided = messages.decoder(messages.Decided)


async def diagnose(settings: Settings, play_ids: list[str]) -> dict[str, Any]:
    """What became of the plays of ``play_ids`` that have no outcome in PostgreSQL."""
    assert settings.database_url
    db = create_engine(settings.database_url)
    try:
        async with db.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT play_id::text, status, game_id FROM play_events WHERE play_id = ANY(:ids)"
                " AND status NOT IN ('WIN', 'LOSE')"
            ), {"ids": [uuid.UUID(p) for p in set(play_ids)]})).all()  # fmt: skip
            games = await conn.execute(text("SELECT id, redis_epoch FROM games"))
            epochs: dict[int, int] = {row[0]: row[1] for row in games}
    finally:
        await db.dispose()
    open_ = {row[0]: row for row in rows}
    results = await asyncio.to_thread(read_all, settings, settings.result_topic)
    decisions = [_decided.decode(raw) for raw in results]
    decided = {d.play_id: d for d in decisions if d.play_id in open_}
    stale = sum(d.epoch != epochs.get(d.game_id) for d in decided.values())
    return {
        "open": len(open_),
        "statuses": dict(Counter(row[1] for row in rows)),
        "undecided": len(open_) - len(decided),
        "decided_not_recorded": len(decided) - stale,
        "decided_under_a_retired_epoch": stale,
        "epochs": {str(k): v for k, v in epochs.items()},
        "allocators": await asyncio.to_thread(lag, settings, settings.play_topic, ALLOCATORS),
        "recorders": await asyncio.to_thread(lag, settings, settings.result_topic, RECORDERS),
        "examples": sorted(open_)[:5],
    }


def logged(state: Path, lines: int = 10) -> list[str]:
    """The last ``lines`` lines each role process logged (at WARNING and above, as the
    supervisor runs them), each prefixed with its process's log file name."""
    out: list[str] = []
    for log in sorted(state.glob("*.log")):
        text_ = log.read_text(errors="replace")
        out += [f"{log.stem}: {line[:300]}" for line in text_.splitlines()
                if "GET /" not in line][-lines:]  # fmt: skip
    return out


def lag(settings: Settings, topic: str, group: str) -> dict[int, tuple[int, int]]:
    """Per partition of ``topic``: ``group``'s committed offset and the partition's end."""
    consumer = Consumer(cast(Any, client_config(settings, **{
        "group.id": group, "enable.auto.commit": False,
    })))  # fmt: skip
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        partitions = [TopicPartition(topic, p) for p in meta.partitions]
        committed = consumer.committed(partitions, timeout=10)
        return {
            tp.partition: (tp.offset, consumer.get_watermark_offsets(tp, timeout=10)[1])
            for tp in committed
        }
    finally:
        consumer.close()
