"""The history checker: what a load sent and was answered, against what the ledger holds.

``read_ledger`` reads PostgreSQL and Redis once the load has drained; ``check`` is pure and
turns the two into a ``Report``: counts (sent, accepted, finalized, overspent, duplicated,
lost) and one line per violated invariant of DESIGN.md §4, empty when every one holds.

    §4.1  wins per game and brand never exceed its budget
    §4.2  one playId, one outcome: PostgreSQL, Redis' idempotency record and every final
          message agree; a retried request got the same playId
    §4.3  each win holds exactly one code of its brand, from the game's pool, locked to the
          winner; no code is held by two plays; no code is issued without its win
    §4.4  every play answered QUEUED has a final outcome in PostgreSQL
    §4.6  Redis remaining + issued in PostgreSQL = total, per game and brand (and
          PostgreSQL's own remaining column agrees)
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from frolic.config import Settings
from frolic.db.models import play_metadata
from frolic.db.session import create_engine
from frolic.engine import keys
from frolic.engine.redis_state import parse_processed
from frolic.engine.redis_store import store_for
from frolic.games.repository import load_game
from frolic.redis_client import connect

FINAL = frozenset({"WIN", "LOSE"})


@dataclass
class Sent:
    """What the load did and what the API answered it."""

    plays: int = 0  # distinct plays tried: one (user, Idempotency-Key) each
    requests: int = 0  # POST /play sent, retries included
    answers: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (user, key) -> ids
    owner: dict[str, str] = field(default_factory=dict)  # playId answered QUEUED -> user
    refused: Counter[int] = field(default_factory=Counter)  # status code -> count
    # Outcomes seen outside PostgreSQL (final messages, reveals): playId -> (outcome, code).
    observed: dict[str, set[tuple[str, str | None]]] = field(default_factory=dict)

    def answered(self, user: str, key: str, play_id: str) -> None:
        self.answers.setdefault((user, key), set()).add(play_id)
        self.owner[play_id] = user

    def observe(self, play_id: str, outcome: str, code: str | None) -> None:
        self.observed.setdefault(play_id, set()).add((outcome, code))


@dataclass(frozen=True)
class Play:
    play_id: str
    game_id: int
    status: str
    user_id: int
    brand: int | None  # the brand won, as the recorder wrote it in the audit
    coupon_id: int | None
    code: str | None
    code_brand: int | None
    issued_to: int | None
    requested: float  # epoch seconds: fixes the play's Redis buckets


@dataclass(frozen=True)
class Budget:
    game_id: int
    brand_id: int
    total: int
    remaining: int  # game_brand_budgets.remaining_coupons
    in_redis: int  # budget:game:{g}:brand:{b}
    issued: int  # codes of the brand issued for the game


@dataclass(frozen=True)
class Ledger:
    plays: list[Play]  # every play of the games checked, not only the ones the load sent
    budgets: list[Budget]
    pools: dict[int, set[str]]  # game -> the codes it may hand out
    remembered: dict[str, int]  # playId -> Redis' idempotency record (brand won, 0: a loss)


@dataclass
class Report:
    sent: int = 0  # plays tried
    accepted: int = 0
    finalized: int = 0
    overspent: int = 0
    duplicated: int = 0
    lost: int = 0
    requests: int = 0
    violations: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return not (self.overspent or self.duplicated or self.lost or self.violations)

    def counts(self) -> dict[str, Any]:
        return {
            "sent": self.sent, "requests": self.requests, "accepted": self.accepted,
            "finalized": self.finalized,
            "overspent": self.overspent, "duplicated": self.duplicated, "lost": self.lost,
            "violations": list(self.violations),
        }  # fmt: skip


def check(sent: Sent, ledger: Ledger) -> Report:
    accepted = set(sent.owner)
    plays = {p.play_id: p for p in ledger.plays}
    finalized = {p for p in accepted if p in plays and plays[p].status in FINAL}
    report = Report(sent.plays, len(accepted), len(finalized), requests=sent.requests)
    _lost(report, accepted - finalized, plays)
    _one_outcome(report, sent, ledger, plays)
    _codes(report, ledger)
    _budgets(report, ledger)
    return report


def _lost(report: Report, missing: set[str], plays: dict[str, Play]) -> None:
    report.lost = len(missing)
    for play_id in sorted(missing)[:20]:
        where = plays[play_id].status if play_id in plays else "no row"
        report.violations.append(f"§4.4 play {play_id} answered QUEUED has no outcome ({where})")


def _one_outcome(report: Report, sent: Sent, ledger: Ledger, plays: dict[str, Play]) -> None:
    for (user, key), ids in sent.answers.items():
        if len(ids) > 1:
            report.duplicated += len(ids) - 1
            report.violations.append(f"§4.2 retries of {user}'s key {key} got {len(ids)} playIds")
    for play_id, brand in ledger.remembered.items():
        play = plays.get(play_id)
        if play is None or play.status not in FINAL:
            continue
        won = play.brand if play.status == "WIN" else None
        if (brand or None) != won:
            report.duplicated += 1
            report.violations.append(
                f"§4.2 play {play_id}: {play.status} brand {won} in PostgreSQL, "
                f"brand {brand or None} in Redis"
            )
    for play_id, seen in sent.observed.items():
        play = plays.get(play_id)
        ledger_says = {(play.status, play.code)} if play and play.status in FINAL else set()
        if len(seen | ledger_says) > 1:
            report.duplicated += 1
            shown = sorted(seen | ledger_says, key=str)
            report.violations.append(f"§4.2 play {play_id} has outcomes {shown}")


def _codes(report: Report, ledger: Ledger) -> None:
    holders: dict[int, list[str]] = defaultdict(list)
    for play in ledger.plays:
        if play.status != "WIN":
            continue
        if play.coupon_id is None:
            report.violations.append(f"§4.3 win {play.play_id} holds no code")
            continue
        holders[play.coupon_id].append(play.play_id)
        if play.code not in ledger.pools.get(play.game_id, set()):
            report.violations.append(f"§4.3 win {play.play_id} holds {play.code}, not its game's")
        if play.code_brand != play.brand:
            report.violations.append(
                f"§4.3 win {play.play_id} of brand {play.brand} holds a code of {play.code_brand}"
            )
        if play.issued_to != play.user_id:
            report.violations.append(f"§4.3 the code of win {play.play_id} is not locked to it")
    for coupon, ids in holders.items():
        if len(ids) > 1:
            report.duplicated += len(ids) - 1
            report.violations.append(f"§4.3 coupon {coupon} is held by plays {sorted(ids)}")


def _budgets(report: Report, ledger: Ledger) -> None:
    wins = Counter((p.game_id, p.brand) for p in ledger.plays if p.status == "WIN")
    for b in ledger.budgets:
        won = wins[(b.game_id, b.brand_id)]
        where = f"game {b.game_id} brand {b.brand_id}"
        if won > b.total:
            report.overspent += won - b.total
            report.violations.append(f"§4.1 {where}: {won} wins, budget {b.total}")
        if b.issued != won:
            report.violations.append(f"§4.3 {where}: {b.issued} codes issued for {won} wins")
        if b.in_redis + won != b.total:
            report.violations.append(
                f"§4.6 {where}: Redis {b.in_redis} + won {won} != total {b.total}"
            )
        if b.remaining != b.total - won:
            report.violations.append(
                f"§4.6 {where}: PostgreSQL remaining {b.remaining}, total {b.total} - won {won}"
            )


_PLAYS = text(
    "SELECT p.play_id, p.game_id, p.status, p.user_id, p.metadata, "
    "extract(epoch FROM p.request_time) AS requested, c.id AS coupon, c.code, "
    "c.brand_id AS code_brand, c.issued_to FROM play_events p "
    "LEFT JOIN coupons c ON c.id = p.reward_coupon_id WHERE p.game_id = ANY(:games)"
)
_BUDGETS = text(
    "SELECT b.game_id, b.brand_id, b.total_coupons, b.remaining_coupons, "
    "(SELECT count(*) FROM coupons c WHERE c.game_id = b.game_id AND c.brand_id = b.brand_id "
    "AND c.issued_at IS NOT NULL) AS issued FROM game_brand_budgets b "
    "WHERE b.game_id = ANY(:games)"
)
_POOLS = text(
    "SELECT c.game_id, c.code FROM coupons c WHERE c.game_id = ANY(:games) UNION ALL "
    "SELECT b.game_id, c.code FROM coupons c JOIN game_brand_budgets b ON b.brand_id = c.brand_id "
    "WHERE b.game_id = ANY(:games) AND c.game_id IS NULL"
)


async def read_ledger(settings: Settings, games: Iterable[int]) -> Ledger:
    """Every play, budget and code of ``games`` in PostgreSQL, with Redis' stock and
    idempotency records of them."""
    assert settings.database_url
    assert settings.redis_url
    ids = sorted(games)
    db = create_engine(settings.database_url)
    redis = connect(settings.redis_url)
    try:
        async with db.connect() as conn:
            rows = (await conn.execute(_PLAYS, {"games": ids})).all()
            budgets = (await conn.execute(_BUDGETS, {"games": ids})).all()
            pools: dict[int, set[str]] = defaultdict(set)
            for game, code in (await conn.execute(_POOLS, {"games": ids})).all():
                pools[game].add(code)
        plays = [_play(r) for r in rows]
        store = store_for(settings, redis)
        stock: dict[tuple[int, int], int] = {}
        for game_id in ids:
            view = await load_game(db, game_id)
            assert view is not None, f"no game {game_id}"
            for brand, left in (await store.stock(view.rules)).items():
                stock[(game_id, brand)] = left
        remembered = await _remembered(redis, plays)
    finally:
        await redis.aclose()
        await db.dispose()
    return Ledger(
        plays,
        [Budget(b.game_id, b.brand_id, b.total_coupons, b.remaining_coupons,
                stock.get((b.game_id, b.brand_id), 0), b.issued) for b in budgets],
        dict(pools), remembered,
    )  # fmt: skip


def _play(row: Any) -> Play:
    meta = play_metadata(row.metadata)
    brand = meta.get("brand")
    return Play(
        str(row.play_id), row.game_id, row.status, row.user_id,
        int(brand) if brand is not None else None, row.coupon, row.code, row.code_brand,
        row.issued_to, float(row.requested),
    )  # fmt: skip


async def _remembered(redis: Any, plays: list[Play]) -> dict[str, int]:
    """Redis' idempotency record of each play that has one (a Redis restart forgets them)."""
    buckets: dict[str, list[str]] = defaultdict(list)
    for play in plays:
        key = keys.processed(play.game_id, keys.processed_bucket(play.requested))
        buckets[key].append(play.play_id)
    found: dict[str, int] = {}
    for key, ids in buckets.items():
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            for play_id, raw in zip(chunk, await redis.hmget(key, chunk), strict=True):
                if raw is not None:
                    found[play_id] = parse_processed(raw)[0]
    return found
