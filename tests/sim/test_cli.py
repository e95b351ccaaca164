"""The ``frolic simulate`` contract: its files, its JSON, and how it refuses bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from frolic.cli import app
from frolic.engine.rules import STRATEGIES
from frolic.sim.metrics import evaluate
from frolic.sim.scenarios import SCENARIOS
from frolic.sim.trace import write_trace

METRICS = {
    "awarded", "budget", "overspend", "utilization", "exhaustion_time",
    "nrmse_vs_oracle", "nrmse_vs_target", "max_gap_vs_target",
    "memory", "line_phase", "slot_phase", "best_bot", "best_bot_rule",
}  # fmt: skip
HEAD = {"plays", "budget", "duration", "slot_seconds"}
PNG = b"\x89PNG\r\n\x1a\n"


def simulate(*args: object) -> Result:
    return CliRunner().invoke(app, ["simulate", *map(str, args)])


def succeeded(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def trace(tmp_path: Path) -> Path:
    """600 s of spiky traffic, with bursts of plays at the same instant."""
    scenario = SCENARIOS["spikes"]
    times = scenario.generate(3000, 600.0, np.random.default_rng(7))
    times = np.sort(np.concatenate([times, np.full(20, times[100]), np.full(5, 0.0)]))
    path = tmp_path / "plays.csv"
    write_trace(path, times)
    return path


def trace_args(trace: Path, *more: object) -> list[object]:
    return ["--trace", trace, "--duration", 600, "--slot", 2, "--budget", 60, "--seed", 3, *more]


def read_decisions(path: Path) -> tuple[list[str], list[str]]:
    header, *rows = path.read_text().splitlines()
    assert header == "t,win"
    times, wins = zip(*(row.split(",") for row in rows), strict=True)
    return list(times), list(wins)


def test_a_trace_gives_a_decision_per_play_in_input_order(trace: Path, tmp_path: Path) -> None:
    out = tmp_path / "decisions.csv"
    result = succeeded(simulate(*trace_args(trace, "--decisions", out, "--json")))

    plays = trace.read_text().splitlines()[1:]
    times, wins = read_decisions(out)
    assert times == plays
    assert set(wins) <= {"0", "1"}
    report = json.loads(result.stdout)
    assert report.keys() == {"strategy", *HEAD, *METRICS}
    assert report["strategy"] == "paced"
    assert (report["plays"], report["budget"], report["duration"]) == (len(plays), 60, 600.0)
    assert report["slot_seconds"] == 2.0
    # The JSON describes exactly the decisions written.
    flags = np.array(wins) == "1"
    expected = evaluate(np.array(times, dtype=float), flags, 60, 600.0, slot_seconds=2.0).as_dict()
    assert {key: report[key] for key in expected} == expected
    assert report["awarded"] == flags.sum() <= 60


def test_a_scenario_generates_the_plays_asked_for() -> None:
    result = succeeded(simulate("--scenario", "short", "--plays", 3000, "--budget", 50, "--json"))
    report = json.loads(result.stdout)
    assert (report["plays"], report["budget"]) == (3000, 50)
    # The scenario's own game: 90 s in 1 s slots.
    assert (report["duration"], report["slot_seconds"]) == (90.0, 1.0)


def test_compare_runs_every_strategy(trace: Path) -> None:
    result = succeeded(simulate(*trace_args(trace, "--compare", "--json")))
    report = json.loads(result.stdout)
    assert report.keys() == {*HEAD, "strategies"}
    assert set(report["strategies"]) == set(STRATEGIES)
    for metrics in report["strategies"].values():
        assert metrics.keys() == METRICS
        assert metrics["overspend"] == 0


def test_the_table_names_every_strategy(trace: Path) -> None:
    result = succeeded(simulate(*trace_args(trace, "--compare")))
    for name in STRATEGIES:
        assert name in result.stdout


def test_plot_writes_a_png(trace: Path, tmp_path: Path) -> None:
    picture = tmp_path / "curves.png"
    succeeded(simulate(*trace_args(trace, "--compare", "--plot", picture)))
    assert picture.read_bytes().startswith(PNG)


def test_the_same_seed_gives_the_same_decisions(tmp_path: Path) -> None:
    def decisions(seed: int, name: str) -> str:
        path = tmp_path / name
        succeeded(simulate("--scenario", "spikes", "--plays", 5000, "--budget", 100,
                           "--seed", seed, "--decisions", path))  # fmt: skip
        return path.read_text()

    first = decisions(11, "a.csv")
    assert decisions(11, "b.csv") == first
    assert decisions(12, "c.csv") != first


def test_a_long_run_keeps_its_progress_off_stdout() -> None:
    result = succeeded(simulate("--scenario", "flat", "--plays", 60_000, "--budget", 500, "--json"))
    assert json.loads(result.stdout)["plays"] == 60_000


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "bad.csv"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


BAD_TRACES = [
    pytest.param("time\n1\n", "the header must be 't'", id="header"),
    pytest.param("", "the header must be 't'", id="empty"),
    pytest.param("t\n1\nabc\n", "line 3: 'abc' is not a number", id="not-a-number"),
    pytest.param("t\n1\n0.5\n", "line 3: '0.5' comes before the previous play", id="unsorted"),
    pytest.param("t\n-1\n", "line 2: '-1' is negative", id="negative"),
    pytest.param("t\nnan\n", "line 2: 'nan' is not a finite number", id="nan"),
    pytest.param("t\n1\n700\n", "at or after the end of the game", id="after-the-end"),
    pytest.param(b"t\n\xff\xfe1\n", "not a UTF-8 text file", id="binary"),
]


@pytest.mark.parametrize(("text", "message"), BAD_TRACES)
def test_a_malformed_trace_is_refused(tmp_path: Path, text: str | bytes, message: str) -> None:
    refused(simulate("--trace", write(tmp_path, text), "--duration", 600), message)


BAD_OPTIONS = [
    pytest.param(["--strategy", "greedy", "--scenario", "flat"], "unknown strategy 'greedy'",
                 id="unknown-strategy"),
    pytest.param(["--scenario", "tsunami"], "unknown scenario 'tsunami'", id="unknown-scenario"),
    pytest.param(["--trace", "{tmp}/missing.csv", "--duration", 60], "no trace file at",
                 id="missing-file"),
    pytest.param(["--trace", "{tmp}", "--duration", 60], "no trace file at", id="a-directory"),
    pytest.param([], "give either --trace PLAYS.csv or --scenario NAME", id="neither"),
    pytest.param(["--trace", "{trace}", "--scenario", "flat"],
                 "give either --trace PLAYS.csv or --scenario NAME", id="both"),
    pytest.param(["--trace", "{trace}"], "--duration is needed with --trace", id="no-duration"),
    pytest.param(["--scenario", "flat", "--slot", 0.5], "--slot must be between 1 and 5",
                 id="slot-below-1"),
    pytest.param(["--scenario", "flat", "--slot", 6], "--slot must be between 1 and 5",
                 id="slot-above-5"),
    pytest.param(["--scenario", "flat", "--slot", 0], "--slot must be between 1 and 5",
                 id="slot-0"),
    pytest.param(["--trace", "{trace}", "--duration", 600, "--slot", 0],
                 "--slot must be between 1 and 5", id="trace-slot-0"),
    pytest.param(["--scenario", "flat", "--duration", -5], "--duration must be a positive",
                 id="negative-duration"),
    pytest.param(["--scenario", "flat", "--duration", 0], "--duration must be a positive",
                 id="zero-duration"),
    pytest.param(["--scenario", "flat", "--decisions", "{tmp}/nowhere/out.csv"],
                 "no directory", id="decisions-nowhere"),
    pytest.param(["--scenario", "flat", "--plot", "{tmp}/nowhere/out.png"], "no directory",
                 id="plot-nowhere"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "message"), BAD_OPTIONS)
def test_bad_options_are_refused(
    args: list[object], message: str, trace: Path, tmp_path: Path
) -> None:
    filled = [str(a).format(tmp=tmp_path, trace=trace) for a in args]
    refused(simulate("--plays", 1000, *filled), message)


def test_typer_refuses_out_of_range_numbers() -> None:
    result = simulate("--scenario", "flat", "--budget", 0)
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert "--budget" in result.stderr


def refused(result: Result, message: str) -> None:
    assert result.exit_code == 2, result.output
    # A clean exit, not an exception the runner caught.
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == ""
    # One line, the message itself.
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_the_command_line_refuses_without_a_traceback(tmp_path: Path) -> None:
    bad = write(tmp_path, "t\n2\n1\n")
    done = subprocess.run(
        [sys.executable, "-m", "frolic.cli", "simulate", "--trace", str(bad), "--duration", "9"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == "error: bad.csv line 3: '1' comes before the previous play (2)\n"


@pytest.mark.parametrize("strategy", ["paced", "winning_moments", "fixed_odds", "slot"])
def test_a_simulated_game_drawn_by_the_fairness_rule_verifies(
    tmp_path: Path, strategy: str
) -> None:
    """The simulator and a real game are checked by the same verifier (docs/fairness.md)."""
    result = simulate("--scenario", "spikes", "--plays", 3000, "--budget", 60, "--strategy",
                      strategy, "--audit", tmp_path, "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    fairness, audit = tmp_path / "fairness.json", tmp_path / "audit.jsonl"
    assert len(audit.read_text().splitlines()) == 3000
    verified = CliRunner().invoke(app, ["verify", str(fairness), str(audit), "--json"])
    assert verified.exit_code == 0, verified.output
    report = json.loads(verified.output)
    assert report["plays"] == 3000
    assert report["wins"] == json.loads(result.output)["awarded"]


def test_audit_wants_a_folder_and_one_strategy(tmp_path: Path) -> None:
    missing = simulate("--scenario", "flat", "--plays", 100, "--audit", tmp_path / "nope")
    assert missing.exit_code == 2
    assert "--audit takes an existing folder" in missing.output
    both = simulate("--scenario", "flat", "--plays", 100, "--audit", tmp_path, "--compare")
    assert both.exit_code == 2
