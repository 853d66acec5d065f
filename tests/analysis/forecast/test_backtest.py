"""Backtests: unseen points scored against seasonal naive, refits per origin, honest interval coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support.forecast_inputs import daily, trend_series

from sre_lib.analysis.forecast import forecast


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
