"""One forecast: a frozen ``Forecast`` with a chart frame; a constant history is flagged, not trusted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support.forecast_inputs import daily, trend_series

from sre_lib.analysis.forecast import Forecast, forecast
from sre_lib.analysis.thresholds import time_to_threshold


def test_constant_series_gets_a_flat_forecast_flagged_untrustworthy() -> None:
    result = forecast(daily(np.full(60, 55.0)), 30, bounds=(0, 100))
    assert result.model == "constant"
    assert (result.frame[["mean", "lo80", "hi80", "lo95", "hi95"]] == 55.0).all().all()
    assert not result.trustworthy and "constant" in result.reason
    assert "NOT TRUSTWORTHY" in repr(result)
    crossing = time_to_threshold(result, {"warning": 70})
    assert pd.isna(crossing["earliest"].item()) and "NOT TRUSTWORTHY" in crossing["summary"].item()


def test_forecast_is_a_frozen_dataclass_with_a_chart_frame() -> None:
    result = forecast(daily(trend_series(50, 0.1, seed=15)), 10)
    assert isinstance(result, Forecast)
    with pytest.raises(AttributeError):
        result.model = "other"  # type: ignore[misc]
    chart = result.to_frame()
    assert list(chart["kind"].unique()) == ["history", "forecast"] and len(chart) == 60
