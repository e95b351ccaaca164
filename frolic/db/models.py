"""The seed's seven tables (seed-design.md §5), column for column.

What the pipeline adds on top (indexes, checks) lives in the migrations that add it, each
with its reason, and is mirrored here so that the models and the migrated schema agree
(``tests/db/test_migrations.py`` compares them).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "%(table_name)s_%(column_0_name)s_fkey",
    "pk": "%(table_name)s_pkey",
}

Timestamp = DateTime(timezone=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _created() -> Mapped[datetime | None]:
    return mapped_column(Timestamp, server_default=func.now())


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    start_time: Mapped[datetime] = mapped_column(Timestamp)
    end_time: Mapped[datetime] = mapped_column(Timestamp)
    status: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime | None] = _created()
    updated_at: Mapped[datetime | None] = _created()


class Game(Base):
    __tablename__ = "games"
    __table_args__ = (
        CheckConstraint("end_time > start_time", name="ends_after_start"),
        CheckConstraint("total_budget >= 0", name="budget_not_negative"),
        CheckConstraint("slot_seconds BETWEEN 1 AND 5", name="slot_seconds_range"),
        CheckConstraint("odds >= 1", name="odds_positive"),
        CheckConstraint(
            "probability_type IN ('paced', 'slot', 'winning_moments', 'fixed_odds')",
            name="known_probability_type",
        ),
        CheckConstraint(
            "cooldown_seconds >= 0 AND (max_plays_per_day IS NULL OR max_plays_per_day >= 1)",
            name="player_limits",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("campaigns.id"))
    name: Mapped[str] = mapped_column(String(255))
    start_time: Mapped[datetime] = mapped_column(Timestamp)
    end_time: Mapped[datetime] = mapped_column(Timestamp)
    total_budget: Mapped[int] = mapped_column(Integer)
    probability_type: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime | None] = _created()
    updated_at: Mapped[datetime | None] = _created()
    # Engine settings (migration 0003).
    slot_seconds: Mapped[int] = mapped_column(SmallInteger, server_default="5")
    odds: Mapped[int] = mapped_column(Integer, server_default="100")
    moments_seed: Mapped[int] = mapped_column(
        BigInteger, server_default=text("floor(random() * 9000000000000000000)::bigint")
    )
    moments_void: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    # Player limits (migration 0004).
    max_plays_per_day: Mapped[int | None] = mapped_column(Integer)
    cooldown_seconds: Mapped[int] = mapped_column(Integer, server_default="0")
    # The pacing line's anchor as Redis holds it, for a rebuild (migration 0006).
    pacing_line_t: Mapped[float | None] = mapped_column(Double)
    pacing_line_from: Mapped[float] = mapped_column(Double, server_default="0")
    # The epoch of the game's state in Redis, from the redis_epochs sequence (migration 0007).
    redis_epoch: Mapped[int] = mapped_column(BigInteger, server_default="0")
    # The fairness commitment (migration 0008): a secret seed made when the game leaves
    # draft, and the terms published with its hash. Never in an API answer before the end.
    fairness_seed: Mapped[bytes | None] = mapped_column(LargeBinary)
    fairness_terms: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class Brand(Base):
    __tablename__ = "brands"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    logo_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None] = _created()
    updated_at: Mapped[datetime | None] = _created()


class GameBrandBudget(Base):
    __tablename__ = "game_brand_budgets"
    __table_args__ = (
        UniqueConstraint("game_id", "brand_id"),
        CheckConstraint(
            "remaining_coupons >= 0 AND remaining_coupons <= total_coupons",
            name="remaining_within_total",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    game_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("games.id"))
    brand_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("brands.id"))
    total_coupons: Mapped[int] = mapped_column(Integer)
    remaining_coupons: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime | None] = _created()
    updated_at: Mapped[datetime | None] = _created()
    # operation id -> coupons added (migration 0005)
    top_ups: Mapped[dict[str, int]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


class Coupon(Base):
    __tablename__ = "coupons"
    __table_args__ = (
        Index(
            "ix_coupons_unissued",
            "brand_id",
            "game_id",
            "id",
            postgresql_where=text("issued_at IS NULL"),
        ),
        UniqueConstraint("id", "play_id", name="coupons_id_play_id_key"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    brand_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("brands.id"))
    code: Mapped[str] = mapped_column(String(255), unique=True)
    is_used: Mapped[bool | None] = mapped_column(Boolean, server_default=text("false"))
    game_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("games.id"))
    issued_to: Mapped[int | None] = mapped_column(BigInteger)
    issued_at: Mapped[datetime | None] = mapped_column(Timestamp)
    used_at: Mapped[datetime | None] = mapped_column(Timestamp)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONB)
    created_at: Mapped[datetime | None] = _created()
    updated_at: Mapped[datetime | None] = _created()
    # The play it was issued to (migration 0013): a play's code is the one issued to it.
    play_id: Mapped[uuid.UUID | None] = mapped_column()


class PlayRow(Base):
    """A play in the ledger (table ``play_events``, partitioned by day of ``request_time``:
    ``frolic.db.partitions``). The play topic's message is
    ``frolic.playlog.messages.PlayEvent``; the row has its own name so neither reads as
    the other."""

    __tablename__ = "play_events"
    __table_args__ = (
        # A partitioned table's unique indexes hold its key: a play is its id and its time,
        # which never changes (migration 0013).
        UniqueConstraint("play_id", "request_time", name="play_events_play_id_request_time_key"),
        # The code a play holds was issued to that play (invariant 3).
        ForeignKeyConstraint(
            ["reward_coupon_id", "play_id"],
            ["coupons.id", "coupons.play_id"],
            name="play_events_coupon_fkey",
        ),
        Index("ix_play_events_user_id_request_time", "user_id", "request_time"),
        Index("ix_play_events_game_id_request_time", "game_id", "request_time"),
        Index(
            "ix_play_events_unfinished",
            "request_time",
            postgresql_where=text("processed_time IS NULL"),
        ),
        Index(
            "ix_play_events_reward_coupon_id",
            "reward_coupon_id",
            postgresql_where=text("reward_coupon_id IS NOT NULL"),
        ),
        Index(
            "ix_play_events_decision_order",
            "game_id",
            "decision_epoch",
            "decision_seq",
            postgresql_where=text("decision_seq IS NOT NULL"),
        ),
        {"postgresql_partition_by": "RANGE (request_time)"},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    play_id: Mapped[uuid.UUID] = mapped_column()
    user_id: Mapped[int] = mapped_column(BigInteger)
    game_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("games.id"))
    status: Mapped[str] = mapped_column(String(50))
    reward_coupon_id: Mapped[int | None] = mapped_column(BigInteger)
    request_time: Mapped[datetime] = mapped_column(Timestamp, primary_key=True)
    processed_time: Mapped[datetime | None] = mapped_column(Timestamp)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    # None is SQL NULL, not JSON null: the recorder merges its audit into an object.
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONB(none_as_null=True))
    created_at: Mapped[datetime | None] = _created()
    # Its Idempotency-Key (migration 0007); unique per player in ``play_keys``.
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    # Bound into the play's draw with its number (migration 0009, docs/fairness.md).
    client_seed: Mapped[str | None] = mapped_column(String(64))
    # Its decision's place in the game's order, which the decision log is chained in
    # (migration 0010): the Redis epoch and the store's seq.
    decision_epoch: Mapped[int | None] = mapped_column(BigInteger)
    decision_seq: Mapped[int | None] = mapped_column(BigInteger)


class PlayRetention(Base):
    """The end of the last day of plays the partition keeper dropped (migration 0013; one
    row, if any): no play requested before it is written again."""

    __tablename__ = "play_retention"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    kept_from: Mapped[datetime] = mapped_column(Timestamp)


class PlayKey(Base):
    """A player's Idempotency-Key and the play it was first used for (migration 0013): unique
    across every day of ``play_events``, which no index of a partitioned table can be."""

    __tablename__ = "play_keys"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    play_id: Mapped[uuid.UUID] = mapped_column()
    request_time: Mapped[datetime] = mapped_column(Timestamp)


class DecisionLogEntry(Base):
    """An entry of a game's decision log: a line of its ``audit.jsonl`` (migration 0010)."""

    __tablename__ = "decision_log"

    game_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("games.id"), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    play_id: Mapped[uuid.UUID | None] = mapped_column(unique=True)
    entry: Mapped[str] = mapped_column(Text)  # canonical JSON, its hash included


class DecisionLogEvent(Base):
    """A top-up of a committed game, placed in its decision order, or a pause or resume
    (migrations 0011, 0012)."""

    __tablename__ = "decision_log_events"

    game_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("games.id"), primary_key=True)
    operation: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), server_default="topUp")  # pause, resume
    brand_id: Mapped[int | None] = mapped_column(BigInteger)  # a top-up's
    coupons: Mapped[int | None] = mapped_column(Integer)
    t: Mapped[float] = mapped_column(Double)
    # A top-up falls after the decision ``seq`` of ``epoch``; a pause or resume has none.
    epoch: Mapped[int | None] = mapped_column(BigInteger)
    seq: Mapped[int | None] = mapped_column(BigInteger)
    n: Mapped[int | None] = mapped_column(BigInteger)  # its entry's position, once chained


class DecisionLogHead(Base):
    """Where a game's decision log stands (migration 0010)."""

    __tablename__ = "decision_log_heads"

    game_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("games.id"), primary_key=True)
    length: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    epoch: Mapped[int] = mapped_column(BigInteger)  # of the last decision chained
    seq: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime | None] = _created()


class PlayNumber(Base):
    """A play's number in its game for its player (1, 2, 3...; migration 0009)."""

    __tablename__ = "play_numbers"

    play_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # a play_events.play_id
    number: Mapped[int] = mapped_column(Integer)


class PlayerPlays(Base):
    """How many plays a player has made in a game: the last play number given out."""

    __tablename__ = "player_plays"

    game_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("games.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), primary_key=True)
    plays: Mapped[int] = mapped_column(Integer)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime | None] = _created()
    updated_at: Mapped[datetime | None] = _created()
    blocked: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


def play_metadata(value: object) -> dict[str, Any]:
    """A play's metadata as the object ingestion writes; anything else (SQL NULL, or JSON
    null or a list in a row written by hand) reads as empty rather than failing the
    batch that meets it."""
    return value if isinstance(value, dict) else {}
