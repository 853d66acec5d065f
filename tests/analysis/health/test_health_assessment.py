"""One pass over a window (analysis.health.assessment): exact episodes (start, end, peak, gaps, window edges) and
time in bands that adds up to the window."""

from __future__ import annotations

import numpy as np
import pandas as pd
from health_inputs import at_minute, hot_run, make_series

from sre_lib.analysis import health
from sre_lib.config import PlatformConfig


def _incident() -> list[float]:
    """Healthy 0-9, warning 10-19 (peak 75 at 15), critical 20-24 (peak 95 at 22), healthy 25-39."""
    values = [40.0] * 40
    values[10:20] = [65.0] * 10
    values[15] = 75.0
    values[20:25] = [90.0, 91.0, 95.0, 95.0, 90.0]
    return values


def test_episodes_start_end_and_peak_are_exact(config: PlatformConfig) -> None:
    eps = health.episodes(make_series(_incident()), config)
    assert list(eps["status"].astype(str)) == ["warning", "critical"]
    assert list(eps["start"]) == [at_minute(10), at_minute(20)]
    assert list(eps["end"]) == [at_minute(20), at_minute(25)]
    assert list(eps["peak"]) == [75.0, 95.0]
    assert list(eps["peak_ts"]) == [at_minute(15), at_minute(22)]  # the first time the peak was reached
    assert list(eps["samples"]) == [10, 5]
    assert set(eps["component"]) == {"app"} and set(eps["unit"]) == {"percent"}


def test_a_lower_is_worse_episode_peaks_at_its_minimum(config: PlatformConfig) -> None:
    values = [95.0] * 10 + [70.0, 60.0, 55.0, 72.0] + [95.0] * 5
    eps = health.episodes(make_series(values, metric="redis_hit_ratio", component="redis"), config)
    assert len(eps) == 1
    assert (eps.loc[0, "peak"], eps.loc[0, "peak_ts"], eps.loc[0, "end"]) == (55.0, at_minute(12), at_minute(14))


def test_episodes_bridge_a_missing_sample_but_split_at_a_longer_gap(config: PlatformConfig) -> None:
    bridged = health.episodes(make_series(_incident(), drop=[12]), config)
    assert list(bridged["start"]) == [at_minute(10), at_minute(20)]
    split = health.episodes(make_series(_incident(), drop=[12, 13, 14]), config)
    assert list(split["start"]) == [at_minute(10), at_minute(15), at_minute(20)]
    assert list(split["end"]) == [at_minute(12), at_minute(20), at_minute(25)]  # sample 11 holds one step, then no data
    tib = health.time_in_bands(make_series(_incident(), drop=[12, 13, 14]), config).iloc[0]
    assert (tib.no_data_minutes, tib.warning_minutes, tib.critical_minutes) == (3, 7, 5)


def test_an_episode_crossing_the_window_edges_is_cut_to_the_window(config: PlatformConfig) -> None:
    eps = health.episodes(make_series(_incident()), config, start=at_minute(12), end=at_minute(22))
    assert list(eps["start"]) == [at_minute(12), at_minute(20)]
    assert list(eps["end"]) == [at_minute(20), at_minute(22)]
    assert list(eps["peak"]) == [75.0, 95.0]  # within the window


def test_time_in_bands_adds_up_to_the_window(config: PlatformConfig) -> None:
    rng = np.random.default_rng(7)
    parts = []
    for index, metric in enumerate(["cpu", "memory", "latency_p95", "redis_hit_ratio"]):
        values = rng.uniform(0, 100 if metric != "latency_p95" else 800, 300)
        drop = sorted(rng.choice(300, 40, replace=False).tolist())
        parts.append(make_series(values, metric=metric, instance=f"i{index}", drop=drop))
    frame = pd.concat(parts, ignore_index=True)
    for start, end in [(None, None), (at_minute(-60), at_minute(400)), (at_minute(17.5), at_minute(123.25))]:
        tib = health.time_in_bands(frame, config, start, end)
        minutes = tib[["healthy_minutes", "warning_minutes", "critical_minutes", "no_data_minutes"]].sum(axis=1)
        np.testing.assert_allclose(minutes, tib["window_minutes"])
        np.testing.assert_allclose(
            tib[["healthy_share", "warning_share", "critical_share", "no_data_share"]].sum(axis=1), 1.0
        )
        assert (tib[["healthy_minutes", "warning_minutes", "critical_minutes", "no_data_minutes"]] >= 0).all().all()
    wide = health.time_in_bands(frame, config, at_minute(-60), at_minute(400))
    assert (wide["no_data_minutes"] >= 160).all()  # 60 min before, 100 min after the 300 samples


def test_time_in_bands_of_an_empty_window_is_all_no_data(config: PlatformConfig) -> None:
    tib = health.time_in_bands(hot_run(), config, at_minute(1000), at_minute(1060))
    assert (tib.no_data_minutes.iloc[0], tib.no_data_share.iloc[0]) == (60, 1.0)
