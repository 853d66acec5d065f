"""Forecast input: empty, sparse, impossible or misaligned series are refused; short gaps interpolated."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support.forecast_inputs import daily, trend_series

from sre_lib.analysis.forecast import bounds_for, forecast
from sre_lib.config import load_config
from sre_lib.errors import DataError

CONFIG = load_config()


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
    with pytest.raises(ValueError, match="horizon"):
        forecast(daily(y), 0)
    with pytest.raises(DataError, match="lower < upper"):
        forecast(daily(y), bounds=(100, 0))
    with pytest.raises(ValueError, match="frequency"):  # API misuse
        forecast(daily(y), freq="W")
    with pytest.raises(DataError, match="not numbers"):
        forecast(daily(y).assign(value="high"))
