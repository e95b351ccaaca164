"""The pacing report: ``python -m frolic_report.pacing [--out docs] [--seeds 3]``.

Regenerates ``<out>/pacing.md`` and one picture per row in ``<out>/pacing/``. Each row is
a ``frolic simulate --compare`` run: all four strategies on the same trace, for seeds
``0 .. seeds-1``. A row's seed ``s`` is exactly what ``frolic simulate --scenario ...
--plays ... --budget ... --seed s`` computes: the same traffic, game and random sources.

``run`` and ``check`` are shared with the fast gate in ``tests/sim``, so the report and
the test judge ``paced`` by the same rules. Every number the page states is computed here,
from the runs, on each regeneration.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from statistics import mean
from typing import Annotated

import numpy as np
import typer
from numpy.typing import NDArray
from rich.console import Console

from frolic.engine.paced import DEFAULT_HORIZON, Horizon
from frolic.engine.rules import STRATEGIES, StrategyName
from frolic.fairness.measures import Fairness, Ratio, ratios
from frolic.sim import runner
from frolic.sim.metrics import DEFAULT_GRID_POINTS, Metrics, evaluate, oracle_wins
from frolic.sim.plot import plot_curves
from frolic.sim.scenarios import SCENARIOS, Scenario
from frolic_report.plot import plot_tradeoff

# The issues' targets for ``paced`` (issue 3's, and issue 12's fairness and tracking).
MIN_UTILIZATION = 0.995
MIN_EXHAUSTION = 0.98
# NRMSE vs oracle: at most this from this budget up; smaller budgets are held to
# ``winning_moments`` instead (a fair lottery's error cannot go below about sqrt(k)/B).
MAX_NRMSE_BY_BUDGET = ((1000, 0.005), (500, 0.01))
# Fairness: each ratio within this band, pooled over the seeds, where plays are at least
# 2x the budget and the budget at least FAIR_BUDGET (BOT_BUDGET for the best timing bot).
FAIR_BAND = (0.8, 1.25)
FAIR_BUDGET = 500
BOT_BUDGET = 1000
BASELINES: tuple[StrategyName, ...] = ("slot", "winning_moments")
# Utilization and exhaustion are judged only where plays are at least this many budgets.
JUDGED_PLAYS_PER_COUPON = 2
# Even the oracle's last coupon unlocks only at (1 - 1/B) of the game, before 98% of it
# for B < 50; the exhaustion rule is judged only at or above this budget.
MIN_JUDGED_BUDGET = 100
# Strategies re-run with one play per batch, to tell a formula from its batching.
UNBATCHED: tuple[StrategyName, ...] = ("paced", "slot")


@dataclass(frozen=True)
class Row:
    """One line of the report: a scenario at a size and a budget."""

    name: str  # the anchor and the picture's file name
    title: str
    scenario: str
    plays: int
    budget: int
    duration: float | None = None  # None: the scenario's own
    slot_seconds: float | None = None
    about: str = ""  # None given: the scenario's description
    shift: float = 0.0  # seconds every play is moved later (those past the end dropped)

    @property
    def shape(self) -> Scenario:
        return SCENARIOS[self.scenario]

    @property
    def game(self) -> runner.Game:
        """The game ``frolic simulate`` builds for these options (odds default included)."""
        duration = self.shape.duration if self.duration is None else self.duration
        slot = self.shape.slot_seconds if self.slot_seconds is None else self.slot_seconds
        return runner.Game(self.budget, duration, slot, max(1, round(self.plays / self.budget)))

    @property
    def slots(self) -> int:
        game = self.game
        return int(np.ceil(game.duration / game.slot_seconds))

    @property
    def judges_spending(self) -> bool:
        return self.plays >= JUDGED_PLAYS_PER_COUPON * self.budget

    @property
    def judges_exhaustion(self) -> bool:
        return self.judges_spending and self.budget >= MIN_JUDGED_BUDGET

    def traffic(self, seed: int) -> NDArray[np.float64]:
        times = self.shape.generate(self.plays, self.game.duration, np.random.default_rng(seed))
        if self.shift:
            times = times + self.shift
            times = times[times < self.game.duration]
        return times

    def command(self, seed: int = 0) -> str:
        """The ``frolic simulate`` line that reproduces this row's seed and draws it."""
        extra = "" if self.duration is None else f" --duration {self.duration:g}"
        extra += "" if self.slot_seconds is None else f" --slot {self.slot_seconds:g}"
        return (
            f"frolic simulate --scenario {self.scenario} --plays {self.plays} "
            f"--budget {self.budget}{extra} --seed {seed} --compare --plot {self.name}.png"
        )


def _short(seconds: int, budget: int) -> Row:
    return Row(
        f"short-{seconds}s", f"short, {seconds} s game", "short", 150 * seconds, budget,
        float(seconds), 1.0,
        f"A {seconds}-second game in 1-second slots, about 150 plays a second: the rate "
        "varies 0.3-1.7x second to second and quadruples for the final 10 seconds.",
    )  # fmt: skip


ROWS: tuple[Row, ...] = (
    Row("flat", "flat", "flat", 200_000, 1000),
    Row("diurnal", "diurnal, 3 days", "diurnal", 300_000, 2000),
    Row("spikes", "spikes", "spikes", 200_000, 1000),
    Row("spikes-small-budget", "spikes, small budget", "spikes", 200_000, 100),
    Row("sparse-1x", "sparse, plays 1x the budget", "sparse", 1000, 1000),
    Row("sparse-2x", "sparse, plays 2x the budget", "sparse", 2000, 1000),
    Row("sparse-3x", "sparse, plays 3x the budget", "sparse", 3000, 1000),
    Row("ramp", "ramp", "ramp", 200_000, 1000),
    Row("launch", "launch burst", "launch", 200_000, 1000),
    _short(60, 100),
    _short(90, 100),
    _short(120, 200),
    Row("dead", "dead periods", "dead", 200_000, 1000),
    Row(
        "flat-large-budget",
        "flat, large budget",
        "flat",
        400_000,
        100_000,
        about="Constant rate for an hour, with a budget of a quarter of the plays.",
    ),
)


@dataclass(frozen=True)
class Run:
    """One seed of one row: the trace, each strategy's decisions and their metrics."""

    row: Row
    seed: int
    times: NDArray[np.float64]
    wins: dict[StrategyName, NDArray[np.bool_]]
    metrics: dict[StrategyName, Metrics]
    oracle: Metrics
    # Every fairness rule's ratio per strategy (None: the oracle), to pool over seeds.
    ratios: dict[StrategyName | None, dict[str, Ratio]]
    # The same strategies deciding one play per batch (only those asked for).
    unbatched: dict[StrategyName, Metrics] = field(default_factory=dict)


def run(
    row: Row,
    seed: int,
    strategies: Sequence[StrategyName] = STRATEGIES,
    unbatched: Sequence[StrategyName] = (),
    horizon: Horizon = DEFAULT_HORIZON,
) -> Run:
    times, game = row.traffic(seed), row.game

    def measured(wins: NDArray[np.bool_]) -> Metrics:
        return evaluate(times, wins, game.budget, game.duration, slot_seconds=game.slot_seconds)

    def decide(each: runner.Game, name: StrategyName) -> tuple[NDArray[np.bool_], Metrics]:
        wins = runner.simulate(times, each, name, seed=seed, horizon=horizon)
        return wins, measured(wins)

    batched = {name: decide(game, name) for name in strategies}
    single = replace(game, max_batch=1)
    oracle = oracle_wins(times, game.budget, game.duration)
    every: dict[StrategyName | None, NDArray[np.bool_]] = {None: oracle}
    every.update((name, w) for name, (w, _) in batched.items())
    return Run(
        row, seed, times,
        wins={name: w for name, (w, _) in batched.items()},
        metrics={name: m for name, (_, m) in batched.items()},
        oracle=measured(oracle),
        ratios={name: ratios(times, w, game.budget, game.duration, game.slot_seconds)
                for name, w in every.items()},
        unbatched={name: decide(single, name)[1] for name in unbatched},
    )  # fmt: skip


@dataclass(frozen=True)
class Check:
    """One of paced's targets on one seed: passed, failed, or not judged (None)."""

    target: str
    passed: bool | None
    detail: str


TARGETS = (
    "never overspends",
    f"uses >= {MIN_UTILIZATION:.1%}",
    f"not out before {MIN_EXHAUSTION:.0%}",
    "NRMSE vs oracle within target",
    *(f"as good as {name}" for name in BASELINES),
)
# Judged on the seeds pooled, per row (``RowResult.fair``).
FAIR_TARGETS = (
    f"memory, line and slot phase in [{FAIR_BAND[0]}, {FAIR_BAND[1]}]",
    f"best timing bot <= {FAIR_BAND[1]}",
)


def max_nrmse(budget: int) -> float | None:
    """The NRMSE vs oracle ``paced`` must keep at this budget; None below the smallest
    budget that has one (there it must match ``winning_moments``)."""
    return next((bound for least, bound in MAX_NRMSE_BY_BUDGET if budget >= least), None)


def check(row: Row, metrics: dict[StrategyName, Metrics]) -> list[Check]:
    """Paced's targets on one seed, in the order of ``TARGETS``."""
    paced = metrics["paced"]
    spending, out = row.judges_spending, paced.exhaustion_time
    bound = max_nrmse(row.budget)
    checks = [
        Check(TARGETS[0], paced.overspend == 0, f"overspend {paced.overspend}"),
        Check(
            TARGETS[1],
            paced.utilization >= MIN_UTILIZATION if spending else None,
            f"utilization {paced.utilization:.3%}",
        ),
        Check(
            TARGETS[2],
            (out is None or out >= MIN_EXHAUSTION) if row.judges_exhaustion else None,
            "never exhausted" if out is None else f"exhausted at {out:.2%}",
        ),
        Check(
            TARGETS[3],
            None if bound is None else paced.nrmse_vs_oracle <= bound,
            f"NRMSE vs oracle {paced.nrmse_vs_oracle:.4f}"
            + ("" if bound is None else f" (target {bound})"),
        ),
        _compare(TARGETS[4], paced, metrics["slot"], spending),
    ]
    moments = _compare(TARGETS[5], paced, metrics["winning_moments"], spending)
    checks.append(moments if bound is None else replace(moments, passed=None))
    return checks


def _compare(target: str, paced: Metrics, other: Metrics, spending: bool) -> Check:
    """At least as close to the oracle and, where judged, at least as much of the budget."""
    worse = []
    if paced.nrmse_vs_oracle > other.nrmse_vs_oracle:
        worse.append(f"NRMSE {paced.nrmse_vs_oracle:.4f} > {other.nrmse_vs_oracle:.4f}")
    if spending and paced.utilization < other.utilization:
        worse.append(
            f"awarded {paced.awarded:,} < {other.awarded:,} "
            f"(utilization {paced.utilization:.3%} < {other.utilization:.3%})"
        )
    detail = "; ".join(worse) or f"NRMSE {paced.nrmse_vs_oracle:.4f} <= {other.nrmse_vs_oracle:.4f}"
    return Check(target, not worse, detail)


@dataclass(frozen=True)
class RowResult:
    row: Row
    runs: list[Run]

    @property
    def worst_seed(self) -> Run:
        """Paced's worst seed, the one pictured: the most targets failed, then the furthest
        from the oracle."""

        def badness(r: Run) -> tuple[int, float]:
            failed = sum(c.passed is False for c in check(self.row, r.metrics))
            return failed, r.metrics["paced"].nrmse_vs_oracle

        return max(self.runs, key=badness)

    def values(self, name: StrategyName | None, metric: str) -> list[float]:
        """A metric per seed; ``None`` names the oracle."""
        return [float(getattr(_of(r, name), metric)) for r in self.runs]

    def exhaustions(self, name: StrategyName | None) -> list[float | None]:
        return [_of(r, name).exhaustion_time for r in self.runs]

    def verdict(self, target: int) -> Check:
        """Failed if any seed failed (with that seed's numbers), else the worst seed's."""
        per_seed = [check(self.row, r.metrics)[target] for r in self.runs]
        for r, each in zip(self.runs, per_seed, strict=True):
            if each.passed is False:
                return replace(each, detail=f"seed {r.seed}: {each.detail}")
        return per_seed[self.runs.index(self.worst_seed)]

    def fairness(self, name: StrategyName | None) -> Fairness:
        """The fairness measures pooled over the seeds; ``None`` names the oracle."""
        return Fairness.of(r.ratios[name] for r in self.runs)

    def fair(self) -> list[Check]:
        """Paced's fairness targets, in the order of ``FAIR_TARGETS``."""
        f, row = self.fairness("paced"), self.row
        low, high = FAIR_BAND
        judged = row.judges_spending and row.budget >= FAIR_BUDGET
        measures = (
            f"memory {_ratio(f.memory)}, line phase {_ratio(f.line_phase)}, "
            f"slot phase {_ratio(f.slot_phase)}"
        )
        bot = row.judges_spending and row.budget >= BOT_BUDGET
        return [
            Check(FAIR_TARGETS[0], f.within(low, high, bot=False) if judged else None, measures),
            Check(
                FAIR_TARGETS[1],
                (f.best_bot is not None and f.best_bot <= high) if bot else None,
                f"{_ratio(f.best_bot)} ({f.best_bot_rule})",
            ),
        ]

    def failures(self) -> list[Check]:
        per_seed = [v for t in range(len(TARGETS)) if (v := self.verdict(t)).passed is False]
        return per_seed + [c for c in self.fair() if c.passed is False]


def _of(r: Run, name: StrategyName | None) -> Metrics:
    return r.oracle if name is None else r.metrics[name]


def measure(rows: Sequence[Row], seeds: int, log: Callable[[str], None]) -> list[RowResult]:
    """Every row over every seed, with a line of progress per row."""
    results = []
    for index, row in enumerate(rows, 1):
        started = time.perf_counter()
        result = RowResult(row, [run(row, s, unbatched=UNBATCHED) for s in range(seeds)])
        results.append(result)
        failed = result.failures()
        log(
            f"[{index}/{len(rows)}] {row.name}: {row.plays:,} plays, budget {row.budget:,}, "
            f"{seeds} seed(s) in {time.perf_counter() - started:.1f} s; paced's worst NRMSE "
            f"vs oracle {max(result.values('paced', 'nrmse_vs_oracle')):.4f}; "
            + (f"FAILED: {'; '.join(f.detail for f in failed)}" if failed else "targets met")
        )
    return results


def draw(results: Sequence[RowResult], pictures: Path) -> None:
    pictures.mkdir(parents=True, exist_ok=True)
    for result in results:
        r, row = result.worst_seed, result.row
        title = (
            f"{row.title}: {row.plays:,} plays, budget {row.budget:,}, seed {r.seed} "
            f"(paced's worst of {len(result.runs)})"
        )
        wins = {str(name): w for name, w in r.wins.items()}
        plot_curves(pictures / f"{row.name}.png", r.times, wins, row.budget,
                    row.game.duration, title)  # fmt: skip


# -- the page -----------------------------------------------------------------------------

Lines = list[str]


def _pct(value: float) -> str:
    """Two decimals, or three where two would round a shortfall up to 100%."""
    text = f"{value:.2%}"
    return f"{value:.3%}" if text == "100.00%" and value < 1 else text


def _span(values: Sequence[float], fmt: Callable[[float], str]) -> str:
    """``low-high`` over the seeds, or the one value when they agree to the digits shown."""
    low, high = fmt(min(values)), fmt(max(values))
    return low if low == high else f"{low}-{high}"


def _nrmse(value: float) -> str:
    return f"{value:.4f}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _exhausted(values: Sequence[float | None], worst: bool) -> str:
    """Paced: the earliest seed ('never' if no seed ran out). Others: the mean of the seeds
    that ran out, and how many did when not all."""
    times = [v for v in values if v is not None]
    if not times:
        return "never"
    if worst:
        return _pct(min(times))
    text = _pct(mean(times))
    return text if len(times) == len(values) else f"{text} ({len(times)} of {len(values)})"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> Lines:
    return [
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
        *("| " + " | ".join(cells) + " |" for cells in rows),
    ]


def _strategy_cells(result: RowResult, name: StrategyName | None) -> list[str]:
    """Paced's worst seed per metric; the mean over seeds for the others and the oracle."""
    worst, n = name == "paced", len(result.runs)

    def pick(metric: str, high_is_bad: bool = True) -> float:
        values = result.values(name, metric)
        if not worst:
            return mean(values)
        return max(values) if high_is_bad else min(values)

    awarded = pick("awarded", high_is_bad=False)
    label = "oracle" if name is None else name
    return [
        f"**paced** (worst of {n})" if worst else f"{label} (mean of {n})",
        f"{awarded:,.0f}" if worst or awarded == round(awarded) else f"{awarded:,.1f}",
        f"{pick('overspend'):g}",
        _pct(pick("utilization", high_is_bad=False)),
        _exhausted(result.exhaustions(name), worst),
        "0 (by definition)" if name is None else _nrmse(pick("nrmse_vs_oracle")),
        _nrmse(pick("nrmse_vs_target")),
        _nrmse(pick("max_gap_vs_target")),
        *_fair_cells(result.fairness(name)),
    ]


def _fair_cells(f: Fairness) -> list[str]:
    return [_ratio(f.memory), _ratio(f.line_phase), _ratio(f.slot_phase),
            f"{_ratio(f.best_bot)} ({f.best_bot_rule})"]  # fmt: skip


def _cell(check: Check) -> str:
    if check.passed is None:
        return "n/a"
    return "pass" if check.passed else f"**FAIL** ({check.detail})"


def _summary(results: Sequence[RowResult]) -> Lines:
    head = ["row", "plays", "budget", "paced used", "paced out at", "paced NRMSE vs oracle",
            "memory", "line phase", "slot phase", "best bot", *TARGETS, *FAIR_TARGETS]  # fmt: skip
    rows = [
        [
            f"[{result.row.name}](#{result.row.name})",
            f"{result.row.plays:,}",
            f"{result.row.budget:,}",
            _pct(min(result.values("paced", "utilization"))),
            _exhausted(result.exhaustions("paced"), worst=True),
            _nrmse(max(result.values("paced", "nrmse_vs_oracle"))),
            *_fair_cells(result.fairness("paced")),
            *(_cell(result.verdict(t)) for t in range(len(TARGETS))),
            *(_cell(c) for c in result.fair()),
        ]
        for result in results
    ]
    return _table(head, rows)


def _section(result: RowResult, pictures: str) -> Lines:
    row, game, worst = result.row, result.row.game, result.worst_seed
    head = ["strategy", "awarded", "overspend", "utilization", "exhausted at",
            "NRMSE vs oracle", "NRMSE vs target", "max gap", "memory", "line phase",
            "slot phase", "best bot"]  # fmt: skip
    names: list[StrategyName | None] = [*STRATEGIES, None]
    return [
        f'<a id="{row.name}"></a>',
        "",
        f"### {row.title}",
        "",
        f"{row.about or row.shape.description} {row.plays:,} plays, budget {row.budget:,}, "
        f"a {game.duration:g} s game in {row.slots:,} slots of {game.slot_seconds:g} s: "
        f"{row.plays / row.budget:g} plays per coupon, {row.plays / row.slots:.3g} plays and "
        f"{row.budget / row.slots:.3g} coupons per slot on average.",
        "",
        *_table(head, [_strategy_cells(result, name) for name in names]),
        "",
        f"Pictured: seed {worst.seed}, paced's worst (the most targets failed, then the "
        "furthest from the oracle). "
        f"`{row.command(worst.seed)}` redraws it.",
        "",
        f"![{row.title}: cumulative coupons awarded per strategy]({pictures}/{row.name}.png)",
        "",
    ]


def _per_seed(results: Sequence[RowResult]) -> Lines:
    compared: tuple[StrategyName, ...] = ("paced", *BASELINES)
    head = ["row", "seed", *(f"{n} NRMSE" for n in compared), *(f"{n} awarded" for n in compared),
            "oracle awarded", "paced out at"]  # fmt: skip
    rows = []
    for result in results:
        for r in result.runs:
            out = r.metrics["paced"].exhaustion_time
            rows.append([
                result.row.name, str(r.seed),
                *(_nrmse(r.metrics[n].nrmse_vs_oracle) for n in compared),
                *(f"{r.metrics[n].awarded:,}" for n in compared),
                f"{r.oracle.awarded:,}",
                "never" if out is None else _pct(out),
            ])  # fmt: skip
    return _table(head, rows)


def _intro(results: Sequence[RowResult], seeds: int) -> Lines:
    failed = [(result.row.name, f) for result in results for f in result.failures()]
    met = sum(1 for result in results if not result.failures())
    verdict = (
        f"`paced` meets every target on all {len(results)} rows."
        if not failed
        else f"`paced` meets every target on {met} of {len(results)} rows. It fails: "
        + "; ".join(f"**{name}**, *{f.target}*: {f.detail}" for name, f in failed)
        + ". The [Batching](#batching) section re-runs it with one play per batch."
    )
    return [
        "# Pacing: how each strategy spends a game's budget",
        "",
        "<!-- Generated by `python -m frolic_report.pacing`; "
        "edit tools/frolic_report/pacing.py instead. -->",
        "",
        "Each row runs the four strategies on the same traffic, as `frolic simulate --compare` "
        f"does, for seeds 0 to {seeds - 1}. **`paced` is shown at its worst seed** (for each "
        "metric, the worst value over the seeds); the other strategies and the oracle at their "
        "**mean** over the seeds. Comparisons between `paced` and a baseline are made seed by "
        "seed, on the same trace; the [per-seed table](#per-seed) has every figure they use.",
        "",
        verdict,
        "",
    ]


def _reproduce(seeds: int) -> Lines:
    example = next(r for r in ROWS if r.name == "spikes-small-budget")
    return [
        "## Reproduce",
        "",
        "```sh",
        ". .venv/bin/activate",
        f"python -m frolic_report.pacing --out docs --seeds {seeds}"
        "  # this page, docs/pacing/*.png",
        f"{example.command(0)}   # one row, one seed",
        "```",
        "",
        "Every row gives the `frolic simulate` line for its pictured seed; the command prints "
        "the same metrics as the tables (`--json` for a machine-readable copy, `--decisions "
        "OUT.csv` for each play's outcome). To replay recorded traffic instead, give "
        "`--trace PLAYS.csv --duration SECONDS` (a CSV with a header `t` and one play time "
        "per line, in seconds since the start).",
        "",
    ]


def _definitions() -> Lines:
    return [
        "## What the numbers mean",
        "",
        "A game has a budget of *B* coupons, lasts *T* seconds and is cut into slots of 1-5 s. "
        "The simulator sends the plays through the production decision path (`engine.Engine` "
        "on an in-memory store) the way an allocator does: in batches of the plays that arrive "
        "within 50 ms of each other, at most 500, each batch planned from the state the "
        "previous one left. Definitions, from `frolic/sim/metrics.py`:",
        "",
        "- **target**: the line *B·t/T*, the budget spread evenly over the game.",
        "- **oracle**: awards a play at time *t* if and only if fewer than *B·t/T* coupons "
        "(and fewer than *B*) have gone so far. It knows nothing of the future but follows "
        "the target as tightly as the plays allow; where traffic has gaps it trails the line "
        "too, so comparing with the oracle separates a strategy's own error from what the "
        "traffic made unavoidable.",
        "- **awarded**, **overspend** (awarded beyond *B*, never allowed), **utilization** "
        "(awarded / *B*).",
        "- **exhausted at**: the fraction of the game elapsed when the *B*-th coupon went; "
        "*never* if it did not.",
        "- **NRMSE vs oracle**: the root-mean-square difference between the strategy's "
        "cumulative-awarded curve and the oracle's, sampled at "
        f"{DEFAULT_GRID_POINTS:,} evenly spaced instants of [0, *T*], divided by *B*.",
        "- **NRMSE vs target**: the same against the line *B·t/T*.",
        "- **max gap**: the largest distance between the cumulative-awarded curve and the "
        "line over [0, *T*], divided by *B*, computed exactly at the curve's steps.",
        "",
        "Fairness, from `frolic/fairness/measures.py` (issue 12's definitions). Each is a "
        "*Mantel-Haenszel win-rate ratio* of a set *S* of plays against the other plays: the "
        "game is cut into 50 equal time bins, and the ratio is "
        "Σ_b (wins in S∩b · n_other,b / n_b) / Σ_b (wins in other∩b · n_S,b / n_b) over "
        "the bins with at least 5 plays on each side. It compares plays made at the same "
        "time of the game, so a win rate that merely drifts with time does not count; a fair "
        "lottery scores about 1. The tables pool the seeds (every seed's bins in one sum).",
        "",
        "- **memory**: *S* = the plays within *T*/(2*B*) after the latest earlier win.",
        "- **line phase**: *S* = the plays in the first 10% of a step of the line *B·t/T* "
        "(it steps up a coupon every *T*/*B* seconds).",
        "- **slot phase**: *S* = the plays in the first 25% of their slot.",
        "- **best bot**: the largest ratio over every timing rule a player could follow from "
        "public information (the budget, the duration, the slot size, the clock, and a "
        "winners feed), with the rule that reached it: the three sets above and their "
        "complements, each tenth of a line step, each tenth of a slot, and the windows "
        "0-0.5, 0.5-1, 1-2, 2-4 and 4+ times *T*/(2*B*) after the latest win. It is the "
        "largest of 31 noisy ratios, so even a lottery with one fixed probability scores "
        "above 1 (`fixed_odds` in the tables).",
        "",
        "## Targets",
        "",
        "On every row, `paced` must:",
        "",
        "1. never overspend;",
        f"2. use at least {MIN_UTILIZATION:.1%} of the budget where plays are at least "
        f"{JUDGED_PLAYS_PER_COUPON}x the budget;",
        f"3. in those same rows, not exhaust the budget before {MIN_EXHAUSTION:.0%} of the "
        "game has passed;",
        "4. keep its NRMSE vs oracle at or below "
        + " and ".join(f"{bound} where *B* >= {least:,}" for least, bound in MAX_NRMSE_BY_BUDGET)
        + ";",
        "5. be at least as good as `slot` everywhere, and as `winning_moments` where *B* < "
        f"{MAX_NRMSE_BY_BUDGET[-1][0]}: an NRMSE vs oracle no higher and, where plays are at "
        "least 2x the budget, a utilization no lower, on each seed;",
        f"6. be a fair lottery where plays are at least 2x the budget and *B* >= {FAIR_BUDGET}: "
        f"memory, line phase and slot phase each within [{FAIR_BAND[0]}, {FAIR_BAND[1]}], "
        f"pooled over the seeds; where *B* >= {BOT_BUDGET:,}, the best timing bot too.",
        "",
        "The exhaustion rule needs budgets of at least "
        f"{MIN_JUDGED_BUDGET}: even the oracle's last coupon unlocks only once *B·t/T > B-1*, "
        "at (1 - 1/*B*) of the game, which is before 98% of it for any budget under 50 and "
        "only 1% of the game from the end at *B* = 100. Every row where the rule is judged "
        f"has *B* >= {MIN_JUDGED_BUDGET}. *n/a* marks a target a row does not judge.",
        "",
    ]


def _discussion(results: Sequence[RowResult]) -> Lines:
    by = {result.row.name: result for result in results}

    def nrmse(row: str, name: StrategyName) -> str:
        return _span(by[row].values(name, "nrmse_vs_oracle"), _nrmse)

    def out(row: str, name: StrategyName) -> str:
        times = [t for t in by[row].exhaustions(name) if t is not None]
        return _span(times, _pct) if times else "never"

    def used(row: str, name: StrategyName | None) -> str:
        return _span(by[row].values(name, "utilization"), lambda v: f"{v:.1%}")

    def per_slot(row: str) -> str:
        r = by[row].row
        return (
            f"{r.budget:,} coupons over {r.slots:,} slots (*P_base* = {r.budget / r.slots:.3f} "
            f"at the start) with {r.plays / r.slots:.3g} plays per slot on average"
        )

    dense = ("flat", "spikes", "ramp", "launch")
    dense_slot = [v for row in dense for v in by[row].values("slot", "nrmse_vs_oracle")]
    dense_paced = [v for row in dense for v in by[row].values("paced", "nrmse_vs_oracle")]
    moments = _moments_by_budget(results)
    return [
        "## Why the baselines fail where they fail",
        "",
        "Ranges are over the seeds.",
        "",
        "**`slot`, the seed's formula** (*P_base* = remaining / slots left).",
        "",
        "- *Case 1 assumes one play per slot.* With fewer coupons than slots left, every play "
        "wins with probability *P_base*, so a slot of *n* plays spends *n* times the slot's "
        f"share. `spikes-small-budget`: {per_slot('spikes-small-budget')}; it ran out at "
        f"{out('spikes-small-budget', 'slot')} of the game, NRMSE vs oracle "
        f"{nrmse('spikes-small-budget', 'slot')}. `diurnal`: {per_slot('diurnal')}; out at "
        f"{out('diurnal', 'slot')}, NRMSE {nrmse('diurnal', 'slot')}.",
        "- *Case 2 does not catch up.* With a coupon or more per slot, each slot gets a fixed "
        "share; what a slot without plays leaves is spread over all the slots left instead "
        "of going to the next plays. `dead`: NRMSE vs oracle "
        f"{nrmse('dead', 'slot')}, where `paced` ({nrmse('dead', 'paced')}) and "
        f"`winning_moments` ({nrmse('dead', 'winning_moments')}) pay the backlog as soon as "
        "plays return.",
        "- *A fixed share wastes plays that are scarce.* `sparse-1x` has as many plays as "
        "coupons, so every play refused is a coupon never given; a share of one or two per "
        f"slot refuses the busy slots' extra plays: {used('sparse-1x', 'slot')} of the budget "
        f"used, against {used('sparse-1x', 'paced')} for `paced` and "
        f"{used('sparse-1x', None)} for the oracle. At twice as many plays (`sparse-2x`) it "
        f"still leaves coupons: {used('sparse-2x', 'slot')} used, against "
        f"{used('sparse-2x', 'paced')} for `paced`.",
        "- Where there is more than a coupon per slot and traffic never stops (`flat`, "
        "`spikes`, `ramp`, `launch` at *B* = 1,000) it stays near the line: NRMSE vs oracle "
        f"{_span(dense_slot, _nrmse)}, within 0.01, against {_span(dense_paced, _nrmse)} for "
        "`paced`.",
        "",
        "**`winning_moments`**: *B* instants drawn uniformly over the game from the game's "
        "seed, whatever the traffic. Where plays are dense each instant is claimed almost at "
        "once, so the curve is the spread of *B* uniform draws around the line, and its error "
        "in budgets shrinks as the budget grows. Mean NRMSE vs oracle by budget: "
        + ", ".join(f"{value:.4f} at *B* = {budget:,}" for budget, value in moments)
        + ". It misses 0.01 on every seed of the rows with *B* <= 200 "
        f"(`short-90s`: {nrmse('short-90s', 'winning_moments')}; `spikes-small-budget`: "
        f"{nrmse('spikes-small-budget', 'winning_moments')}) and on some seeds at *B* = "
        f"1,000 (`flat`: {nrmse('flat', 'winning_moments')}). The instants depend only on the "
        "seed and the budget, so rows with the same budget and seed repeat its figures: "
        + ", ".join(
            f"`{row}` seed {r.seed}: {_nrmse(r.metrics['winning_moments'].nrmse_vs_oracle)}"
            for row in ("flat", "ramp", "launch")
            for r in by[row].runs[-1:]
        )
        + ". "
        "Unclaimed instants roll over to the next play, so dead periods cost it little "
        f"(`dead`: {nrmse('dead', 'winning_moments')}); its error is the luck of the draw.",
        "",
        "**`fixed_odds`** (not one of the targets' baselines): every play wins with "
        "probability 1/*N*, *N* = plays / budget, so it spends with the traffic, not with "
        f"time: NRMSE vs oracle {nrmse('launch', 'fixed_odds')} on `launch`, "
        f"{nrmse('ramp', 'fixed_odds')} on `ramp`, {nrmse('spikes', 'fixed_odds')} on "
        f"`spikes`, {nrmse('diurnal', 'fixed_odds')} on `diurnal`; and the draw leaves "
        f"coupons unspent ({used('short-90s', 'fixed_odds')} used on `short-90s`).",
        "",
        "**What no strategy can avoid.** Without plays nothing can be awarded, so the "
        "distance to the line measures the traffic as much as the strategy: on `dead` the "
        f"oracle itself is {_span(by['dead'].values(None, 'max_gap_vs_target'), _nrmse)} of "
        "the budget behind the line at the end of the longest dead period (max gap), and on "
        f"`sparse-1x` it uses {used('sparse-1x', None)}. That is why the targets measure "
        "`paced` against the oracle rather than the line.",
        *_empty_endings(results),
        "",
        *_batching(results),
        *_context(results),
    ]


def _empty_endings(results: Sequence[RowResult]) -> Lines:
    """Runs whose last 1/B of the game has no play: the line unlocks the last coupon only
    there, so nothing held to the line (paced, the oracle) can award it."""
    cases = []
    for result in results:
        game = result.row.game
        unlock = game.duration * (1 - 1 / game.budget)
        for r in result.runs:
            if result.row.judges_spending and not np.any(r.times > unlock):
                cases.append(
                    f"`{result.row.name}` seed {r.seed} (oracle {r.oracle.awarded:,}, `paced` "
                    f"{r.metrics['paced'].awarded:,}, `slot` {r.metrics['slot'].awarded:,}, "
                    f"`winning_moments` {r.metrics['winning_moments'].awarded:,})"
                )
    if not cases:
        return []
    return [
        "",
        "The last coupon unlocks only in the last 1/*B* of the game; where no play arrives "
        "there, neither the oracle nor `paced` can award it, while `slot` and "
        "`winning_moments`, which are not held to the line, may: " + "; ".join(cases) + ".",
    ]


def _moments_by_budget(results: Sequence[RowResult]) -> list[tuple[int, float]]:
    """winning_moments' mean NRMSE vs oracle over the rows of each budget, but sparse-1x
    (where plays, not the draw, limit it)."""
    by_budget: dict[int, list[float]] = {}
    for result in results:
        if result.row.judges_spending:
            by_budget.setdefault(result.row.budget, []).extend(
                result.values("winning_moments", "nrmse_vs_oracle")
            )
    return [(budget, mean(values)) for budget, values in sorted(by_budget.items())]


def _batching(results: Sequence[RowResult]) -> Lines:
    def cells(result: RowResult) -> list[str]:
        def both(name: StrategyName, metric: str, fmt: Callable[[float], str]) -> str:
            batched = _span(result.values(name, metric), fmt)
            single = _span([float(getattr(r.unbatched[name], metric)) for r in result.runs], fmt)
            return f"{batched} / {single}"

        def outs(name: StrategyName) -> str:
            batched = _exhausted(result.exhaustions(name), worst=True)
            single = [r.unbatched[name].exhaustion_time for r in result.runs]
            return f"{batched} / {_exhausted(single, worst=True)}"

        return [
            f"[{result.row.name}](#{result.row.name})",
            both("slot", "awarded", lambda v: f"{v:,.0f}"),
            outs("slot"),
            both("slot", "nrmse_vs_oracle", _nrmse),
            both("paced", "awarded", lambda v: f"{v:,.0f}"),
            both("paced", "nrmse_vs_oracle", _nrmse),
        ]

    head = ["row", "slot awarded", "slot out at (earliest)", "slot NRMSE vs oracle",
            "paced awarded", "paced NRMSE vs oracle"]  # fmt: skip
    return [
        '<a id="batching"></a>',
        "",
        "## Batching",
        "",
        "`slot` and `paced` plan a whole batch from the state the store returned after the "
        "previous one, judging each play as the store will (its caps, a slot's share). "
        "Re-running both with one play per batch checks that batching changes nothing but "
        "the number of store calls: each cell is *batched / one play per batch*, ranges over "
        "the seeds.",
        "",
        *_table(head, [cells(result) for result in results]),
        "",
        _batching_verdict(results),
        "",
        "This table found a bug: the plans used to count a play that *wanted* to win as spent "
        "even when the store would refuse it, so a batch could stop trying with coupons left "
        "(`paced` left one coupon of 100,000 on `flat-large-budget`), and `slot` could open a "
        "slot in case 1, uncapped, in the middle of a batch (its short games ran out at "
        "15-85% instead of after 98%).",
        "",
    ]


def _batching_verdict(results: Sequence[RowResult]) -> str:
    differ = [
        result.row.name
        for result in results
        for r in result.runs
        for name in ("slot", "paced")
        if r.metrics[name].awarded != r.unbatched[name].awarded
        or r.metrics[name].exhaustion_time != r.unbatched[name].exhaustion_time
    ]
    if not differ:
        return (
            "Batched and one-play-per-batch runs award the same number of coupons and run "
            "out at the same moment on every row and seed."
        )
    return "Batching changes what is awarded on: " + ", ".join(sorted(set(differ))) + "."


def _context(results: Sequence[RowResult]) -> Lines:
    paced = [v for result in results for v in result.values("paced", "nrmse_vs_oracle")]
    return [
        "## Context: published figures",
        "",
        "Quoted from the issue's survey, not measured here, and measured on other traces "
        "against other yardsticks, so only a sense of scale: the best published pacers reach "
        "an NRMSE of 0.04 (PID) to 0.09 (Smart Pacing) on their own traces; the seed formula "
        "runs out in the first 10-70% of a game under realistic traffic; uniform winning "
        "moments land at 0.013-0.065. Here `paced`'s NRMSE vs oracle is at most "
        f"{max(paced):.4f} over every row and seed, as a fair lottery.",
        "",
    ]


# -- the trade-offs: what a longer horizon or a faster catch-up buys, and costs --------------

HORIZON_SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)
HORIZON_ROWS = ("flat", "spikes")
CATCH_UPS = (1.0, 3.0, 10.0, 20.0, 50.0)
# The dead periods of ``dead`` end on a slot's and a line step's first instant; this moves
# them off both, to tell what the alignment does to the ratios from what the catch-up does.
DEAD_SHIFT = 1.7


@dataclass(frozen=True)
class Point:
    knob: float  # the horizon in wins, or the catch-up factor
    nrmse: float  # paced's worst seed
    fairness: Fairness  # pooled over the seeds


def sweep(row: Row, seeds: int, horizons: Sequence[Horizon], knob: Callable[[Horizon], float]
          ) -> list[Point]:  # fmt: skip
    points = []
    for horizon in horizons:
        runs = [run(row, s, ("paced",), horizon=horizon) for s in range(seeds)]
        points.append(Point(
            knob(horizon), max(r.metrics["paced"].nrmse_vs_oracle for r in runs),
            Fairness.of(r.ratios["paced"] for r in runs),
        ))  # fmt: skip
    return points


@dataclass(frozen=True)
class Tradeoffs:
    horizon: dict[str, list[Point]]  # by row
    catch_up: list[Point]  # on dead
    shifted: Point  # dead, every play DEAD_SHIFT seconds later, at the default catch-up


def _wins(horizon: Horizon, budget: int) -> float:
    return horizon.wins(budget)


def tradeoffs(seeds: int, log: Callable[[str], None]) -> Tradeoffs:
    by = {row.name: row for row in ROWS}
    horizon = {}
    for name in HORIZON_ROWS:
        row = by[name]
        log(f"trade-off: the horizon on {name}")
        scaled = [replace(DEFAULT_HORIZON, scale=s) for s in HORIZON_SCALES]
        horizon[name] = sweep(row, seeds, scaled, partial(_wins, budget=row.budget))
    log("trade-off: the catch-up on dead")
    faster = [replace(DEFAULT_HORIZON, catch_up=c) for c in CATCH_UPS]
    shifted = replace(by["dead"], shift=DEAD_SHIFT)
    (off,) = sweep(shifted, seeds, [DEFAULT_HORIZON], lambda h: h.catch_up)
    return Tradeoffs(horizon, sweep(by["dead"], seeds, faster, lambda h: h.catch_up), off)


def draw_tradeoffs(t: Tradeoffs, pictures: Path) -> None:
    def curve(points: list[Point], measure: str, unit: str) -> list[tuple[float, float, str]]:
        return [(p.nrmse, getattr(p.fairness, measure) or math.nan, f"{unit}{p.knob:.3g}")
                for p in points]  # fmt: skip

    horizon = {}
    for name, points in t.horizon.items():
        horizon[f"{name}: memory"] = curve(points, "memory", "k=")
        horizon[f"{name}: best bot"] = curve(points, "best_bot", "k=")
    plot_tradeoff(
        pictures / "tradeoff-horizon.png",
        "paced: the horizon k trades tracking for fairness (B = 1,000)",
        horizon, "NRMSE vs oracle (worst seed)", "win-rate ratio (pooled seeds)", FAIR_BAND,
        MAX_NRMSE_BY_BUDGET[0][1],
    )  # fmt: skip
    plot_tradeoff(
        pictures / "tradeoff-catch-up.png",
        "paced on dead periods: the catch-up factor trades tracking for fairness",
        {m.replace("_", " "): curve(t.catch_up, m, "x")
         for m in ("memory", "line_phase", "slot_phase")},
        "NRMSE vs oracle (worst seed)", "win-rate ratio (pooled seeds)", FAIR_BAND,
        MAX_NRMSE_BY_BUDGET[0][1],
    )  # fmt: skip


def _tradeoff_section(t: Tradeoffs, results: Sequence[RowResult], pictures: str) -> Lines:
    def rows(points: list[Point], knob: str) -> list[list[str]]:
        return [[f"{knob}{p.knob:.3g}", _nrmse(p.nrmse), *_fair_cells(p.fairness)] for p in points]

    head = ["knob", "paced NRMSE vs oracle (worst seed)", "memory", "line phase", "slot phase",
            "best bot"]  # fmt: skip
    lines: Lines = [
        '<a id="trade-off"></a>',
        "",
        "## The trade-off: tracking against fairness",
        "",
        "`paced` aims to be back on the line a horizon of *k* wins ahead and spreads what that "
        "needs over the plays forecast in it (`PacedStrategy`, `docs/decisions.md`). A win "
        "lowers the next plays' probability by about 1/*k* of itself and a quiet spell raises "
        "it as much, so a small *k* tracks tightly and lets a player who watches the winners "
        "feed time their plays; a large *k* is fairer and wanders further from the line. "
        f"*k* grows with the budget; the default at *B* = 1,000 is "
        f"{DEFAULT_HORIZON.wins(1000):.3g}. Each point below re-runs a row with *k* scaled "
        "(the label gives *k*), over the same seeds.",
        "",
        f"![the horizon's trade-off]({pictures}/tradeoff-horizon.png)",
        "",
    ]
    for name, points in t.horizon.items():
        lines += [f"`{name}`:", "", *_table(head, rows(points, "k=")), ""]

    def target(r: RowResult) -> str:
        bound = max_nrmse(r.row.budget)
        slot = min(r.values("slot", "nrmse_vs_oracle"))
        return f"slot's best seed, {_nrmse(slot)}" if bound is None else str(bound)

    floor = [
        [
            f"[{r.row.name}](#{r.row.name})", f"{r.row.budget:,}",
            f"{DEFAULT_HORIZON.wins(r.row.budget):.3g}",
            _nrmse(math.sqrt(DEFAULT_HORIZON.wins(r.row.budget) / 2) / r.row.budget),
            _nrmse(max(r.values("paced", "nrmse_vs_oracle"))), target(r),
        ]
        for r in results
    ]  # fmt: skip
    floor_head = ["row", "budget", "k", "floor sqrt(k/2)/B", "paced NRMSE (worst seed)", "target"]
    lines += [
        "**Where the floor binds.** Awards drawn by lottery wander about the line like a "
        "random walk pulled back over the horizon: about sqrt(*k*/2) coupons, so no fair "
        "lottery with a horizon of *k* wins tracks better than about sqrt(*k*/2)/*B*. At "
        "large budgets that floor sits well under the target and *k* can be long; at "
        "*B* = 100-200 the target is `slot`'s own error, which awards the first plays of each "
        "slot and is no lottery, and *k* has to shrink below one win to match it: there "
        "`paced` is a tracker first and fair only as far as that allows.",
        "",
        *_table(floor_head, floor),
        "",
        "**Dead periods.** After a dead period the line is far ahead and the oracle pays the "
        "deficit at once; a fair catch-up over many seconds would trail it by the whole "
        "deficit for as long. `paced` pays a deficit beyond *k* coupons "
        f"{DEFAULT_HORIZON.catch_up:g} times faster than the horizon. That burst of wins "
        "right after the dead period is what the fairness measures see on `dead`: the plays "
        "just after a win there are the catch-up's plays, and the dead periods of this "
        "scenario end on a slot's and a line step's first instant, so the catch-up's plays "
        "are also the early ones of their slot and step. Every play at that moment has the "
        "same, higher chance (invariant 7's first half holds), but the ratios cannot tell a "
        "catch-up from a timing edge. The curve shows the price of each: a slower catch-up "
        "is fairer by these measures and trails the oracle further.",
        "",
        f"![the catch-up's trade-off]({pictures}/tradeoff-catch-up.png)",
        "",
        *_table(head, rows(t.catch_up, "catch-up x")),
        "",
        f"Moved {DEAD_SHIFT:g} s later, so that each dead period ends {DEAD_SHIFT:g} s into a "
        f"slot and off the line's steps, the same row at the default catch-up measures: "
        f"memory {_ratio(t.shifted.fairness.memory)}, line phase "
        f"{_ratio(t.shifted.fairness.line_phase)}, slot phase "
        f"{_ratio(t.shifted.fairness.slot_phase)} (NRMSE vs oracle {_nrmse(t.shifted.nrmse)}). "
        "The phases follow where the dead periods end (the slot phase turns below 1 when the "
        "catch-up starts late in a slot); the memory ratio is the catch-up itself, and no "
        "catch-up fast enough for the tracking target keeps it near 1: the two targets "
        "conflict on this row. `benchmarks/dead_row_frontier.py` checks that a second way, "
        "without the pacer, on lotteries whose chance depends on the time alone "
        "(`docs/decisions.md`, `paced`).",
        "",
    ]
    return lines


def render(results: Sequence[RowResult], trade: Tradeoffs, seeds: int, pictures: str) -> str:
    lines = [
        *_intro(results, seeds),
        *_reproduce(seeds),
        *_definitions(),
        "## Results",
        "",
        "`paced`'s worst seed per row and a verdict per target; a target fails if it fails on "
        "any seed.",
        "",
        *_summary(results),
        "",
        *_discussion(results),
        *_tradeoff_section(trade, results, pictures),
        "## Rows",
        "",
    ]
    for result in results:
        lines.extend(_section(result, pictures))
    lines += ['<a id="per-seed"></a>', "", "## Per seed", "", *_per_seed(results), ""]
    return "\n".join(lines)


def main(
    out: Annotated[Path, typer.Option(help="Where pacing.md and pacing/*.png go.")] = Path("docs"),
    seeds: Annotated[int, typer.Option(min=1, help="Seeds per row: 0 .. seeds-1.")] = 3,
) -> None:
    """Regenerate the pacing report: every row, every strategy, every seed."""
    console = Console(stderr=True, soft_wrap=True)
    started = time.perf_counter()
    results = measure(ROWS, seeds, console.print)
    trade = tradeoffs(seeds, console.print)
    console.print("drawing the pictures")
    draw(results, out / "pacing")
    draw_tradeoffs(trade, out / "pacing")
    (out / "pacing.md").write_text(render(results, trade, seeds, "pacing"), encoding="utf-8")
    console.print(f"wrote {out / 'pacing.md'} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    typer.run(main)
