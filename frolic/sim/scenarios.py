"""Traffic scenarios: the shapes of play arrivals a pacing strategy has to survive.

Each scenario is a rate curve (plays per second, up to a constant factor) over the game.
``generate`` draws exactly the requested number of plays from it by inverse-CDF sampling,
so the curve says *where* plays fall and the caller says *how many*. Shapes are given as
fractions of the game, so a scenario stretches to any duration; only ``diurnal`` is tied
to the wall clock, because a day is a day however long the game runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
# (cell midpoints in seconds, game duration, rng) -> non-negative rate at each midpoint.
RateCurve = Callable[[FloatArray, float, np.random.Generator], FloatArray]

HOUR = 3600.0
DAY = 86400.0

# Fine enough that a 1 s slot or a 2-minute spike is many cells wide; coarse enough that
# a 3-day game still builds its grid in milliseconds. Always a multiple of CELL_BLOCK, so
# shapes that change at round fractions of the game (a dead period from 35% to 50%) change
# on a cell edge rather than mid-cell.
CELL_BLOCK = 10_000
MAX_CELLS = 1_000_000


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    duration: float
    slot_seconds: float
    rate: RateCurve = field(repr=False)

    def generate(self, plays: int, duration: float, rng: np.random.Generator) -> FloatArray:
        """Exactly ``plays`` sorted play times in ``[0, duration)``."""
        return sample_arrivals(self.rate, plays, duration, rng)


def sample_arrivals(
    rate: RateCurve, plays: int, duration: float, rng: np.random.Generator
) -> FloatArray:
    """Draw play times from a rate curve, held constant within each cell of a fine grid.

    A zero-rate cell has no mass in the cumulative curve, so no play can land in it: dead
    periods stay exactly dead.
    """
    if plays < 0:
        raise ValueError("plays cannot be negative")
    if not duration > 0:
        raise ValueError("the game must last a positive number of seconds")
    cells = min(MAX_CELLS, CELL_BLOCK * max(1, math.ceil(duration / CELL_BLOCK)))
    edges = np.linspace(0.0, duration, cells + 1)
    midpoints = (edges[:-1] + edges[1:]) / 2
    # The curve draws its own randomness (spike positions, noise) before any play is placed.
    intensity = np.asarray(rate(midpoints, duration, rng), dtype=np.float64)
    if intensity.shape != midpoints.shape or not np.all(np.isfinite(intensity)):
        raise ValueError("a rate curve must give one finite rate per cell")
    if np.any(intensity < 0) or not np.any(intensity > 0):
        raise ValueError("a rate curve must be non-negative and somewhere positive")

    mass = np.concatenate(([0.0], np.cumsum(intensity * np.diff(edges))))
    # Strictly below the total, so every draw falls in a cell of positive mass.
    draws = np.minimum(np.sort(rng.random(plays)) * mass[-1], np.nextafter(mass[-1], 0.0))
    cell = np.searchsorted(mass, draws, side="right") - 1
    start, end = edges[cell], edges[cell + 1]
    times = start + (draws - mass[cell]) / (mass[cell + 1] - mass[cell]) * (end - start)
    # Rounding must not push a play onto the next cell's edge: that cell may be dead, and
    # the last edge is the end of the game, which belongs to no slot.
    inside: FloatArray = np.minimum(times, np.nextafter(end, start))
    return inside


def _flat(t: FloatArray, duration: float, rng: np.random.Generator) -> FloatArray:
    return np.ones_like(t)


DIURNAL_NIGHT = 0.015
DIURNAL_DAY_HOURS = (7.0, 23.0)


def _diurnal(t: FloatArray, duration: float, rng: np.random.Generator) -> FloatArray:
    # The game starts at midnight; the day is a single hump peaking mid-afternoon (15:00).
    hour = (t % DAY) / HOUR
    start, end = DIURNAL_DAY_HOURS
    phase = np.clip((hour - start) / (end - start), 0.0, 1.0)
    rate: FloatArray = np.maximum(DIURNAL_NIGHT, np.sin(np.pi * phase) ** 2)
    return rate


SPIKE_CENTRES = (0.11, 0.34, 0.62, 0.83)  # fractions of the game, jittered per draw


def _spikes(t: FloatArray, duration: float, rng: np.random.Generator) -> FloatArray:
    u = t / duration
    rate = np.ones_like(t)
    for centre in SPIKE_CENTRES:
        middle = centre + rng.uniform(-0.02, 0.02)
        width = rng.uniform(2.0, 5.0) / 60.0  # 2-5 minutes of an hour
        height = rng.uniform(10.0, 50.0)
        inside = np.abs(u - middle) < width / 2
        rate[inside] = np.maximum(rate[inside], height)
    return rate


def _piecewise_noise(
    u: FloatArray, pieces: int, low: float, high: float, rng: np.random.Generator
) -> FloatArray:
    """One random multiplier per equal piece of the game."""
    levels = rng.uniform(low, high, size=pieces)
    return levels[np.minimum((u * pieces).astype(np.int64), pieces - 1)]


def _sparse(t: FloatArray, duration: float, rng: np.random.Generator) -> FloatArray:
    return _piecewise_noise(t / duration, 60, 0.75, 1.25, rng)


RAMP_PEAK = 20.0
RAMP_AFTER = 0.05  # of the peak rate


def _ramp(t: FloatArray, duration: float, rng: np.random.Generator) -> FloatArray:
    u = t / duration
    rising = 1.0 + (RAMP_PEAK - 1.0) * u / 0.5
    return np.where(u < 0.5, rising, RAMP_AFTER * RAMP_PEAK)


LAUNCH_PEAK = 100.0  # times the tail rate
LAUNCH_DECAY = 0.05  # e-folding time, as a fraction of the game


def _launch(t: FloatArray, duration: float, rng: np.random.Generator) -> FloatArray:
    return 1.0 + (LAUNCH_PEAK - 1.0) * np.exp(-t / duration / LAUNCH_DECAY)


SHORT_FINALE = 10.0  # seconds
SHORT_FINALE_BOOST = 4.0


def _short(t: FloatArray, duration: float, rng: np.random.Generator) -> FloatArray:
    seconds = max(1, math.ceil(duration))
    rate = _piecewise_noise(t / duration, seconds, 0.3, 1.7, rng)
    return np.where(t >= duration - SHORT_FINALE, rate * SHORT_FINALE_BOOST, rate)


DEAD_PERIODS = ((0.0, 0.1), (0.35, 0.5), (0.7, 0.8))  # fractions: 6, 9 and 6 minutes of 1 h


def _dead(t: FloatArray, duration: float, rng: np.random.Generator) -> FloatArray:
    u = t / duration
    rate = np.ones_like(t)
    for start, end in DEAD_PERIODS:
        rate[(u >= start) & (u < end)] = 0.0
    return rate


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("flat", "Constant rate for an hour.", HOUR, 5.0, _flat),
        Scenario(
            "diurnal",
            "Three days from midnight: one daytime hump peaking at 15:00, "
            f"nights (23:00-07:00) at {DIURNAL_NIGHT:.1%} of the peak.",
            3 * DAY,
            5.0,
            _diurnal,
        ),
        Scenario(
            "spikes",
            "An hour of steady traffic with four 2-5 minute spikes of 10-50x, "
            "at irregular positions.",
            HOUR,
            5.0,
            _spikes,
        ),
        Scenario(
            "sparse",
            "Flat with mild per-minute noise; run it with plays only 1-3x the budget, "
            "where nearly every play has to win.",
            HOUR,
            5.0,
            _sparse,
        ),
        Scenario(
            "ramp",
            "A forecast gone wrong: traffic climbs 20x over the first half hour, "
            "then collapses to 5% of the peak.",
            HOUR,
            5.0,
            _ramp,
        ),
        Scenario(
            "launch",
            "A launch burst at 100x the tail rate, decaying exponentially "
            "(3-minute e-folding) to a long low tail.",
            HOUR,
            5.0,
            _launch,
        ),
        Scenario(
            "short",
            "A 90-second game in 1-second slots: rate varies 0.3-1.7x second to second, "
            "and quadruples for the final 10 seconds.",
            90.0,
            1.0,
            _short,
        ),
        Scenario(
            "dead",
            "An hour with three dead periods of no plays at all: the first 6 minutes, "
            "minutes 21-30 and minutes 42-48.",
            HOUR,
            5.0,
            _dead,
        ),
    )
}
