"""The pacing picture: cumulative coupons awarded per strategy, over the traffic that drove it."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import NDArray

from frolic.sim.metrics import cumulative, oracle_wins
from frolic.sim.trace import StrPath

CURVE_POINTS = 2000
MAX_TRAFFIC_BARS = 300


def _time_unit(duration: float) -> tuple[str, float]:
    """The unit a reader would use for this game's clock: its name and length in seconds."""
    if duration <= 600:
        return "second", 1.0
    if duration <= 6 * 3600:
        return "minute", 60.0
    return "hour", 3600.0


def plot_curves(
    path: StrPath,
    times: NDArray[np.float64],
    wins_by_strategy: dict[str, NDArray[np.bool_]],
    budget: int,
    duration: float,
    title: str,
) -> None:
    """Write a 1200x800 PNG: awarded-so-far per strategy against target and oracle, and traffic."""
    # A bare Figure on the Agg canvas: no pyplot, so no GUI backend and no global state.
    figure = Figure(figsize=(12, 8), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    curves, traffic = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    unit, scale = _time_unit(duration)
    grid = np.linspace(0.0, duration, CURVE_POINTS)
    x = grid / scale

    for name, wins in wins_by_strategy.items():
        curves.step(x, cumulative(times, wins, grid), where="post", linewidth=1.8, label=name)
    curves.plot(x, budget * grid / duration, "k--", linewidth=1.2, label="target B·t/T")
    oracle = cumulative(times, oracle_wins(times, budget, duration), grid)
    curves.step(x, oracle, ":", color="dimgrey", where="post", linewidth=2.2, label="oracle")
    curves.axhline(budget, color="grey", linewidth=0.8, alpha=0.6, label=f"budget {budget}")
    curves.set_title(title, fontsize=14)
    curves.set_ylabel("coupons awarded so far")
    curves.set_xlim(0, duration / scale)
    curves.set_ylim(bottom=0)
    curves.grid(alpha=0.3)
    curves.legend(loc="upper left")

    _draw_traffic(traffic, times, duration, unit, scale)
    figure.savefig(path, format="png")


def _draw_traffic(
    axes: Axes, times: NDArray[np.float64], duration: float, unit: str, scale: float
) -> None:
    # Bars of one clock unit each, merged when there would be too many to see.
    per_bar = max(1, math.ceil(duration / scale / MAX_TRAFFIC_BARS))
    edges = np.arange(0.0, duration / scale + per_bar, per_bar)
    counts, _ = np.histogram(np.asarray(times) / scale, bins=edges)
    axes.bar(edges[:-1], counts / per_bar, width=per_bar, align="edge", color="tab:grey")
    axes.set_ylabel(f"plays per {unit}")
    axes.set_xlabel(f"time since game start ({unit}s)")
    axes.grid(alpha=0.3)
