"""The capacity report's predict_linear disk view on a young warehouse: minutes of samples give no date, 6 h of a
flat disk never reaches the level, 6 h of a filling disk reaches it on the line's date."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from sre_lib.analysis.predict_linear import MIN_SPAN, linear_time_to_threshold
from sre_lib.config import DEFAULT_CONFIG_PATH, load_config
from sre_lib.reviews.capacity import DISK_ALERT_LAYOUT, capacity_review, disk_alert_rows, disk_alert_view
from sre_lib.warehouse.store import Warehouse, canonical_labels, series_id

CONFIG = load_config(DEFAULT_CONFIG_PATH)
END = pd.Timestamp(datetime(2026, 12, 2, 9, 0, tzinfo=UTC))


def _disks(path: Path) -> Warehouse:
    """Three disks at 15 s steps: pg-1 filling 2 points an hour for 6 h, app-1 flat for 6 h, and redis-1 filling
    as steeply for its only 15 s (a server added a moment ago)."""
    six_hours = pd.date_range(END - MIN_SPAN, END, freq="15s")
    hours = (six_hours - six_hours[0]) / pd.Timedelta(hours=1)
    plan = [
        ("postgresql", "pg-1", six_hours, 40 + 2 * hours),
        ("app", "app-1", six_hours, np.full(len(six_hours), 60.0)),
        ("redis", "redis-1", six_hours[-2:], np.array([30.0, 30.02])),
    ]
    series, samples = [], []
    for component, instance, times, values in plan:
        labels = {"component": component, "instance": instance, "mountpoint": "/"}
        sid = series_id("disk", labels)
        series.append({"series_id": sid, "source": "test", "metric": "disk", "component": component,
                       "instance": instance, "labels": canonical_labels(labels)})  # fmt: skip
        samples.append(pd.DataFrame({"series_id": sid, "ts": times, "value": np.asarray(values, dtype=float)}))
    warehouse = Warehouse(path)
    with warehouse.write_run("test") as run:
        run.upsert_series(pd.DataFrame(series))
        run.replace_samples(pd.concat(samples, ignore_index=True), six_hours[0], six_hours[-1])
    return warehouse


def test_minutes_of_samples_give_no_date_and_six_hours_do(tmp_path: Path) -> None:
    warehouse = _disks(tmp_path / "w.duckdb")
    con = warehouse.open_read_only()
    try:
        view = disk_alert_view(con, CONFIG, END, pd.DataFrame()).set_index("instance")
        review = capacity_review(con, CONFIG, as_of=END.to_pydatetime(), window="6h")
    finally:
        con.close()
    critical = CONFIG.indicators["disk"].critical
    young = view.loc["redis-1"]
    assert young["trend"] == "needs 6 h of samples; 15 s collected"
    assert pd.isna(young["predict_linear_date"]) and not young["judged"]
    assert young["value_now"] == 30.02  # the newest reading, not a line through two samples
    assert view.loc["app-1", "judged"] and pd.isna(view.loc["app-1", "predict_linear_date"])
    filling = view.loc["pg-1"]
    hours_left = (critical - 52) / 2  # 52 % at END, 2 points an hour
    assert abs(filling["predict_linear_date"] - (END + timedelta(hours=hours_left))) < timedelta(seconds=1)
    assert filling["trend"] == "+48.00 points a day (from 6 h of samples)"
    rows = disk_alert_rows(replace(review, alert_view=view.reset_index())).set_index("instance")
    assert rows.loc["redis-1", "predict_linear_date"] == "no date yet"
    assert rows.loc["app-1", "predict_linear_date"] == "never (flat or falling)"
    crossing_day = (END + timedelta(hours=hours_left)).tz_convert(CONFIG.tz)
    assert rows.loc["pg-1", "predict_linear_date"] == f"{crossing_day:%Y-%m-%d}"
    shown = DISK_ALERT_LAYOUT.render(rows.reset_index())._repr_html_()
    assert "needs 6 h of samples; 15 s collected" in shown and "+0.01" not in shown


def test_the_view_is_prometheus_predict_linear_once_the_span_is_met(tmp_path: Path) -> None:
    """Past the minimum span the date is exactly predict_linear's over the alert window, as before."""
    warehouse = _disks(tmp_path / "w.duckdb")
    con = warehouse.open_read_only()
    try:
        view = disk_alert_view(con, CONFIG, END, pd.DataFrame(), window=timedelta(hours=7)).set_index("instance")
    finally:
        con.close()
    times = pd.date_range(END - MIN_SPAN, END, freq="15s")
    values = 40 + 2 * (times - times[0]) / pd.Timedelta(hours=1)
    line = linear_time_to_threshold(times, values.to_numpy(), CONFIG.indicators["disk"].critical, eval_time=END,
                                    window=timedelta(hours=7))  # fmt: skip
    assert view.loc["pg-1", "predict_linear_date"] == line.crosses_at
