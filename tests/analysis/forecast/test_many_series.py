"""Many forecasts: two processes give what one gives, and a bad series never sinks the batch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support.forecast_inputs import daily, trend_series

from sre_lib.analysis.forecast import forecast, forecast_many, forecast_summary


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
