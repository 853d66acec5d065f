"""Growth forecasts: ETS forecasts and their backtests, on synthetic, demo and real series.

Checked against what is known independently: statsmodels' own predictions, nominal interval coverage on
simulated futures, and real CloudWatch series from NAB.
"""

from __future__ import annotations

import warnings
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.tools.sm_exceptions import ConvergenceWarning
from statsmodels.tsa.exponential_smoothing.ets import ETSModel
from support.forecast_inputs import daily, trend_series
from support.paths import NAB_DATA

from sre_lib.analysis import forecast as fc_module
from sre_lib.analysis.forecast import Forecast, bounds_for, forecast, forecast_many, forecast_summary
from sre_lib.analysis.signals import capacity_signal, daily_signal
from sre_lib.analysis.thresholds import thresholds_for, time_to_threshold, time_to_threshold_many
from sre_lib.config import load_config
from sre_lib.demo.metric_history import DEMO_SERIES, sample_times, shape_values
from sre_lib.demo.spec import DemoSpec
from sre_lib.errors import DataError
from sre_lib.warehouse.store import Warehouse

NAB = NAB_DATA
CONFIG = load_config()


# ----------------------------------------------------------------------------------------------- models


@pytest.mark.parametrize(
    ("trend", "damped", "seasonal"), [(False, False, False), (True, False, False), (True, True, True)]
)
def test_refiltered_ets_reproduces_statsmodels_predictions(trend: bool, damped: bool, seasonal: bool) -> None:
    y = trend_series(120, 0.1, noise=1.5, weekly=3.0, seed=4)
    loc, scale = y.mean(), y.std()
    spec = fc_module._EtsSpec(trend, damped, seasonal)
    fitted = fc_module._fit_ets((y - loc) / scale, spec, 7, loc, scale, [])
    assert fitted is not None
    mean, sd = fitted.predict(len(y), 20)
    params = [fitted.alpha] + [fitted.beta] * trend + [fitted.gamma] * seasonal + [fitted.phi] * damped
    index = pd.date_range("2026-01-01", periods=len(y), freq="D")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ETSModel(
            pd.Series((y - loc) / scale, index=index),
            error="add",
            trend="add" if trend else None,
            damped_trend=damped,
            seasonal="add" if seasonal else None,
            seasonal_periods=7 if seasonal else None,
            initialization_method="heuristic",
        )
        smoothed = model.smooth(np.array(params))
        prediction = smoothed.get_prediction(start=len(y), end=len(y) + 19)
    assert fitted.aicc == pytest.approx(smoothed.aicc, rel=1e-9)
    assert fitted.sigma2 == pytest.approx(smoothed.mse, rel=1e-9)
    np.testing.assert_allclose(mean, loc + scale * np.asarray(prediction.predicted_mean), rtol=1e-9)
    np.testing.assert_allclose(sd, scale * np.sqrt(np.asarray(prediction.var_pred_mean)), rtol=1e-9)


def test_weekly_growth_gets_a_seasonal_trend_model_that_beats_seasonal_naive() -> None:
    result = forecast(daily(trend_series(180, 0.15, noise=1.0, weekly=4.0, seed=5)), 90, bounds=(0, 100))
    assert result.model in ("ETS(A,A,A)", "ETS(A,Ad,A)")
    assert result.trustworthy, result.reason
    assert result.backtest.origins == 4 and result.backtest.horizon == 14
    assert result.backtest.mase < 1
    frame = result.frame
    assert list(frame.columns) == ["date", "mean", "lo80", "hi80", "lo95", "hi95"]
    assert len(frame) == 90 and frame["date"].iloc[0] == result.history["date"].iloc[-1] + pd.Timedelta(days=1)
    assert (frame["lo95"] <= frame["lo80"]).all() and (frame["lo80"] <= frame["mean"]).all()
    assert (frame["mean"] <= frame["hi80"]).all() and (frame["hi80"] <= frame["hi95"]).all()
    assert (frame["hi95"] - frame["lo95"]).iloc[-1] > (frame["hi95"] - frame["lo95"]).iloc[0]
    assert (frame["hi95"] <= 100).all()
    assert "trustworthy" in repr(result) and result.model in repr(result)


def test_backtest_scores_unseen_points_against_the_seasonal_naive_forecast() -> None:
    result = forecast(daily(trend_series(150, 0.1, noise=1.5, weekly=3.0, seed=16)), 30)
    points = result.backtest_frame()
    assert len(points) == result.backtest.points == 4 * 14
    history = result.history.set_index("date")["value"]
    assert ((points["date"] - points["origin"]).dt.days == points["step"]).all()
    assert np.allclose(points["actual"], history.loc[points["date"]].to_numpy())
    weeks_back = np.ceil(points["step"] / 7).astype(int) * 7
    one_season_earlier = points["date"] - pd.to_timedelta(weeks_back, unit="D")
    assert np.allclose(points["seasonal_naive"], history.loc[one_season_earlier].to_numpy())
    assert (one_season_earlier <= points["origin"]).all()  # the seasonal-naive forecast only uses seen data
    errors = (points["actual"] - points["mean"]).abs().mean()
    assert result.backtest.mase == pytest.approx(errors / (points["actual"] - points["seasonal_naive"]).abs().mean())
    within = (points["actual"] >= points["lo80"]) & (points["actual"] <= points["hi80"])
    assert result.backtest.coverage80 == pytest.approx(within.mean())


def test_noise_without_a_week_gets_no_seasonal_model() -> None:
    result = forecast(daily(trend_series(120, 0.0, noise=2.0, seed=6)), 30)
    assert result.model.endswith(",N)")
    assert abs(result.frame["mean"].iloc[-1] - 30.0) < 3.0


def test_refit_backtest_reestimates_at_each_origin() -> None:
    signal = daily(trend_series(150, 0.1, noise=1.0, weekly=3.0, seed=7))
    fixed, refit = forecast(signal, 30), forecast(signal, 30, refit=True)
    assert refit.backtest.refit and not fixed.backtest.refit
    assert refit.backtest.origins == fixed.backtest.origins
    assert refit.backtest.mase != fixed.backtest.mase
    pd.testing.assert_frame_equal(fixed.frame, refit.frame)


def test_interval_coverage_of_simulated_futures_is_near_nominal() -> None:
    inside = {80: [], 95: []}
    backtest_coverage = {80: [], 95: []}
    for seed in range(30):
        y = trend_series(150 + 30, 0.05, level=50, noise=2.0, seed=100 + seed)
        result = forecast(daily(y[:150]), 30)
        future = y[150:]
        for level in (80, 95):
            lo, hi = result.frame[f"lo{level}"].to_numpy(), result.frame[f"hi{level}"].to_numpy()
            inside[level].append((future >= lo) & (future <= hi))
        backtest_coverage[80].append(result.backtest.coverage80)
        backtest_coverage[95].append(result.backtest.coverage95)
    assert 0.72 <= np.concatenate(inside[80]).mean() <= 0.88
    assert 0.89 <= np.concatenate(inside[95]).mean() <= 0.985
    assert 0.70 <= np.mean(backtest_coverage[80]) <= 0.90
    assert 0.88 <= np.mean(backtest_coverage[95]) <= 0.99


# ----------------------------------------------------------------------------------------------- bad input


def test_empty_all_nan_and_tiny_series_raise_clear_errors() -> None:
    with pytest.raises(DataError, match="empty"):
        forecast(daily(np.array([])))
    with pytest.raises(DataError, match="missing"):
        forecast(daily(np.full(30, np.nan)))
    with pytest.raises(DataError, match="at least 3"):
        forecast(daily(np.array([42.0])))
    with pytest.raises(DataError, match="at least 3"):
        forecast(daily(np.array([42.0, np.nan, 43.0])))
    with pytest.raises(DataError, match="infinite"):
        forecast(daily(np.r_[np.ones(20), np.inf]))


def test_constant_series_gets_a_flat_forecast_flagged_untrustworthy() -> None:
    result = forecast(daily(np.full(60, 55.0)), 30, bounds=(0, 100))
    assert result.model == "constant"
    assert (result.frame[["mean", "lo80", "hi80", "lo95", "hi95"]] == 55.0).all().all()
    assert not result.trustworthy and "constant" in result.reason
    assert "NOT TRUSTWORTHY" in repr(result)
    crossing = time_to_threshold(result, {"warning": 70})
    assert pd.isna(crossing["earliest"].item()) and "NOT TRUSTWORTHY" in crossing["summary"].item()


def test_short_series_gets_a_linear_or_naive_forecast_with_widening_intervals() -> None:
    rising = forecast(daily(np.array([10.0, 12.1, 13.9, 16.2, 18.0, 19.9, 22.1, 24.0])), 10)
    assert rising.model == "linear" and rising.params["slope"] == pytest.approx(2.0, abs=0.1)
    flat = forecast(daily(np.array([10.0, 11.0, 9.5, 10.5, 10.2])), 10)
    assert flat.model == "naive"
    for result in (rising, flat):
        width = (result.frame["hi95"] - result.frame["lo95"]).to_numpy()
        assert (np.diff(width) > 0).all()
        assert not result.trustworthy and "too short" in result.reason
        assert result.backtest.origins == 0


def test_gaps_are_interpolated_long_gaps_cut_and_sparse_series_refused() -> None:
    y = trend_series(120, 0.1, weekly=2.0, seed=12)
    y[[30, 31, 70]] = np.nan
    signal = daily(y).dropna()  # missing days are absent rows, as a signal with gaps arrives
    result = forecast(signal, 30)
    assert len(result.history) == 120 and result.history["interpolated"].sum() == 3
    filled = result.history["value"].to_numpy()
    np.testing.assert_allclose(filled[[30, 31]], np.interp([30, 31], [29, 32], [y[29], y[32]]))
    assert filled[70] == pytest.approx((y[69] + y[71]) / 2)
    assert any("3 missing days interpolated" in note for note in result.notes)
    long_gap = daily(y)
    long_gap.loc[40:55, "value"] = np.nan
    cut = forecast(long_gap.dropna(), 30)
    assert cut.history["date"].iloc[0] == pd.Timestamp("2026-03-01") + pd.Timedelta(days=56)
    assert any("dropped" in note and "2026-04-26" in note for note in cut.notes)
    sparse = daily(y)
    sparse.loc[sparse.index % 3 != 0, "value"] = np.nan
    with pytest.raises(DataError, match="too sparse"):
        forecast(sparse.dropna(), 30)


def test_impossible_values_and_bad_arguments_are_refused() -> None:
    y = trend_series(60, 0.1)
    negative = y.copy()
    negative[10] = -3.0
    with pytest.raises(DataError, match="below 0"):
        forecast(daily(negative), bounds=bounds_for(CONFIG.indicators["cpu"]))
    with pytest.raises(DataError, match="above 100"):
        forecast(daily(y + 80), bounds=(0, 100))
    with pytest.raises(DataError, match="duplicate"):
        forecast(pd.concat([daily(y), daily(y[:1])]))
    with pytest.raises(DataError, match="midnight"):
        forecast(daily(y).assign(date=lambda f: f["date"] + pd.Timedelta(hours=3)))
    with pytest.raises(DataError, match="horizon"):
        forecast(daily(y), 0)
    with pytest.raises(DataError, match="lower < upper"):
        forecast(daily(y), bounds=(100, 0))
    with pytest.raises(DataError, match="frequency"):
        forecast(daily(y), freq="W")
    with pytest.raises(DataError, match="not numbers"):
        forecast(daily(y).assign(value="high"))


def test_a_failing_statsmodels_fit_falls_back_and_warnings_stay_inside(monkeypatch: pytest.MonkeyPatch) -> None:
    signal = daily(trend_series(90, 0.1, weekly=2.0, seed=13))
    original_fit = ETSModel.fit

    def noisy_fit(self: ETSModel, *args: object, **kwargs: object) -> object:
        warnings.warn("Maximum Likelihood optimization failed to converge.", ConvergenceWarning, stacklevel=2)
        warnings.warn("overflow encountered", RuntimeWarning, stacklevel=2)
        return original_fit(self, *args, **kwargs)

    monkeypatch.setattr(ETSModel, "fit", noisy_fit)
    converged = forecast(signal, 30)  # pytest turns any leaked warning into an error
    assert converged.model.startswith("ETS") and any("converge" in note for note in converged.notes)

    def broken_fit(self: ETSModel, *args: object, **kwargs: object) -> object:
        raise np.linalg.LinAlgError("SVD did not converge")

    monkeypatch.setattr(ETSModel, "fit", broken_fit)
    fallback = forecast(signal, 30)
    assert fallback.model == "naive"
    assert any("could not be fitted" in note for note in fallback.notes)
    assert any("naive forecast instead" in note for note in fallback.notes)
    assert np.isfinite(fallback.frame[["mean", "lo95", "hi95"]].to_numpy()).all()


# ----------------------------------------------------------------------------------------------- real data


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


# ----------------------------------------------------------------------------------------------- many series


def test_forecast_many_in_two_processes_matches_one_process_and_reports_bad_series() -> None:
    frames = []
    for i in range(22):
        y = trend_series(70, 0.05 * (i % 5), noise=1.0, weekly=2.0 * (i % 2), seed=200 + i)
        frames.append(daily(y).assign(host=f"h{i:02d}", metric="cpu"))
    frames.append(daily(np.array([5.0])).assign(host="lonely", metric="cpu"))
    frames.append(daily(np.r_[np.ones(30), -1.0]).assign(host="negative", metric="cpu"))
    signals = pd.concat(frames, ignore_index=True)
    calls: list[tuple[int, int]] = []
    parallel = forecast_many(signals, 14, bounds={"cpu": (0, 100)}, workers=2, progress=lambda *a: calls.append(a))
    serial = forecast_many(signals, 14, bounds={"cpu": (0, 100)}, workers=1)
    pd.testing.assert_frame_equal(parallel, serial)
    assert calls[-1] == (24, 24) and [done for done, _ in calls] == sorted(done for done, _ in calls)
    summary = forecast_summary(parallel).set_index("host")
    assert len(parallel) == 22 * 14 + 2
    assert summary.loc["lonely", "model"] == "none" and "at least 3" in summary.loc["lonely", "reason"]
    assert "below 0" in summary.loc["negative", "reason"]
    assert list(parallel.columns[:3]) == ["host", "metric", "date"]
    one = forecast(daily(trend_series(70, 0.05 * 3, noise=1.0, weekly=2.0, seed=203)), 14, bounds=(0, 100))
    h03 = parallel[parallel["host"] == "h03"]
    np.testing.assert_allclose(h03["mean"], one.frame["mean"])
    assert h03["model"].iloc[0] == one.model and h03["mase"].iloc[0] == pytest.approx(one.backtest.mase)


def test_forecast_is_a_frozen_dataclass_with_a_chart_frame() -> None:
    result = forecast(daily(trend_series(50, 0.1, seed=15)), 10)
    assert isinstance(result, Forecast)
    with pytest.raises(AttributeError):
        result.model = "other"  # type: ignore[misc]
    chart = result.to_frame()
    assert list(chart["kind"].unique()) == ["history", "forecast"] and len(chart) == 60
