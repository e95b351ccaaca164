"""The process's own metrics: counters and latency histograms the pipeline moves as plays
flow. Every process has them and serves them at ``/metrics``; a process shows only what
its own roles did, so Prometheus scrapes every process and sums across them.

Labels stay bounded: a game id or a brand id at most, never a player.

The latency histograms are ``BatchHistogram``: an allocator observes a whole batch at once,
and prometheus_client's ``Histogram.observe`` costs about 1.2 µs a value (a lock per
increment), a noticeable share of the few microseconds a decision costs. Here a value is
one bisect into a plain list, and the collector turns the counts into the usual cumulative
buckets at scrape time.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client import REGISTRY, Counter, Gauge, disable_created_metrics
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

# A ``_created`` series per counter doubles what a scrape carries and no query of ours uses it.
disable_created_metrics()  # type: ignore[no-untyped-call]

PLAYS_ACCEPTED = Counter(
    "frolic_plays_accepted", "Plays answered 202 QUEUED by POST /play, by game.", ["game"]
)
PLAYS_REFUSED = Counter(
    "frolic_plays_refused",
    "POST /play requests the gateway's checks refused, by error (RateLimited, NotFound, ...).",
    ["error"],
)
DECISIONS = Counter(
    "frolic_decisions",
    "Plays decided by the allocators, by game and outcome (win, lose); a replayed play "
    "counts again.",
    ["game", "outcome"],
)
UNCOMMITTED = Gauge(
    "frolic_consumer_uncommitted",
    "Messages this consumer-group member has been handed and not yet committed (its batch "
    "in progress), by group: what a crash now would have redelivered.",
    ["group"],
)
SKIPPED = Counter(
    "frolic_consumer_skipped",
    "Messages a consumer-group member gave up on, by group: each failed its handler again and "
    "again on its own, for a reason other than a server being away. Its play comes round "
    "again through the re-driver; above 0 means a bug to look at in the logs.",
    ["group"],
)
WINNERS = Counter(
    "frolic_winners",
    "Wins written to the ledger with their coupon code locked, by game and brand.",
    ["game", "brand"],
)


class BatchHistogram(Collector):
    """A label-less histogram observed a batch at a time, for the event loop's thread."""

    def __init__(self, name: str, documentation: str, buckets: Sequence[float]) -> None:
        self.name = name
        self.documentation = documentation
        self._bounds = sorted(buckets)
        self._counts = [0] * (len(self._bounds) + 1)  # the last one is +Inf
        self._sum = 0.0

    def observe(self, value: float) -> None:
        self._counts[bisect_left(self._bounds, value)] += 1
        self._sum += value

    def observe_all(self, values: Iterable[float]) -> None:
        counts, bounds, total = self._counts, self._bounds, 0.0
        for value in values:
            counts[bisect_left(bounds, value)] += 1
            total += value
        self._sum += total

    def collect(self) -> Iterator[HistogramMetricFamily]:
        cumulative, buckets = 0, []
        for bound, count in zip([*self._bounds, float("inf")], list(self._counts), strict=True):
            cumulative += count
            buckets.append((floatToGoString(bound), cumulative))  # type: ignore[no-untyped-call]
        yield HistogramMetricFamily(
            self.name, self.documentation, buckets=buckets, sum_value=self._sum
        )


_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

DECISION_LATENCY = BatchHistogram(
    "frolic_decision_latency_seconds",
    "From a play's request to its decision in an allocator (the Redis call done).",
    _SECONDS,
)
END_TO_END_LATENCY = BatchHistogram(
    "frolic_end_to_end_latency_seconds",
    "From a play's request to its outcome committed in the ledger and published for the "
    "reveal; it must stay under the reel (FROLIC_REVEAL_SECONDS).",
    _SECONDS,
)
REVEAL_LATENESS = BatchHistogram(
    "frolic_reveal_lateness_seconds",
    "Time a result was written to a player's socket minus its revealAt (ws role).",
    (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)

for _histogram in (DECISION_LATENCY, END_TO_END_LATENCY, REVEAL_LATENESS):
    REGISTRY.register(_histogram)


def count_decisions(game_id: int, wins: int, losses: int) -> None:
    game = str(game_id)
    if wins:
        DECISIONS.labels(game, "win").inc(wins)
    if losses:
        DECISIONS.labels(game, "lose").inc(losses)


def count_winners(wins: Iterable[tuple[int, int | None]]) -> None:
    """Count a batch's wins, each a (game, brand), one counter step per game and brand."""
    won: dict[tuple[str, str], int] = {}
    for game_id, brand in wins:
        key = (str(game_id), str(brand))
        won[key] = won.get(key, 0) + 1
    for (game_label, brand_label), n in won.items():
        WINNERS.labels(game_label, brand_label).inc(n)
