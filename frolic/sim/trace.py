"""Play traces on disk: one CSV column ``t`` of seconds since game start, and decision files.

A trace is what the simulator replays, so it is checked strictly on the way in: every
complaint names the file's line number (the header is line 1), because a trace of two
million rows is otherwise hopeless to fix by hand.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from frolic.errors import BadRequest

TRACE_HEADER = "t"
DECISIONS_HEADER = "t,win"

StrPath = str | os.PathLike[str]


def read_trace(path: StrPath) -> NDArray[np.float64]:
    """Play times from a trace file: finite, non-negative and non-decreasing, or BadRequest."""
    name = Path(path).name
    # utf-8-sig: a spreadsheet's byte-order mark must not turn the header into "\ufefft".
    lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines or lines[0].strip() != TRACE_HEADER:
        found = repr(lines[0].strip()) if lines else "an empty file"
        raise BadRequest(f"{name} line 1: the header must be {TRACE_HEADER!r}, found {found}")
    rows = lines[1:]
    try:
        # numpy parses a list of strings in C; float() per row is the slow path, kept for errors.
        times = np.array(rows, dtype=np.float64)
    except ValueError:
        raise BadRequest(_first_unparsable(name, rows)) from None
    _check_times(name, times, rows)
    return times


def _first_unparsable(name: str, rows: list[str]) -> str:
    for index, row in enumerate(rows):
        try:
            float(row)
        except ValueError:
            return f"{name} line {index + 2}: {row.strip()!r} is not a number"
    return f"{name}: a row is not a number"  # unreachable unless numpy and float() disagree


def _check_times(name: str, times: NDArray[np.float64], rows: list[str]) -> None:
    def fail(index: int, why: str) -> BadRequest:
        return BadRequest(f"{name} line {index + 2}: {rows[index].strip()!r} {why}")

    infinite = ~np.isfinite(times)
    if infinite.any():
        raise fail(int(np.argmax(infinite)), "is not a finite number")
    negative = times < 0
    if negative.any():
        raise fail(int(np.argmax(negative)), "is negative")
    backwards = np.diff(times) < 0
    if backwards.any():
        index = int(np.argmax(backwards)) + 1
        raise fail(index, f"comes before the previous play ({rows[index - 1].strip()})")


def write_trace(path: StrPath, times: NDArray[np.float64]) -> None:
    """Write times in the format ``read_trace`` accepts; microseconds are precise enough."""
    body = "\n".join(map("{:.6f}".format, np.asarray(times, dtype=np.float64).tolist()))
    _write_csv(path, TRACE_HEADER, body)


def write_decisions(path: StrPath, times: NDArray[np.float64], wins: NDArray[np.bool_]) -> None:
    """One ``t,win`` row per play, in the order given; win is 0 or 1."""
    times = np.asarray(times, dtype=np.float64)
    flags = np.asarray(wins, dtype=np.bool_)
    if times.shape != flags.shape:
        raise ValueError(f"{times.shape[0]} times but {flags.shape[0]} decisions")
    body = "\n".join(map("{:.6f},{:d}".format, times.tolist(), flags.astype(np.int8).tolist()))
    _write_csv(path, DECISIONS_HEADER, body)


def _write_csv(path: StrPath, header: str, body: str) -> None:
    text = f"{header}\n{body}\n" if body else f"{header}\n"
    Path(path).write_text(text, encoding="utf-8")
