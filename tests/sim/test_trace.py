from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from frolic.errors import BadRequest
from frolic.sim.trace import read_trace, write_decisions, write_trace


def test_a_written_trace_reads_back(tmp_path: Path) -> None:
    times = np.sort(np.random.default_rng(3).random(1000) * 3600)
    write_trace(tmp_path / "trace.csv", times)
    assert (tmp_path / "trace.csv").read_text().startswith("t\n")
    np.testing.assert_allclose(read_trace(tmp_path / "trace.csv"), times, atol=5e-7)


def test_a_trace_without_plays_is_empty(tmp_path: Path) -> None:
    write_trace(tmp_path / "trace.csv", np.zeros(0))
    assert read_trace(tmp_path / "trace.csv").shape == (0,)


def test_ties_trailing_blank_lines_and_a_byte_order_mark_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "trace.csv"
    path.write_bytes(b"\xef\xbb\xbft\r\n0\r\n2.5\r\n2.5\r\n1e1\r\n\r\n")
    assert read_trace(path).tolist() == [0.0, 2.5, 2.5, 10.0]


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("", "line 1: the header must be 't', found an empty file"),
        ("time\n1\n", "line 1: the header must be 't', found 'time'"),
        ("t,win\n1,0\n", "line 1: the header must be 't', found 't,win'"),
        ("1\n2\n", "line 1: the header must be 't', found '1'"),
        ("t\n1\nabc\n", "line 3: 'abc' is not a number"),
        ("t\n1\n\n2\n", "line 3: '' is not a number"),
        ("t\n1,0\n", "line 2: '1,0' is not a number"),
        ("t\n-1\n", "line 2: '-1' is negative"),
        ("t\n1\n-2\n", "line 3: '-2' is negative"),
        ("t\n1\n3\n2\n", "line 4: '2' comes before the previous play (3)"),
        ("t\nnan\n", "line 2: 'nan' is not a finite number"),
        ("t\n1\ninf\n", "line 3: 'inf' is not a finite number"),
        ("t\n1\n2\n-inf\n", "line 4: '-inf' is not a finite number"),
    ],
)
def test_bad_traces_name_the_line(tmp_path: Path, content: str, complaint: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(BadRequest) as caught:
        read_trace(path)
    assert caught.value.detail == f"bad.csv {complaint}"


def test_decisions_keep_the_play_order(tmp_path: Path) -> None:
    path = tmp_path / "decisions.csv"
    write_decisions(path, np.array([0.0, 1.25, 1.25]), np.array([True, False, True]))
    assert path.read_text() == "t,win\n0.000000,1\n1.250000,0\n1.250000,1\n"


def test_decisions_need_one_per_play(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="2 times but 1 decisions"):
        write_decisions(tmp_path / "d.csv", np.array([0.0, 1.0]), np.array([True]))
