"""``frolic simulate``: one strategy or all of them over a trace or a generated scenario."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from numpy.typing import NDArray
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from frolic.engine.rules import STRATEGIES, StrategyName
from frolic.errors import BadRequest
from frolic.sim import runner
from frolic.sim.audit import FairDraws, sim_seed
from frolic.sim.metrics import Metrics, evaluate
from frolic.sim.scenarios import SCENARIOS
from frolic.sim.trace import read_trace, write_decisions

LONG_RUN = 50_000  # plays; a run longer than this shows a progress bar
stderr = Console(stderr=True)


def simulate(
    strategy: Annotated[str, typer.Option(help=f"One of: {', '.join(STRATEGIES)}.")] = "paced",
    budget: Annotated[int, typer.Option(min=1, help="Coupons in the game.")] = 1000,
    duration: Annotated[
        float | None, typer.Option(help="Game length in seconds (default: the scenario's).")
    ] = None,
    slot: Annotated[
        float | None, typer.Option(help="Slot seconds, 1 to 5 (default: the scenario's, or 5).")
    ] = None,
    trace: Annotated[Path | None, typer.Option(help="CSV of plays: header t, seconds.")] = None,
    scenario: Annotated[
        str | None, typer.Option(help=f"Generate traffic: {', '.join(SCENARIOS)}.")
    ] = None,
    plays: Annotated[int, typer.Option(min=1, help="Plays to generate for --scenario.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Seeds the traffic and the strategies.")] = 0,
    odds: Annotated[
        int | None, typer.Option(min=1, help="fixed_odds' N (default: plays / budget).")
    ] = None,
    void: Annotated[bool, typer.Option(help="winning_moments: void unclaimed moments.")] = False,
    decisions: Annotated[Path | None, typer.Option(help="Write t,win per play here.")] = None,
    compare: Annotated[bool, typer.Option(help="Run every strategy on the same trace.")] = False,
    plot: Annotated[Path | None, typer.Option(help="Draw the cumulative curves (PNG).")] = None,
    audit: Annotated[
        Path | None,
        typer.Option(
            help="Draw by the fairness rule and write fairness.json and audit.jsonl "
            "into this folder, for `frolic verify` (docs/fairness.md)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
) -> None:
    """Run a pacing strategy over a traffic trace and measure how it spends the budget."""
    try:
        name = _strategy(strategy)
        times, game = _inputs(trace, scenario, plays, budget, duration, slot, odds, void, seed)
        _check_outputs(decisions, plot)
        if audit is not None and (compare or not audit.is_dir()):
            raise BadRequest("--audit takes an existing folder, and one strategy (not --compare)")
        plot_curves = None if plot is None else _plotter()
    except BadRequest as exc:
        typer.secho(f"error: {exc.detail}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from exc

    names: tuple[StrategyName, ...] = STRATEGIES if compare else (name,)
    results: dict[StrategyName, NDArray[np.bool_]] = {}
    # A player for about every 20 plays, as a campaign's players come back a few times.
    fair = None if audit is None else FairDraws(sim_seed(seed), max(1, len(times) // 20))
    with _progress(len(times) * len(names)) as advance:
        for each in names:
            results[each] = runner.simulate(times, game, each, seed=seed, progress=advance,
                                            fair=fair)  # fmt: skip
    if fair is not None and audit is not None:
        fair.write(audit, game.rules(name, seed), game.stock)
    metrics = {
        each: evaluate(times, w, game.budget, game.duration, slot_seconds=game.slot_seconds)
        for each, w in results.items()
    }

    if decisions is not None:
        write_decisions(decisions, times, results[name])
    if plot_curves is not None:
        source = scenario or (trace.name if trace else "")
        title = f"{source}: {len(times):,} plays, budget {game.budget:,}"
        plot_curves(plot, times, {n: w for n, w in results.items()}, game.budget,
                    game.duration, title)  # fmt: skip
    _report(metrics, len(times), game, as_json)


def _strategy(name: str) -> StrategyName:
    for known in STRATEGIES:
        if name == known:
            return known
    raise BadRequest(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")


def _inputs(
    trace: Path | None, scenario: str | None, plays: int, budget: int,
    duration: float | None, slot: float | None, odds: int | None, void: bool, seed: int,
) -> tuple[NDArray[np.float64], runner.Game]:  # fmt: skip
    if (trace is None) == (scenario is None):
        raise BadRequest("give either --trace PLAYS.csv or --scenario NAME")
    # Checked before any traffic is generated: a zero is an answer, not a missing option.
    if slot is not None and not 1 <= slot <= 5:
        raise BadRequest("--slot must be between 1 and 5 seconds")
    if duration is not None and not (0 < duration < math.inf):
        raise BadRequest("--duration must be a positive number of seconds")
    if scenario is not None:
        shape = SCENARIOS.get(scenario)
        if shape is None:
            raise BadRequest(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
        duration = shape.duration if duration is None else duration
        slot = shape.slot_seconds if slot is None else slot
        times = shape.generate(plays, duration, np.random.default_rng(seed))
    else:
        assert trace is not None
        if duration is None:
            raise BadRequest("--duration is needed with --trace")
        times = _read(trace)
        if times.size and times[-1] >= duration:
            raise BadRequest(
                f"{trace.name}: a play at t={times[-1]:g} is at or after the end of the game "
                f"(--duration {duration:g})"
            )
    slot = 5.0 if slot is None else slot
    default_odds = max(1, round(len(times) / budget))
    game = runner.Game(budget, duration, slot, odds or default_odds, void)
    return times, game


def _read(trace: Path) -> NDArray[np.float64]:
    if not trace.is_file():
        raise BadRequest(f"no trace file at {trace}")
    try:
        return read_trace(trace)
    except UnicodeDecodeError as exc:
        raise BadRequest(f"{trace.name} is not a UTF-8 text file") from exc
    except OSError as exc:
        raise BadRequest(f"cannot read {trace}: {exc.strerror}") from exc


def _check_outputs(*paths: Path | None) -> None:
    """Fail before a long run, not after it, when an output cannot be written."""
    for path in paths:
        if path is not None and not path.parent.is_dir():
            raise BadRequest(f"no directory {path.parent} to write {path.name} in")


def _plotter() -> Callable[..., None]:
    """The curve drawer, found before a long run: matplotlib is the ``plot`` extra, which a
    plain install of the server does without."""
    try:
        from frolic.sim.plot import plot_curves
    except ModuleNotFoundError as exc:
        if exc.name != "matplotlib":
            raise
        raise BadRequest("--plot needs matplotlib: pip install 'frolic[plot]'") from exc
    return plot_curves


@contextmanager
def _progress(total: int) -> Iterator[runner.Progress | None]:
    if total < LONG_RUN:
        yield None
        return
    columns = (TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=stderr, transient=True) as bar:
        task = bar.add_task("plays", total=total)
        yield lambda n: bar.advance(task, n)


def _report(
    metrics: dict[StrategyName, Metrics], plays: int, game: runner.Game, as_json: bool
) -> None:
    head = {"plays": plays, "budget": game.budget, "duration": game.duration,
            "slot_seconds": game.slot_seconds}  # fmt: skip
    if as_json:
        if len(metrics) == 1:
            ((name, only),) = metrics.items()
            print(json.dumps({"strategy": name, **head, **only.as_dict()}))
        else:
            print(json.dumps({**head, "strategies": {n: m.as_dict() for n, m in metrics.items()}}))
        return
    table = Table(title=f"{plays:,} plays, budget {game.budget:,}, {game.duration:g} s game")
    for column in ("strategy", "awarded", "overspend", "utilization", "exhausted at",
                   "NRMSE vs oracle", "NRMSE vs target", "max gap", "memory", "line phase",
                   "slot phase", "best bot"):  # fmt: skip
        table.add_column(column, justify="right")
    for name, m in metrics.items():
        exhausted = "-" if m.exhaustion_time is None else f"{m.exhaustion_time:.2%}"
        table.add_row(name, f"{m.awarded:,}", str(m.overspend), f"{m.utilization:.2%}",
                      exhausted, f"{m.nrmse_vs_oracle:.4f}", f"{m.nrmse_vs_target:.4f}",
                      f"{m.max_gap_vs_target:.4f}", _ratio(m.memory), _ratio(m.line_phase),
                      _ratio(m.slot_phase), _bot(m))  # fmt: skip
    Console(file=sys.stdout, width=max(200, Console().width)).print(table)
    stderr.print(
        "memory, line phase, slot phase: win-rate ratios of the plays just after a win, early "
        "in a step of the line, early in a slot, against the plays at the same time of the "
        "game (about 1 for a fair lottery); best bot: the largest over every timing rule."
    )


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _bot(m: Metrics) -> str:
    return "-" if m.best_bot is None else f"{m.best_bot:.2f} ({m.best_bot_rule})"
