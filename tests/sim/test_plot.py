from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from frolic.sim.plot import plot_curves
from frolic.sim.scenarios import SCENARIOS


def test_plot_writes_a_1200_by_800_png(tmp_path: Path) -> None:
    scenario = SCENARIOS["spikes"]
    times = scenario.generate(20_000, scenario.duration, np.random.default_rng(1))
    rng = np.random.default_rng(2)
    wins = {
        "uniform": rng.random(times.size) < 100 / times.size,
        "first come": np.arange(times.size) < 100,
    }
    path = tmp_path / "curves.png"
    plot_curves(path, times, wins, 100, scenario.duration, "spikes")
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert struct.unpack(">II", data[16:24]) == (1200, 800)
    assert len(data) > 20_000
