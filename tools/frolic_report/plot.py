"""The report's trade-off picture: how a pacing knob moves tracking against fairness."""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from frolic.sim.trace import StrPath


def plot_tradeoff(
    path: StrPath,
    title: str,
    curves: dict[str, list[tuple[float, float, str]]],
    xlabel: str,
    ylabel: str,
    band: tuple[float, float],
    x_target: float,
) -> None:
    """Write a 1000x600 PNG of trade-off curves: each a list of (x, y, label) points, the
    labels naming the knob's value at each, the band the y figure should stay in and the
    largest x allowed."""
    figure = Figure(figsize=(10, 6), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.axhspan(*band, color="#2ca02c", alpha=0.08, label=f"target band {band[0]}-{band[1]}")
    axes.axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
    axes.axvline(x_target, color="#d62728", linewidth=0.8, linestyle="--",
                 label=f"tracking target {x_target:g}")  # fmt: skip
    for name, points in curves.items():
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        (line,) = axes.plot(xs, ys, marker="o", label=name)
        for x, y, label in points:
            axes.annotate(label, (x, y), textcoords="offset points", xytext=(5, 5),
                          fontsize=8, color=line.get_color())  # fmt: skip
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.savefig(path)
