"""Capacity signals: local calendar days across daylight-saving changes, pandas and DuckDB agreeing, seasonality."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from sre_lib.analysis.signals import capacity_signal, daily_signal, seasonal_strength
from sre_lib.config import load_config
from sre_lib.errors import DataError
from sre_lib.warehouse.series import read_samples
from sre_lib.warehouse.store import schema_sql

CONFIG = load_config()


def test_daily_signal_uses_local_calendar_days_across_daylight_saving() -> None:
    # Sydney leaves DST on 2026-04-05 (a 25-hour day) and enters it on 2026-10-04 (a 23-hour day).
    ts = pd.date_range("2026-04-03", "2026-04-08", freq="h", tz="UTC", inclusive="left").append(
        pd.date_range("2026-10-02", "2026-10-07", freq="h", tz="UTC", inclusive="left")
    )
    samples = pd.DataFrame({"ts": ts, "value": np.arange(len(ts), dtype=float)})
    signal = capacity_signal(samples, CONFIG, min_samples_fraction=0)
    counts = dict(zip(signal["date"].dt.strftime("%Y-%m-%d"), signal["samples"], strict=True))
    assert counts["2026-04-05"] == 25
    assert counts["2026-10-04"] == 23
    assert counts["2026-04-06"] == counts["2026-10-05"] == 24
    local_day = ts.tz_convert("Australia/Sydney").strftime("%Y-%m-%d")
    for day in ("2026-04-05", "2026-10-04"):
        expected = np.quantile(samples["value"][local_day == day], 0.95)
        assert signal.loc[signal["date"] == pd.Timestamp(day), "value"].item() == pytest.approx(expected)
    peak = capacity_signal(samples, CONFIG, stat="max", min_samples_fraction=0)
    assert (
        peak.loc[peak["date"] == pd.Timestamp("2026-04-05"), "value"].item()
        == samples["value"][local_day == "2026-04-05"].max()
    )


def test_partial_first_and_last_days_are_dropped() -> None:
    ts = pd.date_range("2026-06-01 08:00", "2026-06-05 02:00", freq="10min", tz="UTC")
    signal = capacity_signal(pd.DataFrame({"ts": ts, "value": 1.0}), "UTC")
    assert list(signal["date"].dt.day) == [2, 3, 4]


def test_hourly_signal_buckets_are_local_hours_even_in_a_half_hour_zone() -> None:
    ts = pd.date_range("2026-06-01", periods=12 * 48, freq="5min", tz="UTC")
    signal = capacity_signal(pd.DataFrame({"ts": ts, "value": 1.0}), "Australia/Adelaide", freq="h")
    assert str(signal["date"].dt.tz) == "Australia/Adelaide"
    assert (signal["date"].dt.minute == 0).all()
    assert (signal["samples"] == 12).all()


def test_signal_rejects_unknown_statistic_frequency_and_missing_columns() -> None:
    """A wrong argument is a ValueError; samples lacking a column are a DataError."""
    samples = pd.DataFrame({"ts": pd.date_range("2026-01-01", periods=3, freq="h", tz="UTC"), "value": 1.0})
    with pytest.raises(ValueError, match="statistic"):
        capacity_signal(samples, stat="p100")
    with pytest.raises(ValueError, match="frequency"):
        capacity_signal(samples, freq="W")
    with pytest.raises(DataError, match="lack columns"):
        capacity_signal(samples.rename(columns={"value": "v"}))


def _warehouse_with_samples() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(schema_sql())
    ts = pd.date_range("2026-09-28", "2026-10-09", freq="7min", tz="UTC", inclusive="left")
    rng = np.random.default_rng(1)
    samples = pd.concat(
        pd.DataFrame({"series_id": sid, "ts": ts, "value": rng.gamma(2.0, 10.0, len(ts))}) for sid in (11, 12, 13)
    )
    series = pd.DataFrame(
        {
            "series_id": [11, 12, 13],
            "source": "test",
            "metric": ["cpu", "disk", "cpu"],
            "component": ["app", "app", "postgresql"],
            "instance": ["app-1", "app-1", "pg-1"],
            "labels": "{}",
        }
    )
    con.register("incoming_series", series)
    con.register("incoming_samples", samples)
    con.execute("INSERT INTO metric_series SELECT * FROM incoming_series")
    con.execute("INSERT INTO metric_samples SELECT series_id, ts, value FROM incoming_samples")
    return con


@pytest.mark.parametrize("stat", ["p95", "max"])
def test_daily_signal_in_duckdb_matches_the_pandas_signal(stat: str) -> None:
    con = _warehouse_with_samples()
    in_db = daily_signal(con, CONFIG, metrics=["cpu"], stat=stat)
    by = ["series_id", "component", "instance", "metric"]
    in_pandas = capacity_signal(read_samples(con, metrics=["cpu"]), CONFIG, by=by, stat=stat)
    assert set(in_db["series_id"]) == {11, 13}
    merged = in_db.merge(in_pandas, on=["series_id", "date"], how="outer", indicator=True)
    assert (merged["_merge"] == "both").all()
    np.testing.assert_allclose(merged["value_x"], merged["value_y"], rtol=1e-12)
    assert (merged["samples_x"] == merged["samples_y"]).all()
    # The DST day (2026-10-04 in Sydney) has 23 hours of samples, the partial first and last days are gone.
    days = in_db.loc[in_db["series_id"] == 11].set_index("date")["samples"]
    assert days[pd.Timestamp("2026-10-04")] < days[pd.Timestamp("2026-10-03")]
    assert pd.Timestamp("2026-09-28") not in days.index
    only_postgres = daily_signal(con, CONFIG, components=["postgresql"])
    assert set(only_postgres["series_id"]) == {13}


def test_seasonal_strength_separates_weekly_pattern_from_noise() -> None:
    rng = np.random.default_rng(2)
    noise = rng.normal(0, 1, 140)
    weekly = noise + 3 * np.where(np.arange(140) % 7 >= 5, -1.0, 0.4)
    assert seasonal_strength(noise, 7) < 0.2
    assert seasonal_strength(weekly, 7) > 0.7
    assert seasonal_strength(np.full(140, 5.0), 7) == 0.0
