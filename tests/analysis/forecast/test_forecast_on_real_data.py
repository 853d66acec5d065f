"""Forecasts on real and demo series: NAB CloudWatch data, the demo disk growth, the demo warehouse."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from support.paths import NAB_DATA

from sre_lib.analysis.forecast import bounds_for, forecast, forecast_many, forecast_summary
from sre_lib.analysis.signals import capacity_signal, daily_signal
from sre_lib.analysis.thresholds import thresholds_for, time_to_threshold, time_to_threshold_many
from sre_lib.config import load_config
from sre_lib.demo.metric_history import DEMO_SERIES, sample_times, shape_values
from sre_lib.demo.spec import DemoSpec
from sre_lib.warehouse.store import Warehouse

NAB = NAB_DATA
CONFIG = load_config()


def _acf(x: np.ndarray, lag: int) -> float:
    x = x - x.mean()
    return float((x[lag:] * x[:-lag]).sum() / (x * x).sum())


def test_nab_series_with_daily_structure_beat_the_naive_forecast() -> None:
    """Hourly p95 of NAB's 5-minute CloudWatch series; daily structure measured, not assumed.

    A daily pattern shows as autocorrelation at lag 24 of the hourly changes (differencing removes slow level
    drifts, which would otherwise correlate at every lag). Where it is clear (>= 0.3), the forecast of the last
    48 hours, made without them, must have a lower error than the naive forecast, and the backtest MASE must be
    below 1 unless the forecast fell back to (and says it is) the seasonal-naive one.
    """
    files = sorted(NAB.glob("*.csv"))
    assert len(files) >= 15, f"NAB data missing under {NAB}"
    structured = {}
    for path in files:
        samples = pd.read_csv(path).rename(columns={"timestamp": "ts"})
        signal = capacity_signal(samples, "UTC", freq="h")
        if len(signal) >= 24 * 7 and _acf(np.diff(signal["value"].to_numpy()), 24) >= 0.3:
            structured[path.name] = signal
    assert 2 <= len(structured) <= 8, sorted(structured)
    for name, signal in structured.items():
        actual = signal["value"].to_numpy()[-48:]
        held_out = forecast(signal.iloc[:-48], 48, freq="h", bounds=(0, 100))
        assert held_out.season == 24
        error = np.abs(held_out.frame["mean"].to_numpy() - actual).mean()
        naive_error = np.abs(signal["value"].to_numpy()[-49] - actual).mean()
        assert error < naive_error, (name, error, naive_error)
        full = forecast(signal, 48, freq="h", bounds=(0, 100))
        if full.model == "seasonal naive":
            assert not full.trustworthy and "seasonal-naive" in full.reason
        else:
            assert full.backtest.mase < 1, (name, full.backtest)


def test_demo_disk_growth_crosses_warning_when_the_shape_says() -> None:
    spec = DemoSpec(step=timedelta(minutes=15))
    media = next(s for s in DEMO_SERIES if s.component == "media" and s.metric == "disk")
    times = sample_times(spec)
    values = shape_values(media.shape, times, spec, np.random.default_rng(spec.seed))
    signal = capacity_signal(pd.DataFrame({"ts": times, "value": values}), CONFIG)
    result = forecast(signal, 90, bounds=bounds_for(CONFIG.indicators["disk"]))
    assert result.trustworthy, result.reason
    table = time_to_threshold(result, thresholds_for(CONFIG.indicators["disk"], full=100)).set_index("threshold")
    # level = base * (1 + growth * days / span) reaches 70 after span * (70 / base - 1) / growth days.
    shape = media.shape
    days = spec.days * (70 / shape.base - 1) / shape.growth
    expected = pd.Timestamp(spec.start + timedelta(days=days)).tz_convert(CONFIG.platform.timezone).tz_localize(None)
    assert abs((table.loc["warning", "likely"] - expected.normalize()).days) <= 2


def test_demo_warehouse_forecasts_for_every_series(demo_warehouse: Path) -> None:
    con = Warehouse(demo_warehouse).open_read_only()
    try:
        signals = daily_signal(con, CONFIG)
    finally:
        con.close()
    keys = ["component", "instance", "metric"]
    bounds = {name: bounds_for(indicator) for name, indicator in CONFIG.indicators.items()}
    result = forecast_many(signals.drop(columns=["series_id"]), 30, keys=keys, bounds=bounds, workers=1)
    summary = forecast_summary(result, keys)
    assert len(summary) == signals[keys].drop_duplicates().shape[0]
    app_cpu = summary.set_index(keys).loc[("app", "app-1", "cpu")]
    assert app_cpu["model"].endswith(",A)") and app_cpu["trustworthy"] and app_cpu["mase"] < 1
    crossings = time_to_threshold_many(result, CONFIG, keys=keys)
    media_disk = crossings[(crossings["component"] == "media") & (crossings["threshold"] == "warning")]
    assert media_disk["likely"].notna().item()
    assert set(crossings.loc[crossings["metric"] == "disk", "threshold"]) == {"warning", "critical", "full"}
