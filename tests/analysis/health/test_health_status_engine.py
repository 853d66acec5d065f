"""The classification engine (analysis.health.status_engine): the sustained rule, gaps that break or bridge a
run, and runs that began before the window."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
from health_inputs import T0, at_minute, hot_run, make_series

from sre_lib.analysis import health
from sre_lib.config import PlatformConfig


def _with_sustained(config: PlatformConfig, metric: str, minutes: int) -> PlatformConfig:
    indicators = dict(config.indicators)
    indicators[metric] = indicators[metric].model_copy(update={"sustained_minutes": minutes})
    return config.model_copy(update={"indicators": indicators})


def test_sustained_rule_makes_a_sample_critical_only_after_n_minutes(config: PlatformConfig) -> None:
    result = health.classify(hot_run(), config, sustained={"cpu": 60})
    minute = (result["ts"] - pd.Timestamp(T0)) / pd.Timedelta(minutes=1)
    critical = minute[result["status"] == "critical"]
    assert list(critical) == list(range(90, 109))  # minute 60 of the run (30 + 60) to its end
    assert (result.loc[(minute >= 30) & (minute < 90), "status"] == "warning").all()
    assert (result.loc[(minute >= 30) & (minute < 109), "band"] == "critical").all()
    # The same rule read from the indicator's sustained_minutes.
    from_config = health.classify(hot_run(), _with_sustained(config, "cpu", 60))
    pd.testing.assert_series_equal(from_config["status"], result["status"])
    # Without the rule every hot sample is critical.
    plain = health.classify(hot_run(), config)
    assert (plain["status"] == "critical").sum() == 79


def test_sustained_rule_in_time_in_bands_and_episodes(config: PlatformConfig) -> None:
    tib = health.time_in_bands(hot_run(), config, sustained=60).iloc[0]
    assert (tib.critical_minutes, tib.warning_minutes, tib.healthy_minutes) == (19, 60, 60)
    eps = health.episodes(hot_run(), config, sustained=60)
    assert list(eps["status"].astype(str)) == ["warning", "critical"]
    assert list(eps["start"]) == [at_minute(30), at_minute(90)]
    assert list(eps["end"]) == [at_minute(90), at_minute(109)]
    assert list(eps["duration"]) == [pd.Timedelta(minutes=60), pd.Timedelta(minutes=19)]


def test_a_long_gap_restarts_the_sustained_run_and_a_missing_sample_does_not(config: PlatformConfig) -> None:
    values = [85.0] * 100
    long_gap = health.classify(make_series(values, drop=list(range(40, 50))), config, sustained=60)
    assert not (long_gap["status"] == "critical").any()  # 40 min, 10 min gap, 50 min: never 60 in a row
    one_missing = health.classify(make_series(values, drop=[40]), config, sustained=60)
    minute = (one_missing["ts"] - pd.Timestamp(T0)) / pd.Timedelta(minutes=1)
    assert list(minute[one_missing["status"] == "critical"]) == list(range(60, 100))
    # A wider tolerance bridges the long gap.
    bridged = health.classify(
        make_series(values, drop=list(range(40, 50))), config, sustained=60, max_gap=timedelta(minutes=11)
    )
    assert (bridged["status"] == "critical").sum() == 40


def test_a_sustained_run_that_began_before_the_window_is_judged_on_its_whole_length(config: PlatformConfig) -> None:
    frame = make_series([85.0] * 200)
    result = health.classify(frame, config, start=at_minute(100), sustained=60)
    assert result["ts"].min() == at_minute(100)
    assert (result["status"] == "critical").all()  # hot since minute 0: 100 min >= 60 already
    tib = health.time_in_bands(frame, config, start=at_minute(30), end=at_minute(200), sustained=60).iloc[0]
    assert (tib.warning_minutes, tib.critical_minutes, tib.window_minutes) == (30, 140, 170)
