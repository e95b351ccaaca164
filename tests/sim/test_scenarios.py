from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from frolic.sim.scenarios import DEAD_PERIODS, SCENARIOS, Scenario, sample_arrivals

SEEDS = [0, 1, 2]


def counts(times: NDArray[np.float64], duration: float, width: float) -> NDArray[np.int64]:
    """Plays in consecutive windows of ``width`` seconds."""
    edges = np.arange(0.0, duration + width / 2, width)
    return np.histogram(times, bins=edges)[0]


def draw(name: str, plays: int, seed: int = 0) -> tuple[Scenario, NDArray[np.float64]]:
    scenario = SCENARIOS[name]
    return scenario, scenario.generate(plays, scenario.duration, np.random.default_rng(seed))


def test_the_catalogue() -> None:
    assert set(SCENARIOS) == {
        "flat", "diurnal", "spikes", "sparse", "ramp", "launch", "short", "dead",
    }  # fmt: skip
    assert all(name == s.name and s.description for name, s in SCENARIOS.items())
    assert SCENARIOS["diurnal"].duration == 259_200
    assert (SCENARIOS["short"].duration, SCENARIOS["short"].slot_seconds) == (90, 1)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
@pytest.mark.parametrize("duration", [None, 600.0])
def test_exactly_the_plays_asked_for_sorted_within_the_game(
    name: str, duration: float | None
) -> None:
    scenario = SCENARIOS[name]
    game = duration or scenario.duration
    times = scenario.generate(7_919, game, np.random.default_rng(5))
    assert times.shape == (7_919,)
    assert times.dtype == np.float64
    assert np.all(np.diff(times) >= 0)
    assert times[0] >= 0
    assert times[-1] < game


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_same_seed_gives_the_same_traffic(name: str) -> None:
    assert np.array_equal(draw(name, 1000, seed=9)[1], draw(name, 1000, seed=9)[1])
    assert not np.array_equal(draw(name, 1000, seed=9)[1], draw(name, 1000, seed=10)[1])


def test_no_plays_is_an_empty_game() -> None:
    assert draw("flat", 0)[1].shape == (0,)


def test_a_curve_must_have_somewhere_to_put_plays() -> None:
    with pytest.raises(ValueError, match="somewhere positive"):
        sample_arrivals(lambda t, d, rng: np.zeros_like(t), 10, 60.0, np.random.default_rng())


@pytest.mark.parametrize("seed", SEEDS)
def test_flat_is_even(seed: int) -> None:
    scenario, times = draw("flat", 60_000, seed)
    per_minute = counts(times, scenario.duration, 60)
    assert per_minute.min() > 0.85 * per_minute.mean()
    assert per_minute.max() < 1.15 * per_minute.mean()


@pytest.mark.parametrize("seed", SEEDS)
def test_diurnal_nights_are_nearly_empty(seed: int) -> None:
    scenario, times = draw("diurnal", 200_000, seed)
    per_hour = counts(times, scenario.duration, 3600).reshape(3, 24)
    nights = per_hour[:, [0, 1, 2, 3, 4, 5, 23]]
    assert nights.max() < 0.05 * per_hour.max()
    assert nights.min() > 0  # quiet, not dead
    # Every day has its own daytime peak.
    assert np.all(per_hour[:, 12:18].min(axis=1) > 0.5 * per_hour.max())


@pytest.mark.parametrize("seed", SEEDS)
def test_spikes_stand_far_above_the_usual_rate(seed: int) -> None:
    scenario, times = draw("spikes", 100_000, seed)
    per_minute = counts(times, scenario.duration, 60)
    usual = np.median(per_minute)
    high = per_minute > 10 * usual
    assert high.sum() >= 3
    assert (per_minute > 2 * usual).mean() < 0.35  # spikes are brief
    # At least three separate spikes, not one long surge.
    starts = np.flatnonzero(np.diff(high.astype(np.int8)) == 1)
    assert len(starts) + int(high[0]) >= 3


@pytest.mark.parametrize("seed", SEEDS)
def test_sparse_is_flat_with_mild_noise(seed: int) -> None:
    scenario, times = draw("sparse", 60_000, seed)
    per_five_minutes = counts(times, scenario.duration, 300)
    assert per_five_minutes.min() > 0.6 * per_five_minutes.mean()
    assert per_five_minutes.max() < 1.4 * per_five_minutes.mean()


@pytest.mark.parametrize("seed", SEEDS)
def test_ramp_climbs_then_collapses(seed: int) -> None:
    scenario, times = draw("ramp", 100_000, seed)
    per_minute = counts(times, scenario.duration, 60)
    assert per_minute[29] > 10 * per_minute[0]
    assert np.all(np.diff(per_minute[:30].reshape(6, 5).sum(axis=1)) > 0)
    after = per_minute[31:]
    assert after.max() < 0.1 * per_minute[29]
    assert after.min() > 0  # collapsed, not gone


@pytest.mark.parametrize("seed", SEEDS)
def test_launch_starts_with_a_burst_that_decays(seed: int) -> None:
    scenario, times = draw("launch", 100_000, seed)
    per_minute = counts(times, scenario.duration, 60)
    assert per_minute[0] > 30 * per_minute[-10:].mean()
    assert np.all(np.diff(per_minute[:10]) < 0)
    assert per_minute[-10:].min() > 0


@pytest.mark.parametrize("seed", SEEDS)
def test_short_is_noisy_and_ends_in_a_burst(seed: int) -> None:
    scenario, times = draw("short", 9_000, seed)
    per_second = counts(times, scenario.duration, 1)
    assert per_second.shape == (90,)
    body = per_second[:80]
    assert body.std() > 0.25 * body.mean()  # far noisier than Poisson at ~80 a second
    assert per_second[80:].mean() > 2.5 * body.mean()


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("duration", [None, 900.0, 12_345.6])
def test_dead_periods_have_no_plays(seed: int, duration: float | None) -> None:
    scenario = SCENARIOS["dead"]
    game = duration or scenario.duration
    times = scenario.generate(50_000, game, np.random.default_rng(seed))
    assert DEAD_PERIODS[0][0] == 0  # the game opens dead
    for start, end in DEAD_PERIODS:
        assert not np.any((times >= start * game) & (times < end * game))
        # Traffic is back within a few seconds of the end.
        assert np.any((times >= end * game) & (times < end * game + 5))
    assert 5 * 60 <= min(end - start for start, end in DEAD_PERIODS) * scenario.duration
    assert max(end - start for start, end in DEAD_PERIODS) * scenario.duration <= 10 * 60
