"""What the dashboard warns an operator about, from the figures it shows.

Each rule reads one figure a single poll can trust. Redis decides a win before the ledger
records it, so Redis may hold a few coupons fewer than the ledger (wins in flight); more
than a few is a recorder falling behind, and Redis holding *more* than the ledger is drift
that ``frolic reconcile`` must look at.
"""

from __future__ import annotations

from collections.abc import Sequence

from frolic.dashboard.schemas import Alert, GameStats, Lag

LAG_WARNING = 1_000
LAG_CRITICAL = 10_000
PACE_TOLERANCE = 0.10  # of the budget
PACE_MIN_COUPONS = 5
PACE_GRACE = 0.05  # of the game's duration: too early to judge the pace
STOCK_LOW = 0.10  # of a brand's budget ...
STOCK_LOW_TIME_LEFT = 0.20  # ... with this much of the game still to go
IN_FLIGHT = 20  # wins Redis may have decided that the ledger has not recorded yet


def alerts(games: Sequence[GameStats], lag: Sequence[Lag] | None, now: float) -> list[Alert]:
    found = _lag_alerts(lag)
    for game in games:
        if game.phase == "running":
            found += _pace_alerts(game, now)
            found += _stock_alerts(game, now)
        if game.status in ("live", "paused"):  # only these hold a budget in Redis
            found += _drift_alerts(game)
    found.sort(key=lambda a: a.level != "critical")
    return found


def _lag_alerts(lag: Sequence[Lag] | None) -> list[Alert]:
    if lag is None:
        return [Alert(level="warning", kind="lag", game_id=None,
                      message="the broker did not answer: consumer lag unknown")]  # fmt: skip
    out = []
    for group in lag:
        if group.lag >= LAG_WARNING:
            level = "critical" if group.lag >= LAG_CRITICAL else "warning"
            out.append(Alert(level=level, kind="lag", game_id=None, message=(
                f"{group.group} are {group.lag} messages behind on {group.topic}"
            )))  # fmt: skip
    return out


def _elapsed(game: GameStats, now: float) -> float:
    """The fraction of the game's window behind us, 0 to 1."""
    start, end = game.start_time.timestamp(), game.end_time.timestamp()
    return min(1.0, max(0.0, (now - start) / (end - start)))


def _pace_alerts(game: GameStats, now: float) -> list[Alert]:
    # Fixed odds follow the traffic, not a line: there is no pace to keep.
    if game.strategy == "fixed_odds" or _elapsed(game, now) < PACE_GRACE:
        return []
    off = game.awarded - game.target
    if abs(off) <= max(PACE_MIN_COUPONS, PACE_TOLERANCE * game.budget):
        return []
    way = "ahead of" if off > 0 else "behind"
    return [Alert(level="warning", kind="pace", game_id=game.id, message=(
        f"{game.name}: {game.awarded} awarded, {abs(off):.0f} {way} the pace line "
        f"({game.target:.0f})"
    ))]  # fmt: skip


def _stock_alerts(game: GameStats, now: float) -> list[Alert]:
    out = []
    time_left = 1 - _elapsed(game, now)
    for brand in game.brands:
        if brand.codes_available < brand.remaining:
            out.append(Alert(level="critical", kind="codes", game_id=game.id, message=(
                f"{game.name}: {brand.name} has {brand.codes_available} codes for "
                f"{brand.remaining} coupons left; import more, or wins go without a code"
            )))  # fmt: skip
        elif (
            brand.total
            and brand.remaining <= STOCK_LOW * brand.total
            and (time_left > STOCK_LOW_TIME_LEFT)
        ):
            state = "is out" if brand.remaining == 0 else "is nearly out"
            out.append(Alert(level="warning", kind="stock", game_id=game.id, message=(
                f"{game.name}: {brand.name} {state} ({brand.remaining} of {brand.total} left) "
                f"with {time_left:.0%} of the game to go"
            )))  # fmt: skip
    return out


def _drift_alerts(game: GameStats) -> list[Alert]:
    out = []
    for brand in game.brands:
        if brand.redis_remaining is None:
            out.append(Alert(level="critical", kind="drift", game_id=game.id, message=(
                f"{game.name}: Redis holds no budget for {brand.name}; plays cannot win "
                f"it (frolic reconcile --game {game.id} --rebuild)"
            )))  # fmt: skip
            continue
        behind = brand.remaining - brand.redis_remaining
        if behind < 0:
            out.append(Alert(level="critical", kind="drift", game_id=game.id, message=(
                f"{game.name}: Redis holds {-behind} more {brand.name} coupons than the "
                f"ledger (frolic reconcile --game {game.id})"
            )))  # fmt: skip
        elif behind > IN_FLIGHT:
            out.append(Alert(level="warning", kind="drift", game_id=game.id, message=(
                f"{game.name}: {behind} {brand.name} wins decided but not yet recorded "
                "(recorders behind?)"
            )))  # fmt: skip
    return out
