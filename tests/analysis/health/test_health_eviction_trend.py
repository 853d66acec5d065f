"""The Redis evictions trend (analysis.health.eviction_trend): rising, flat and noisy series, a daily cycle against
growth from one day to the next, small drifts and too few samples."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from health_inputs import T0, make_series
from scipy.signal import lfilter

from sre_lib.analysis import health
from sre_lib.config import PlatformConfig


def _evictions(values: np.ndarray) -> pd.DataFrame:
    return make_series(values, metric="redis_evictions", component="redis", instance="redis-1")


def test_evictions_rising_flat_and_noisy_flat(config: PlatformConfig) -> None:
    minutes = 24 * 60
    rng = np.random.default_rng(5)
    rising = health.evictions_trend(_evictions(np.linspace(10, 30, minutes) + rng.normal(0, 4, minutes)), config)
    assert (rising.loc[0, "status"], bool(rising.loc[0, "rising"])) == ("warning", True)
    assert rising.loc[0, "p_value"] < 0.01
    assert rising.loc[0, "earlier_mean"] == pytest.approx(15, abs=0.5)
    assert rising.loc[0, "later_mean"] == pytest.approx(25, abs=0.5)
    assert rising.loc[0, "slope_per_hour"] == pytest.approx(20 / 24, rel=0.1)
    flat = health.evictions_trend(_evictions(np.full(minutes, 5.0)), config)
    assert (flat.loc[0, "status"], bool(flat.loc[0, "rising"])) == ("healthy", False)
    never = health.evictions_trend(_evictions(np.zeros(minutes)), config)
    assert never.loc[0, "status"] == "healthy"
    from_zero = np.zeros(minutes)
    from_zero[-300:] = np.linspace(0.5, 5, 300)
    assert health.evictions_trend(_evictions(from_zero), config).loc[0, "status"] == "warning"
    # Noise around a flat level, white or autocorrelated: rarely a false alarm.
    alarms = 0
    for seed in range(40):
        noise = np.random.default_rng(seed).normal(0, 3, minutes)
        if seed % 2:
            noise = lfilter([1.0], [1.0, -0.9], noise * np.sqrt(1 - 0.81))
        alarms += bool(health.evictions_trend(_evictions(np.clip(5 + noise, 0, None)), config).loc[0, "rising"])
    assert alarms <= 4
    # A rise over the day before, then a flat day at twice that day's average: higher, hour for hour.
    old_rise = np.concatenate([np.linspace(1, 50, minutes), np.full(minutes, 50.0) + rng.normal(0, 1, minutes)])
    after_rise = health.evictions_trend(_evictions(old_rise), config).loc[0]
    assert after_rise["status"] == "warning" and "same time before in 24 of 24 slots" in after_rise["detail"]
    # The same flat level two days running is not rising.
    steady = health.evictions_trend(_evictions(np.full(2 * minutes, 50.0) + rng.normal(0, 1, 2 * minutes)), config)
    assert steady.loc[0, "status"] == "healthy" and "seasonal Mann-Kendall" in steady.loc[0, "detail"]


def _daily_cycle(days: int, growth_per_day: float, seed: int) -> np.ndarray:
    """Evictions per minute that follow the day (busy afternoons, quiet nights), growing by a factor a day."""
    minute = np.arange(days * 1440)
    cycle = 10 + 8 * np.sin(2 * np.pi * (minute % 1440) / 1440)
    noise = np.random.default_rng(seed).normal(0, 1, len(minute))
    return np.clip(cycle * (1 + growth_per_day) ** (minute / 1440) + noise, 0, None)


@pytest.mark.parametrize("hour", [0, 6, 12, 18])
def test_a_daily_cycle_is_not_a_trend_but_growth_from_one_day_to_the_next_is(config: PlatformConfig, hour: int) -> None:
    as_of = T0 + timedelta(days=2, hours=hour)
    cycle = health.evictions_trend(_evictions(_daily_cycle(3, 0.0, seed=hour)), config, as_of=as_of).loc[0]
    assert (cycle["status"], bool(cycle["rising"])) == ("healthy", False), cycle["detail"]
    growing = health.evictions_trend(_evictions(_daily_cycle(3, 0.3, seed=hour)), config, as_of=as_of).loc[0]
    assert (growing["status"], bool(growing["rising"])) == ("warning", True), growing["detail"]
    assert growing["p_value"] < 0.01 and growing["later_mean"] == pytest.approx(1.3 * growing["earlier_mean"], rel=0.05)
    # Within one day alone (no day before), the cycle is all that can be seen: flagged as such.
    one_day = _evictions(_daily_cycle(1, 0.0, seed=hour))
    assert "within the last 24 h only" in health.evictions_trend(one_day, config).loc[0, "detail"]


def test_a_small_steady_drift_in_evictions_is_significant_but_not_an_alarm(config: PlatformConfig) -> None:
    rng = np.random.default_rng(9)
    drift = _evictions(np.linspace(10, 10.5, 24 * 60) + rng.normal(0, 0.05, 24 * 60))
    result = health.evictions_trend(drift, config)
    assert result.loc[0, "p_value"] < 0.01 and result.loc[0, "status"] == "healthy"  # +2.5 % < min_rise 10 %
    assert health.evictions_trend(drift, config, min_rise=0.01).loc[0, "status"] == "warning"


def test_evictions_with_too_few_samples_are_no_data(config: PlatformConfig) -> None:
    sparse = make_series([1.0, 2.0, 3.0, 4.0, 5.0], metric="redis_evictions", step=timedelta(hours=2))
    result = health.evictions_trend(sparse, config)
    assert result.loc[0, "status"] == "no data" and "only 5 samples" in result.loc[0, "detail"]
    assert "judged on 8 h of samples" in result.loc[0, "detail"]


SECONDS = timedelta(seconds=5)  # the live hub's collection step


def _young(quiet: int, evicting: int, rate: float = 4.0, after: int = 0) -> pd.DataFrame:
    """``quiet`` 5 s samples without evictions, ``evicting`` at ``rate`` per minute, then ``after`` without."""
    values = np.concatenate([np.zeros(quiet), np.full(evicting, rate), np.zeros(after)])
    return make_series(values, metric="redis_evictions", component="redis", instance="redis-1", step=SECONDS)


def test_a_young_history_without_evictions_is_healthy_and_says_on_how_much(config: PlatformConfig) -> None:
    row = health.evictions_trend(_young(36, 0), config).loc[0]
    assert (row["status"], bool(row["rising"])) == ("healthy", False)
    assert row["detail"] == "no evictions (judged on 2 min 55 s of samples, not the 48 h a day-on-day trend needs)"


def test_evictions_that_started_and_continue_on_a_young_platform_are_rising(config: PlatformConfig) -> None:
    row = health.evictions_trend(_young(24, 8), config).loc[0]
    assert (row["status"], bool(row["rising"])) == ("warning", True)
    began = pd.Timestamp(T0) + 24 * SECONDS
    assert row["detail"].startswith(f"evictions rising: started {began:%Y-%m-%d %H:%M:%S} UTC and continue, 4/min")
    assert "against none in the 2 min before (judged on 2 min 35 s of samples" in row["detail"]
    assert (row["earlier_mean"], row["later_mean"], row["last_value"]) == (0.0, 4.0, 4.0)
    # Stopped since: healthy, saying when they stopped. Begun only at the newest sample: too soon to say.
    stopped = health.evictions_trend(_young(24, 8, after=4), config).loc[0]
    assert stopped["status"] == "healthy" and "evictions stopped: none since" in stopped["detail"]
    begun = health.evictions_trend(_young(24, 1), config).loc[0]
    assert begun["status"] == "no data" and "too soon to say they continue" in begun["detail"]
    # A new run no higher than the one before is not rising; a much higher one is.
    again = np.concatenate([np.full(12, 4.0), np.zeros(12), np.full(12, 4.0)])
    same = health.evictions_trend(make_series(again, metric="redis_evictions", step=SECONDS), config).loc[0]
    assert same["status"] == "healthy" and "not rising: again since" in same["detail"]
    again[-12:] = 20.0
    higher = health.evictions_trend(make_series(again, metric="redis_evictions", step=SECONDS), config).loc[0]
    assert higher["status"] == "warning" and "20/min against 4/min while they last ran" in higher["detail"]


def test_young_evictions_throughout_are_tested_for_a_trend_over_the_history_there_is(config: PlatformConfig) -> None:
    rng = np.random.default_rng(3)
    minutes = 120  # two hours at 1-minute steps: 2 of the 24 hourly buckets
    growing = np.linspace(2, 8, minutes) + rng.normal(0, 0.3, minutes)
    row = health.evictions_trend(_evictions(np.clip(growing, 0.1, None)), config).loc[0]
    assert (row["status"], bool(row["rising"])) == ("warning", True) and row["p_value"] < 0.01
    assert "over 1 h 59 min" in row["detail"] and "judged on 1 h 59 min of samples" in row["detail"]
    steady = health.evictions_trend(_evictions(np.clip(5 + rng.normal(0, 0.3, minutes), 0.1, None)), config).loc[0]
    assert (steady["status"], bool(steady["rising"])) == ("healthy", False)
