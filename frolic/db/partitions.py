"""How ``play_events`` is cut into days (migration 0013): each UTC day of ``request_time`` is
a partition, ``play_events_YYYYMMDD``, and ``play_events_default`` takes a play whose day
has none (the keeper was down for a week, a clock far off), so that no play is ever
refused for its time. The names, bounds and statements are here, for the migration and the
keeper (``frolic.plays.keeper``) alike.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

TABLE = "play_events"
DEFAULT = "play_events_default"
AHEAD_DAYS = 7
"""Days ahead of today that have their partition: the migration makes them, the keeper
keeps making them."""
_DAY = re.compile(r"play_events_(\d{8})\Z")


def name_of(day: date) -> str:
    return f"{TABLE}_{day:%Y%m%d}"


def day_of(name: str) -> date | None:
    """The day a partition's name says, or None for any other name."""
    found = _DAY.match(name)
    return None if found is None else datetime.strptime(found[1], "%Y%m%d").date()


def is_partition(name: str) -> bool:
    """Whether a table is one of ``play_events``' partitions (which the models do not list:
    Alembic's comparison skips them)."""
    return name == DEFAULT or day_of(name) is not None


def bounds(day: date) -> tuple[datetime, datetime]:
    """The request times a day's partition holds: [midnight UTC, the next midnight)."""
    start = datetime.combine(day, time(), UTC)
    return start, start + timedelta(days=1)


# The statements that must name a partition, which no driver can bind. The name and the
# bounds are made from a ``date`` here, digits only (tests/security/test_sql_parameterized).
def create_statement(day: date) -> str:
    start, end = bounds(day)
    return (f"CREATE TABLE IF NOT EXISTS {name_of(day)} PARTITION OF {TABLE} "
            f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')")  # fmt: skip


def drop_statements(day: date) -> list[str]:
    name = name_of(day)
    return [f"ALTER TABLE {TABLE} DETACH PARTITION {name}", f"DROP TABLE {name}"]
