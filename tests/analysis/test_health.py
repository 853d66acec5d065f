"""Health classification: bands and their boundaries, sustained rules, the evictions trend, time in bands,
episodes, the current status and its roll-up; on hand-made series, small warehouses, real CloudWatch CPU data
and a small demo warehouse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.signal import lfilter
from support.paths import NAB_DATA

from sre_lib.analysis import health
from sre_lib.config import Indicator, PlatformConfig, load_config, parse_config
from sre_lib.errors import DataError
from sre_lib.warehouse.store import Warehouse, canonical_labels, series_id

T0 = datetime(2026, 3, 2, tzinfo=UTC)
NAB = NAB_DATA

CONFIG_TOML = """
[platform]
name = "Health test platform"

[sizes.small]
vcpu = 1
ram_gb = 2
disk_gb = 50
monthly_price = 12.0

[components.app]
role = "app"
size = "small"
count = 2

[components.postgresql]
role = "database"
size = "small"

[components.redis]
role = "cache"
size = "small"

[components.media]
role = "volume"
monthly_price = 25.0

[indicators.cpu]
unit = "percent"
warning = 60.0
critical = 80.0

[indicators.memory]
unit = "percent"
warning = 70.0
critical = 85.0

[indicators.latency_p95]
unit = "ms"
warning = 200.0
critical = 500.0

[redis]
memory_percent = 80.0
hit_ratio_percent = 80.0
evictions_trend_hours = 24
clients_near_limit_percent = 90.0
"""


@pytest.fixture(scope="module")
def config() -> PlatformConfig:
    return parse_config(CONFIG_TOML, source="test")


def _with_sustained(config: PlatformConfig, metric: str, minutes: int) -> PlatformConfig:
    indicators = dict(config.indicators)
    indicators[metric] = indicators[metric].model_copy(update={"sustained_minutes": minutes})
    return config.model_copy(update={"indicators": indicators})


def _series(
    values: list[float] | np.ndarray,
    metric: str = "cpu",
    component: str = "app",
    instance: str = "app-1",
    start: datetime = T0,
    step: timedelta = timedelta(minutes=1),
    drop: list[int] | None = None,
) -> pd.DataFrame:
    """One series of samples every ``step`` from ``start``; ``drop`` removes samples by position (gaps)."""
    frame = pd.DataFrame(
        {
            "ts": pd.date_range(start, periods=len(values), freq=step),
            "value": np.asarray(values, dtype=float),
            "metric": metric,
            "component": component,
            "instance": instance,
        }
    )
    return frame.drop(index=drop or []).reset_index(drop=True)


def _at(minutes: float) -> pd.Timestamp:
    return pd.Timestamp(T0) + pd.Timedelta(minutes=minutes)


# ---------------------------------------------------------------------------------------------------- bands


def test_indicator_bands_adds_the_redis_rules_halfway_to_the_worst_value(config: PlatformConfig) -> None:
    bands = health.indicator_bands(config)
    assert bands["cpu"] == config.indicators["cpu"]
    memory, hits, clients = bands["redis_memory"], bands["redis_hit_ratio"], bands["redis_clients"]
    assert (memory.warning, memory.critical, memory.direction) == (80, 90, "above")
    assert (hits.warning, hits.critical, hits.direction) == (80, 40, "below")
    assert (clients.warning, clients.critical, clients.direction) == (90, 95, "above")
    assert "redis_evictions" not in bands  # a trend rule, not a band


def test_an_explicit_indicator_wins_over_the_derived_redis_band(config: PlatformConfig) -> None:
    indicators = {**config.indicators, "redis_memory": Indicator(unit="percent", warning=75, critical=95)}
    bands = health.indicator_bands(config.model_copy(update={"indicators": indicators}))
    assert (bands["redis_memory"].warning, bands["redis_memory"].critical) == (75, 95)


@pytest.mark.parametrize(
    ("metric", "values", "expected"),
    [
        (
            "cpu",
            [0, 59.99, 60, 70, 80, 80.01, 100],
            ["healthy", "healthy", "warning", "warning", "warning", "critical", "critical"],
        ),
        (
            "redis_hit_ratio",
            [100, 80.01, 80, 60, 40, 39.99, 0],
            ["healthy", "healthy", "warning", "warning", "warning", "critical", "critical"],
        ),
        ("redis_memory", [79.99, 80, 90, 90.01], ["healthy", "warning", "warning", "critical"]),
        ("redis_clients", [89.99, 90, 95, 95.01], ["healthy", "warning", "warning", "critical"]),
    ],
)
def test_band_boundaries(config: PlatformConfig, metric: str, values: list[float], expected: list[str]) -> None:
    with_time = health.classify(_series(values, metric=metric), config)
    assert list(with_time["status"].astype(str)) == expected
    assert list(with_time["band"].astype(str)) == expected
    level_only = health.classify(pd.DataFrame({"metric": metric, "value": values}), config)
    assert list(level_only["status"].astype(str)) == expected


def test_classify_keeps_the_frames_rows_and_marks_what_it_cannot_classify(config: PlatformConfig) -> None:
    frame = pd.concat(
        [_series([50, np.nan, 90]), _series([100, 200, 300], metric="request_rate", instance="all")],
        ignore_index=True,
    ).sample(frac=1.0, random_state=3)  # shuffled: the result follows the input's order
    result = health.classify(frame, config)
    assert list(result.index) == list(frame.index)
    pd.testing.assert_frame_equal(result[frame.columns], frame)
    status = result.set_index(["metric", "value"])["status"]
    assert status[("cpu", 50.0)] == "healthy" and status[("cpu", 90.0)] == "critical"
    assert (result.loc[result["value"].isna(), "status"] == "no data").all()
    assert result.loc[result["metric"] == "request_rate", "status"].isna().all()


# ---------------------------------------------------------------------------------------------------- sustained


def _hot_run() -> pd.DataFrame:
    """30 min at 50 %, 79 min at 85 % (minutes 30..108), 30 min at 50 %: one sample a minute."""
    return _series([50.0] * 30 + [85.0] * 79 + [50.0] * 30)


def test_sustained_rule_makes_a_sample_critical_only_after_n_minutes(config: PlatformConfig) -> None:
    result = health.classify(_hot_run(), config, sustained={"cpu": 60})
    minute = (result["ts"] - pd.Timestamp(T0)) / pd.Timedelta(minutes=1)
    critical = minute[result["status"] == "critical"]
    assert list(critical) == list(range(90, 109))  # minute 60 of the run (30 + 60) to its end
    assert (result.loc[(minute >= 30) & (minute < 90), "status"] == "warning").all()
    assert (result.loc[(minute >= 30) & (minute < 109), "band"] == "critical").all()
    # The same rule read from the indicator's sustained_minutes.
    from_config = health.classify(_hot_run(), _with_sustained(config, "cpu", 60))
    pd.testing.assert_series_equal(from_config["status"], result["status"])
    # Without the rule every hot sample is critical.
    plain = health.classify(_hot_run(), config)
    assert (plain["status"] == "critical").sum() == 79


def test_sustained_rule_in_time_in_bands_and_episodes(config: PlatformConfig) -> None:
    tib = health.time_in_bands(_hot_run(), config, sustained=60).iloc[0]
    assert (tib.critical_minutes, tib.warning_minutes, tib.healthy_minutes) == (19, 60, 60)
    eps = health.episodes(_hot_run(), config, sustained=60)
    assert list(eps["status"].astype(str)) == ["warning", "critical"]
    assert list(eps["start"]) == [_at(30), _at(90)]
    assert list(eps["end"]) == [_at(90), _at(109)]
    assert list(eps["duration"]) == [pd.Timedelta(minutes=60), pd.Timedelta(minutes=19)]


def test_a_long_gap_restarts_the_sustained_run_and_a_missing_sample_does_not(config: PlatformConfig) -> None:
    values = [85.0] * 100
    long_gap = health.classify(_series(values, drop=list(range(40, 50))), config, sustained=60)
    assert not (long_gap["status"] == "critical").any()  # 40 min, 10 min gap, 50 min: never 60 in a row
    one_missing = health.classify(_series(values, drop=[40]), config, sustained=60)
    minute = (one_missing["ts"] - pd.Timestamp(T0)) / pd.Timedelta(minutes=1)
    assert list(minute[one_missing["status"] == "critical"]) == list(range(60, 100))
    # A wider tolerance bridges the long gap.
    bridged = health.classify(
        _series(values, drop=list(range(40, 50))), config, sustained=60, max_gap=timedelta(minutes=11)
    )
    assert (bridged["status"] == "critical").sum() == 40


def test_a_sustained_run_that_began_before_the_window_is_judged_on_its_whole_length(config: PlatformConfig) -> None:
    frame = _series([85.0] * 200)
    result = health.classify(frame, config, start=_at(100), sustained=60)
    assert result["ts"].min() == _at(100)
    assert (result["status"] == "critical").all()  # hot since minute 0: 100 min >= 60 already
    tib = health.time_in_bands(frame, config, start=_at(30), end=_at(200), sustained=60).iloc[0]
    assert (tib.warning_minutes, tib.critical_minutes, tib.window_minutes) == (30, 140, 170)


# ---------------------------------------------------------------------------------------------------- episodes


def _incident() -> list[float]:
    """Healthy 0-9, warning 10-19 (peak 75 at 15), critical 20-24 (peak 95 at 22), healthy 25-39."""
    values = [40.0] * 40
    values[10:20] = [65.0] * 10
    values[15] = 75.0
    values[20:25] = [90.0, 91.0, 95.0, 95.0, 90.0]
    return values


def test_episodes_start_end_and_peak_are_exact(config: PlatformConfig) -> None:
    eps = health.episodes(_series(_incident()), config)
    assert list(eps["status"].astype(str)) == ["warning", "critical"]
    assert list(eps["start"]) == [_at(10), _at(20)]
    assert list(eps["end"]) == [_at(20), _at(25)]
    assert list(eps["peak"]) == [75.0, 95.0]
    assert list(eps["peak_ts"]) == [_at(15), _at(22)]  # the first time the peak was reached
    assert list(eps["samples"]) == [10, 5]
    assert set(eps["component"]) == {"app"} and set(eps["unit"]) == {"percent"}


def test_a_lower_is_worse_episode_peaks_at_its_minimum(config: PlatformConfig) -> None:
    values = [95.0] * 10 + [70.0, 60.0, 55.0, 72.0] + [95.0] * 5
    eps = health.episodes(_series(values, metric="redis_hit_ratio", component="redis"), config)
    assert len(eps) == 1
    assert (eps.loc[0, "peak"], eps.loc[0, "peak_ts"], eps.loc[0, "end"]) == (55.0, _at(12), _at(14))


def test_episodes_bridge_a_missing_sample_but_split_at_a_longer_gap(config: PlatformConfig) -> None:
    bridged = health.episodes(_series(_incident(), drop=[12]), config)
    assert list(bridged["start"]) == [_at(10), _at(20)]
    split = health.episodes(_series(_incident(), drop=[12, 13, 14]), config)
    assert list(split["start"]) == [_at(10), _at(15), _at(20)]
    assert list(split["end"]) == [_at(12), _at(20), _at(25)]  # sample 11 holds one step, then no data
    tib = health.time_in_bands(_series(_incident(), drop=[12, 13, 14]), config).iloc[0]
    assert (tib.no_data_minutes, tib.warning_minutes, tib.critical_minutes) == (3, 7, 5)


def test_an_episode_crossing_the_window_edges_is_cut_to_the_window(config: PlatformConfig) -> None:
    eps = health.episodes(_series(_incident()), config, start=_at(12), end=_at(22))
    assert list(eps["start"]) == [_at(12), _at(20)]
    assert list(eps["end"]) == [_at(20), _at(22)]
    assert list(eps["peak"]) == [75.0, 95.0]  # within the window


# ---------------------------------------------------------------------------------------------------- time in bands


def test_time_in_bands_adds_up_to_the_window(config: PlatformConfig) -> None:
    rng = np.random.default_rng(7)
    parts = []
    for index, metric in enumerate(["cpu", "memory", "latency_p95", "redis_hit_ratio"]):
        values = rng.uniform(0, 100 if metric != "latency_p95" else 800, 300)
        drop = sorted(rng.choice(300, 40, replace=False).tolist())
        parts.append(_series(values, metric=metric, instance=f"i{index}", drop=drop))
    frame = pd.concat(parts, ignore_index=True)
    for start, end in [(None, None), (_at(-60), _at(400)), (_at(17.5), _at(123.25))]:
        tib = health.time_in_bands(frame, config, start, end)
        minutes = tib[["healthy_minutes", "warning_minutes", "critical_minutes", "no_data_minutes"]].sum(axis=1)
        np.testing.assert_allclose(minutes, tib["window_minutes"])
        np.testing.assert_allclose(
            tib[["healthy_share", "warning_share", "critical_share", "no_data_share"]].sum(axis=1), 1.0
        )
        assert (tib[["healthy_minutes", "warning_minutes", "critical_minutes", "no_data_minutes"]] >= 0).all().all()
    wide = health.time_in_bands(frame, config, _at(-60), _at(400))
    assert (wide["no_data_minutes"] >= 160).all()  # 60 min before, 100 min after the 300 samples


def test_time_in_bands_of_an_empty_window_is_all_no_data(config: PlatformConfig) -> None:
    tib = health.time_in_bands(_hot_run(), config, _at(1000), _at(1060))
    assert (tib.no_data_minutes.iloc[0], tib.no_data_share.iloc[0]) == (60, 1.0)


# ---------------------------------------------------------------------------------------------------- warehouse


def _write(warehouse: Warehouse, frame: pd.DataFrame, source: str = "test") -> None:
    """Write a frame of samples (ts, value, metric, component, instance) as one collection run."""
    frame = frame.copy()
    frame["series_id"] = [
        series_id(m, {"component": c, "instance": i})
        for m, c, i in zip(frame.metric, frame.component, frame.instance, strict=True)
    ]
    identity = frame.drop_duplicates("series_id")[["series_id", "metric", "component", "instance"]].copy()
    identity["source"] = source
    identity["labels"] = [
        canonical_labels({"component": c, "instance": i})
        for c, i in zip(identity.component, identity.instance, strict=True)
    ]
    start, end = frame.ts.min().to_pydatetime(), frame.ts.max().to_pydatetime()
    with warehouse.write_run(source, window_start=start, window_end=end) as run:
        run.upsert_series(identity)
        run.replace_samples(frame[["series_id", "ts", "value"]], start, end)


def _platform_frame() -> pd.DataFrame:
    minutes = 24 * 60
    rng = np.random.default_rng(11)
    hot = np.full(minutes, 45.0)
    hot[-90:] = 88.0  # app-1: 90 minutes above 80 at the end
    stale = np.full(minutes - 60, 50.0)  # postgresql memory stops an hour early
    rising = np.linspace(2, 20, minutes) + rng.normal(0, 1, minutes)
    return pd.concat(
        [
            _series(hot, instance="app-1"),
            _series(np.full(minutes, 30.0), instance="app-2"),
            _series(np.full(minutes, 150.0), metric="request_rate", instance="all"),
            _series(stale, metric="memory", component="postgresql", instance="pg-1"),
            _series(np.clip(rising, 0, None), metric="redis_evictions", component="redis", instance="redis-1"),
            _series(np.full(minutes, 92.0), metric="redis_hit_ratio", component="redis", instance="redis-1"),
        ],
        ignore_index=True,
    )


@pytest.mark.parametrize("layout", ["one run", "two runs", "by sample"])
def test_the_warehouse_and_a_frame_give_the_same_results(tmp_path: Path, config: PlatformConfig, layout: str) -> None:
    frame = _platform_frame()
    warehouse = Warehouse(tmp_path / "w.duckdb", lock_timeout=1)
    if layout == "two runs":  # each series is stored in two stretches
        half = pd.Timestamp(T0) + pd.Timedelta(hours=12)
        _write(warehouse, frame[frame.ts < half])
        _write(warehouse, frame[frame.ts >= half])
    elif layout == "by sample":  # every series interleaved with the others, sample by sample
        _write(warehouse, frame.sort_values(["ts", "instance", "metric"], kind="stable"))
    else:
        _write(warehouse, frame)
    con = warehouse.open_read_only()
    try:
        from_warehouse = health.assess(con, config, sustained=60)
        per_sample = health.classify(con, config, start=_at(600), sustained=60)
        status = health.current_status(con, config, sustained=60)
    finally:
        con.close()
    from_frame = health.assess(frame, config, sustained=60)
    columns = ["component", "instance", "metric", "healthy_minutes", "warning_minutes", "critical_minutes"]
    pd.testing.assert_frame_equal(from_warehouse.time_in_bands[columns], from_frame.time_in_bands[columns])
    pd.testing.assert_frame_equal(
        from_warehouse.episodes.drop(columns="series_id"), from_frame.episodes.drop(columns="series_id")
    )
    assert set(from_warehouse.time_in_bands.metric) == {"cpu", "memory", "redis_hit_ratio"}  # no request_rate
    expected = health.classify(frame[frame.ts >= _at(600)], config, sustained=60)
    expected = expected[expected.metric.isin(["cpu", "memory", "redis_hit_ratio"])]
    merged = per_sample.merge(expected, on=["component", "instance", "metric", "ts"], suffixes=("", "_frame"))
    assert len(merged) == len(expected) == len(per_sample)
    assert (merged["status"] == merged["status_frame"]).all()
    pd.testing.assert_frame_equal(
        status.drop(columns="series_id"), health.current_status(frame, config, sustained=60).drop(columns="series_id")
    )


def test_current_status_and_rollup_name_the_cause(config: PlatformConfig) -> None:
    status = health.current_status(_platform_frame(), config, sustained=60)
    rows = status.set_index(["component", "instance", "metric"])
    assert "request_rate" not in set(status.metric)
    end = _at(24 * 60 - 1)
    app1 = rows.loc[("app", "app-1", "cpu")]
    assert (app1.status, app1.value, app1.ts, app1.since) == ("critical", 88.0, end, _at(24 * 60 - 90 + 60))
    assert not app1.since_clipped and "above critical 80" in app1.detail
    assert rows.loc[("app", "app-2", "cpu")].status == "healthy"
    assert rows.loc[("app", "app-2", "cpu")].since_clipped
    pg = rows.loc[("postgresql", "pg-1", "memory")]
    assert (pg.status, pg.since) == ("no data", _at(24 * 60 - 60))  # last sample at -61 min held one step
    evictions = rows.loc[("redis", "redis-1", "redis_evictions")]
    assert evictions.status == "warning" and evictions.detail.startswith("evictions rising")

    result = health.rollup(status, config)
    assert (result.status, result.component, result.instance, result.metric) == ("critical", "app", "app-1", "cpu")
    assert "app-1" in repr(result) and "critical" in result.cause
    components = result.components.set_index("component")
    assert list(components.index) == ["app", "postgresql", "redis", "media"]  # the config's order
    assert components.loc["app", "critical"] == 1 and components.loc["app", "series"] == 2
    assert (components.loc["postgresql", "status"], components.loc["postgresql", "metric"]) == ("no data", "memory")
    assert (components.loc["redis", "status"], components.loc["redis", "metric"]) == ("warning", "redis_evictions")
    assert components.loc["media", "status"] == "no data"
    assert components.loc["media", "detail"] == "no series for this component"
    assert components["since_clipped"].tolist() == [False, False, True, False]  # only the trend held from the start


def test_rollup_worst_wins_and_ties_go_to_the_oldest(config: PlatformConfig) -> None:
    table = pd.DataFrame(
        {
            "component": ["app", "app", "app", "redis"],
            "instance": ["app-1", "app-2", "app-2", "redis-1"],
            "metric": ["cpu", "cpu", "memory", "redis_memory"],
            "status": ["warning", "warning", "healthy", "warning"],
            "since": [_at(50), _at(10), _at(0), _at(5)],
        }
    )
    result = health.rollup(table)
    assert (result.status, result.component, result.instance, result.metric) == (
        "warning",
        "redis",
        "redis-1",
        "redis_memory",
    )
    app = result.components.set_index("component").loc["app"]
    assert (app.status, app.instance, app.warning, app.healthy) == ("warning", "app-2", 2, 1)
    healthy = health.rollup(table.assign(status="healthy"), config)
    assert healthy.status == "no data"  # postgresql and media have no series
    assert health.rollup(table.assign(status="healthy")).status == "healthy"
    with pytest.raises(DataError, match="unknown status"):
        health.rollup(table.assign(status="fine"))


# ---------------------------------------------------------------------------------------------------- evictions


def _evictions(values: np.ndarray) -> pd.DataFrame:
    return _series(values, metric="redis_evictions", component="redis", instance="redis-1")


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
    sparse = _series([1.0, 2.0, 3.0, 4.0, 5.0], metric="redis_evictions", step=timedelta(hours=2))
    result = health.evictions_trend(sparse, config)
    assert result.loc[0, "status"] == "no data" and "5 of 24" in result.loc[0, "detail"]


# ---------------------------------------------------------------------------------------------------- bad input


def test_bad_input_gets_a_clear_error(config: PlatformConfig) -> None:
    good = _series([50.0, 60.0, 70.0])
    with pytest.raises(DataError, match="no rows"):
        health.classify(good.iloc[:0], config)
    with pytest.raises(DataError, match=r"all 3 values of \['cpu'\] are NaN"):
        health.time_in_bands(good.assign(value=np.nan), config)
    with pytest.raises(DataError, match="'cpuu'"):
        health.classify(good.assign(metric="cpuu"), config)
    with pytest.raises(DataError, match=r"missing column\(s\) \['value'\]"):
        health.classify(good.drop(columns="value"), config)
    with pytest.raises(DataError, match=r"missing column\(s\) \['ts'\]"):
        health.episodes(good.drop(columns="ts"), config)
    with pytest.raises(DataError, match=r"negative value\(s\) for 'cpu' \(first -5 at row 1\)"):
        health.classify(good.assign(value=[50.0, -5.0, 70.0]), config)
    with pytest.raises(DataError, match=r"cpu on app/app-1: 1 duplicate timestamp"):
        health.classify(good.assign(ts=[_at(0), _at(1), _at(1)]), config)
    with pytest.raises(DataError, match="must be numeric"):
        health.classify(good.assign(value=["a", "b", "c"]), config)
    with pytest.raises(DataError, match=r"sustained: no bands for metric\(s\) \['cpuu'\]"):
        health.classify(good, config, sustained={"cpuu": 5})
    with pytest.raises(DataError, match=r"start .* must be before end"):
        health.time_in_bands(good, config, _at(10), _at(0))
    with pytest.raises(DataError, match="sustained rule of \\['cpu'\\] needs a 'ts' column"):
        health.classify(good.drop(columns="ts"), config, sustained=10)
    with pytest.raises(TypeError, match="DuckDB connection or a DataFrame"):
        health.classify([1, 2, 3], config)  # type: ignore[arg-type]


def test_an_empty_warehouse_gives_empty_results_not_errors(tmp_path: Path, config: PlatformConfig) -> None:
    warehouse = Warehouse(tmp_path / "empty.duckdb", lock_timeout=1)
    warehouse.ensure_created()
    con = warehouse.open_read_only()
    try:
        assert health.current_status(con, config).empty
        assert health.evictions_trend(con, config).empty
        with pytest.raises(DataError, match="no samples of a banded metric"):
            health.time_in_bands(con, config)
        assert health.time_in_bands(con, config, _at(0), _at(60)).empty
    finally:
        con.close()
    rolled = health.rollup(pd.DataFrame(columns=["component", "metric", "status"]), config)
    assert rolled.status == "no data" and set(rolled.components.status.astype(str)) == {"no data"}


# ---------------------------------------------------------------------------------------------------- real data


def _nab_frames() -> list[tuple[str, pd.DataFrame]]:
    files = sorted(NAB.glob("ec2_cpu_utilization_*.csv"))
    if not files:
        pytest.skip(f"NAB CloudWatch data not found in {NAB}")
    return [(f.stem, pd.read_csv(f, parse_dates=["timestamp"])) for f in files]


def test_real_cloudwatch_cpu_matches_an_independent_pandas_computation(config: PlatformConfig) -> None:
    seen = set()
    for name, raw in _nab_frames():
        frame = raw.rename(columns={"timestamp": "ts"}).assign(metric="cpu", instance=name)
        # Independent computation of the same rules with plain pandas.
        value = frame["value"]
        expected = np.select([value > 80, value >= 60], ["critical", "warning"], "healthy")
        result = health.classify(frame, config)
        assert (result["status"].astype(str).to_numpy() == expected).all(), name
        seen |= set(expected)

        ts = frame["ts"].dt.tz_localize("UTC")
        step = ts.diff().median()
        gap = ts.shift(-1) - ts
        held = gap.where(gap <= 2 * step, step).fillna(step)
        minutes = (held / pd.Timedelta(minutes=1)).groupby(expected).sum()
        tib = health.time_in_bands(frame, config).iloc[0]
        for status in ("healthy", "warning", "critical"):
            assert tib[f"{status}_minutes"] == pytest.approx(minutes.get(status, 0.0)), (name, status)
        assert tib.window_minutes == pytest.approx(((ts.iloc[-1] - ts.iloc[0]) + step) / pd.Timedelta(minutes=1))

        run = ((pd.Series(expected) != pd.Series(expected).shift()) | (gap.shift() > 2 * step)).cumsum()
        bad = pd.DataFrame({"run": run, "status": expected, "value": value})[expected != "healthy"]
        runs = bad.groupby("run").agg(status=("status", "first"), peak=("value", "max"))
        eps = health.episodes(frame, config)
        assert len(eps) == len(runs), name
        assert sorted(eps["peak"]) == sorted(runs["peak"]), name
    assert seen == {"healthy", "warning", "critical"}


# ---------------------------------------------------------------------------------------------------- demo


def test_a_small_demo_warehouse_gets_a_status_for_every_component(tmp_path: Path) -> None:
    from sre_lib.demo.build import build_demo
    from sre_lib.demo.spec import DemoSpec

    build_demo(tmp_path / "demo.duckdb", DemoSpec(days=3))
    config = load_config()
    con = Warehouse(tmp_path / "demo.duckdb").open_read_only()
    try:
        status = health.current_status(con, config)
        assessment = health.assess(con, config)
    finally:
        con.close()
    banded = set(health.indicator_bands(config)) | set(health.TREND_METRICS)
    assert set(status.metric) <= banded and "request_rate" not in set(status.metric)
    assert "redis_evictions" in set(status.metric)
    assert status["status"].notna().all() and status["ts"].notna().all()
    assert (status.loc[status.metric != "redis_evictions", "status"] != "no data").all()
    result = health.rollup(status, config)
    assert set(result.components.component) == set(config.components)
    assert result.status in health.STATUSES
    np.testing.assert_allclose(
        assessment.time_in_bands[["healthy_share", "warning_share", "critical_share", "no_data_share"]].sum(axis=1), 1.0
    )
    assert "Assessment(" in repr(assessment) and len(assessment.samples()) > 0


@pytest.mark.parametrize(
    ("value", "level", "shown"),
    [(33.2063, 70, "33.2"), (2.7661, 90, "2.8"), (69.96, 70, "69.96"), (69.9999, 70, "69.9999"), (70.0, 70, "70"),
     (85.04, 85, "85.04"), (77.7907, 80, "77.8"), (120.0, 80, "120")],
)  # fmt: skip
def test_a_reading_is_rounded_but_never_across_its_level(value: float, level: float, shown: str) -> None:
    assert health.reading(value, level) == shown
