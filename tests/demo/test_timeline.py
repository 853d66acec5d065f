"""The demo's clock: inclusive snapshot grids, seconds and instants that round-trip, DST-correct local times."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from sre_lib.demo.spec import DemoSpec
from sre_lib.demo.timeline import at_seconds, daily_load, local_instants, seconds_since_start, snapshot_times

SPEC = DemoSpec()
SYDNEY = ZoneInfo("Australia/Sydney")


def test_snapshot_grid_includes_both_ends_and_round_trips_through_seconds() -> None:
    times = snapshot_times(SPEC, timedelta(hours=1))
    assert times[0] == pd.Timestamp(SPEC.start) and times[-1] == pd.Timestamp(SPEC.end)
    secs = seconds_since_start(SPEC, times)
    assert secs[0] == 0.0 and np.all(np.diff(secs) == 3600.0)
    assert (at_seconds(SPEC, secs) == times).all()
    assert at_seconds(SPEC, np.array([np.nan])).isna().all()


def test_daily_load_averages_one_over_whole_weeks_and_peaks_in_the_evening() -> None:
    week = pd.date_range("2026-10-05", periods=7 * 24 * 4, freq="15min", tz=SYDNEY).tz_convert("UTC")
    load = daily_load(week, SYDNEY)
    assert abs(load.mean() - 1.0) < 0.01
    local_hours = week.tz_convert(SYDNEY).hour
    assert local_hours[np.argmax(load)] == 20 and local_hours[np.argmin(load)] == 4


def test_local_instants_keep_the_wall_clock_across_daylight_saving() -> None:
    start = pd.Timestamp("2026-10-01", tz="UTC").to_pydatetime()
    end = pd.Timestamp("2026-10-10", tz="UTC").to_pydatetime()
    runs = local_instants(start, end, SYDNEY, "02:00")  # Sydney springs forward on 2026-10-04 at 02:00
    local = runs.tz_convert(SYDNEY)
    assert len(runs) == 9
    assert set(local.strftime("%H:%M")) <= {"02:00", "03:00"}
    assert (local.strftime("%H:%M") == "03:00").sum() == 1  # the missing 02:00 shifted forward
