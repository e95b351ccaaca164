"""The figures of the operator dashboard, kept cheap enough to poll every couple of seconds.

Bounded on every axis: the games shown (live and paused first, then drafts and games ended
in the last hours, at most ``GAMES_SHOWN``), the points of a series (``SERIES_POINTS``),
the minutes of the per-minute counts (``MINUTES_SHOWN``), and the codes counted per brand.

A running game's win probability now is its strategy's ``chance`` from the state Redis
holds (two reads a game, ``CHANCE_TIMEOUT`` at most); like the broker's lag, a figure that
cannot be read shows as unknown rather than failing the page.

The cumulative-awarded series buckets a game's plays by request time, which the index
``(game_id, request_time)`` serves. A bucket stops changing once its plays are decided, so
``Series`` remembers buckets older than ``SETTLED_SECONDS`` and each poll reads only the
recent ones: a game with millions of plays is read whole once per process, not per poll.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from frolic.dashboard.alerts import alerts
from frolic.dashboard.schemas import (
    BrandStock,
    Dashboard,
    GameStats,
    Lag,
    Minute,
    PacePoint,
    Phase,
    Point,
)
from frolic.engine import keys
from frolic.engine.redis_store import store_for
from frolic.engine.rules import GameRules
from frolic.engine.store import BudgetStore, GameLost
from frolic.engine.strategies import make_strategy
from frolic.engine.strategy import Strategy
from frolic.errors import NotReady
from frolic.games.repository import load_game
from frolic.monitoring.lag import consumer_lag
from frolic.plays import repository as play_rows
from frolic.resources import Resources

log = logging.getLogger(__name__)

GAMES_SHOWN = 12
ENDED_SHOWN_HOURS = 6
SERIES_POINTS = 120
MINUTES_SHOWN = 15
CODES_COUNTED = 100_000
SETTLED_SECONDS = 120.0  # a play is decided (or re-driven and decided) well within this
LAG_TIMEOUT = 1.5
CHANCE_TIMEOUT = 1.5

_GAMES = text(
    "SELECT id, name, status, probability_type, start_time, end_time, total_budget, "
    "pacing_line_t, pacing_line_from, "
    # The fairness commitment, hashed in the database: the seed itself never leaves it.
    "encode(sha256(fairness_seed), 'hex') AS commitment, "
    # Where its decision log stands (``frolic.fairness.log_rows``).
    "h.length AS chain_length, h.hash AS chain_head "
    "FROM games LEFT JOIN decision_log_heads h ON h.game_id = games.id "
    "WHERE status IN ('live', 'paused', 'draft') "
    "OR end_time > now() - make_interval(hours => :hours) "
    "ORDER BY CASE WHEN status = 'live' AND end_time > now() THEN 0 "
    "WHEN status = 'paused' THEN 1 WHEN status = 'live' THEN 2 "
    "WHEN status = 'draft' THEN 3 ELSE 4 END, id DESC LIMIT :n"
)
_BRANDS = text(
    "SELECT b.game_id, b.brand_id, br.name, b.total_coupons, b.remaining_coupons, "
    "(SELECT count(*) FROM (SELECT 1 FROM coupons c WHERE c.brand_id = b.brand_id "
    " AND c.issued_at IS NULL AND (c.game_id IS NULL OR c.game_id = b.game_id) "
    " LIMIT :cap) AS unissued) AS codes "
    "FROM game_brand_budgets b JOIN brands br ON br.id = b.brand_id "
    "WHERE b.game_id = ANY(:ids) ORDER BY b.game_id, b.brand_id"
)


@dataclass
class _Settled:
    width: float
    wins: dict[int, int] = field(default_factory=dict)  # bucket -> wins, settled buckets
    until: int = 0  # buckets below this index are settled


@dataclass
class Series:
    """Each game's settled buckets, per process."""

    games: dict[int, _Settled] = field(default_factory=dict)

    async def points(self, conn: AsyncConnection, game: Any, now: float) -> list[Point]:
        start, end = game.start_time.timestamp(), game.end_time.timestamp()
        width = max(1.0, (end - start) / SERIES_POINTS)
        settled = self.games.get(game.id)
        if settled is None or settled.width != width:
            settled = self.games[game.id] = _Settled(width)
        upto = min(now, end)
        if upto <= start:
            return []
        last = math.ceil((upto - start) / width)  # buckets 0 .. last-1 hold plays so far
        fresh = await play_rows.wins_by_bucket(
            conn, game.id, start=game.start_time, width=width,
            since=_moment(start + settled.until * width), until=game.end_time,
        )  # fmt: skip
        done = max(settled.until, math.floor((now - SETTLED_SECONDS - start) / width))
        for i in range(settled.until, min(done, last)):
            settled.wins[i] = fresh.get(i, 0)
        settled.until = max(settled.until, min(done, last))
        total, out = 0, []
        for i in range(last):
            total += settled.wins[i] if i < settled.until else fresh.get(i, 0)
            out.append(Point(t=min(start + (i + 1) * width, upto), awarded=total))
        return out


def _moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


_STILL: dict[str, Phase] = {"draft": "draft", "paused": "paused"}


def phase(status: str, start: float, end: float, now: float) -> Phase:
    if status == "live":
        return "scheduled" if now < start else "running" if now < end else "over"
    return _STILL.get(status, "ended")


def pace_line(
    budget: int, start: float, end: float, anchor: tuple[float, float] | None
) -> list[PacePoint]:
    """The pace line's corners: 0 at the start, the anchor the game's row keeps (the one
    the paced strategy runs from: ``step.line_at_load``, ``line_after_top_up``,
    ``line_at_resume``), the budget at the end. Without an anchor, the budget spread
    evenly over the window. Before the anchor the line is drawn straight from the start:
    its earlier course is not kept, and it no longer judges the pace."""
    corners = [PacePoint(t=start, coupons=0.0)]
    if anchor is not None and start <= anchor[0] <= end:
        corners.append(PacePoint(t=anchor[0], coupons=anchor[1]))
    corners.append(PacePoint(t=end, coupons=float(budget)))
    return corners


def target(line: Sequence[PacePoint], now: float) -> float:
    """Where ``line`` is at ``now``: held at its first corner before it, at its last
    after it, straight between corners."""
    if now <= line[0].t:
        return line[0].coupons
    for a, b in pairwise(line):
        if now <= b.t:  # and now > a.t, so b.t > a.t
            return a.coupons + (b.coupons - a.coupons) * (now - a.t) / (b.t - a.t)
    return line[-1].coupons


@dataclass
class DashboardState:
    """What a process keeps between polls: settled series and the last lag reading."""

    series: Series = field(default_factory=Series)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # The running games' strategies: winning_moments draws its instants once, not per poll.
    strategies: dict[GameRules, Strategy] = field(default_factory=dict)


async def dashboard(res: Resources, state: DashboardState) -> Dashboard:
    now = time.time()
    # The broker is asked while the database answers; its answer is awaited last.
    lag_task = asyncio.create_task(_lag(res))
    try:
        async with state.lock, res.db.connect() as conn:
            games = (
                await conn.execute(_GAMES, {"hours": ENDED_SHOWN_HOURS, "n": GAMES_SHOWN})
            ).all()
            ids = [g.id for g in games]
            brands = (await conn.execute(_BRANDS, {"ids": ids, "cap": CODES_COUNTED})).all()
            minutes = await _minutes(conn, ids, now)
            series = {g.id: await state.series.points(conn, g, now) for g in games}
        redis_left = await _redis_remaining(res, [(b.game_id, b.brand_id) for b in brands])
        chances = await _chances(res, state, [g.id for g in games if _running(g, now)], now)
        stats = []
        for g in games:
            start, end = g.start_time.timestamp(), g.end_time.timestamp()
            anchor = None if g.pacing_line_t is None else (g.pacing_line_t, g.pacing_line_from)
            line = pace_line(g.total_budget, start, end, anchor)
            stock = [
                BrandStock(
                    brand_id=b.brand_id, name=b.name, total=b.total_coupons,
                    remaining=b.remaining_coupons, redis_remaining=redis_left[(g.id, b.brand_id)],
                    codes_available=b.codes,
                )
                for b in brands if b.game_id == g.id
            ]  # fmt: skip
            stats.append(GameStats(
                id=g.id, name=g.name, status=g.status, phase=phase(g.status, start, end, now),
                strategy=g.probability_type, start_time=g.start_time, end_time=g.end_time,
                budget=g.total_budget, awarded=sum(b.total - b.remaining for b in stock),
                target=target(line, now), pace_line=line, brands=stock,
                series=series[g.id], minutes=minutes.get(g.id, []),
                probability=chances.get(g.id), commitment=g.commitment,
                chain_length=g.chain_length, chain_head=g.chain_head,
            ))  # fmt: skip
    except BaseException:
        lag_task.cancel()
        raise
    lag = await lag_task
    return Dashboard(now=now, games=stats, lag=lag, alerts=alerts(stats, lag, now))


def _running(game: Any, now: float) -> bool:
    start, end = game.start_time.timestamp(), game.end_time.timestamp()
    return phase(game.status, start, end, now) == "running"


async def _chances(
    res: Resources, state: DashboardState, ids: Sequence[int], now: float
) -> dict[int, float | None]:
    """The win probability of a play made ``now`` in each of the games ``ids``."""
    store = store_for(res.settings, res.redis)
    used: dict[GameRules, Strategy] = {}
    found = await asyncio.gather(*(_chance(res, store, state, used, g, now) for g in ids))
    state.strategies = used  # those of games no longer running (or rules replaced) let go
    return dict(zip(ids, found, strict=True))


async def _chance(
    res: Resources, store: BudgetStore, state: DashboardState, used: dict[GameRules, Strategy],
    game_id: int, now: float,
) -> float | None:  # fmt: skip
    """The game's strategy's ``chance`` at ``now`` from the state Redis holds; None when
    Redis holds none (never loaded, or lost) or it could not be read in time."""
    try:
        async with asyncio.timeout(CHANCE_TIMEOUT):
            view = await load_game(res.db, game_id)
            if view is None:
                return None
            pacing = await store.state(view.rules)
    except GameLost:
        return None
    except Exception as exc:  # Redis being away is what the dashboard must show
        log.warning("win chance of game %d unavailable: %s", game_id, exc)
        return None
    strategy = state.strategies.get(view.rules)
    if strategy is None:
        strategy = make_strategy(view.rules)
    used[view.rules] = strategy
    return strategy.chance(view.rules, pacing, now)


async def _minutes(
    conn: AsyncConnection, ids: Sequence[int], now: float
) -> dict[int, list[Minute]]:
    first = math.floor(now / 60) - MINUTES_SHOWN + 1
    counts = await play_rows.per_minute(conn, ids, first * 60.0)
    return {
        game: [
            Minute(t=m * 60.0, plays=counts.get((game, m), (0, 0))[0],
                   wins=counts.get((game, m), (0, 0))[1])
            for m in range(first, first + MINUTES_SHOWN)
        ]
        for game in ids
    }  # fmt: skip


async def _redis_remaining(
    res: Resources, pairs: Sequence[tuple[int, int]]
) -> dict[tuple[int, int], int | None]:
    # One MGET per game: a game's keys share a hash slot, so this works on a cluster too.
    by_game: dict[int, list[int]] = {}
    for game, brand in pairs:
        by_game.setdefault(game, []).append(brand)
    out: dict[tuple[int, int], int | None] = {}
    for game, brand_ids in by_game.items():
        try:
            values = await res.redis.mget([keys.budget(game, b) for b in brand_ids])
        except RedisError as e:
            raise NotReady(f"Redis did not answer ({type(e).__name__})") from e
        for brand, value in zip(brand_ids, values, strict=True):
            out[(game, brand)] = None if value is None else int(value)
    return out


async def _lag(res: Resources) -> list[Lag] | None:
    try:
        partitions = await consumer_lag(res.settings, timeout=LAG_TIMEOUT)
    except Exception as exc:  # the broker being away is what the dashboard must show
        log.warning("consumer lag unavailable: %s", exc)
        return None
    groups: dict[tuple[str, str], list[int]] = {}
    for p in partitions:
        groups.setdefault((p.group, p.topic), []).append(p.lag)
    return [
        Lag(group=group, topic=topic, lag=sum(lags), worst_partition=max(lags),
            partitions=len(lags))
        for (group, topic), lags in sorted(groups.items())
    ]  # fmt: skip
