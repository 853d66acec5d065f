"""Vertical triggers: when a sustained breach fires, and the catalogue size to resize into."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from support.scaling_inputs import CONFIG, START

from sre_lib.analysis.scaling import recommend_size, vertical_triggers
from sre_lib.errors import DataError


def breach_samples(component: str, metric: str, level: float, minutes: int, start: pd.Timestamp) -> pd.DataFrame:
    """Two hours at 50 %, with ``minutes`` at ``level`` starting at ``start``."""
    ts = pd.date_range(start - pd.Timedelta(minutes=30), periods=120, freq="1min")
    values = np.where((ts >= start) & (ts < start + pd.Timedelta(minutes=minutes)), level, 50.0)
    return pd.DataFrame(
        {"component": component, "instance": f"{component}-1", "metric": metric, "ts": ts, "value": values}
    )


def test_cheapest_bigger_size_with_more_of_the_resource() -> None:
    # Redis on tiny (1 vCPU, 2 GB): tiny-cpu (18) adds vCPUs but no RAM; small (24) is the cheapest with more RAM.
    assert recommend_size(CONFIG, "redis", "vcpu")[0] == "tiny-cpu"
    assert recommend_size(CONFIG, "redis", "ram_gb")[0] == "small"
    # The app on small (2 vCPU, 4 GB): cpu-only (30) for vCPUs, ram (36) for memory, any bigger: cpu-only.
    assert recommend_size(CONFIG, "app", "vcpu")[0] == "cpu-only"
    assert recommend_size(CONFIG, "app", "ram_gb")[0] == "ram"
    assert recommend_size(CONFIG, "app")[0] == "cpu-only"
    assert recommend_size(CONFIG, "cdn") is None
    assert recommend_size(CONFIG, "postgresql", "disk_gb")[0] == "big"


def test_vertical_triggers_fire_after_the_sustained_minutes_and_price_the_resize() -> None:
    at = pd.Timestamp("2026-10-12 14:00", tz="UTC")  # 01:00 on 13 October in Sydney (AEDT)
    samples = pd.concat(
        [
            breach_samples("redis", "memory", 90.0, 30, at),  # exactly 30 minutes over 85 %: fires
            breach_samples("app", "memory", 90.0, 29, at),  # one minute short: does not fire
            breach_samples("app", "cpu", 95.0, 60, at),  # 60 minutes over 80 %: fires
            breach_samples("postgresql", "db_connections", 86.0, 20, at),
        ]
    )
    table = vertical_triggers(samples, CONFIG).set_index(["trigger", "component"])
    redis = table.loc[("memory pressure", "redis")]
    assert redis["fires"] and redis["first_fired"] == at + pd.Timedelta(minutes=29)
    assert redis["necessary_date"] == date(2026, 10, 13)
    assert (redis["recommended_size"], redis["recommended_price"], redis["monthly_difference"]) == ("small", 24.0, 12.0)
    assert not table.loc[("memory pressure", "app"), "fires"]
    cpu = table.loc[("consistent high CPU", "app")]
    assert cpu["fires"] and cpu["first_fired"] == at + pd.Timedelta(minutes=59)
    assert (cpu["recommended_size"], cpu["monthly_difference"]) == ("cpu-only", 2 * (30.0 - 24.0))
    database = table.loc[("database bottleneck", "postgresql")]
    assert database["fires"] and database["first_fired"] == at + pd.Timedelta(minutes=14)
    assert database["recommended_size"] == "cpu-only"


def test_a_gap_restarts_the_sustained_clock() -> None:
    at = pd.Timestamp("2026-10-12 14:00", tz="UTC")
    samples = breach_samples("redis", "memory", 90.0, 40, at)
    samples = samples[
        (samples["ts"] < at + pd.Timedelta(minutes=15)) | (samples["ts"] >= at + pd.Timedelta(minutes=20))
    ]
    row = vertical_triggers(samples, CONFIG).set_index(["trigger", "component"]).loc[("memory pressure", "redis")]
    assert not row["fires"]  # 15 minutes, a 5-minute hole, then 20 minutes: never 30 in a row


def test_vertical_triggers_on_a_daily_forecast() -> None:
    dates = pd.date_range("2027-01-01", periods=10, freq="D")
    forecast = pd.DataFrame(
        {"component": "redis", "metric": "memory", "date": dates, "mean": 80.0, "hi80": np.linspace(80, 89, 10)}
    )
    table = vertical_triggers(forecast, CONFIG, value_col="hi80", time_col="date")
    row = table.set_index(["trigger", "component"]).loc[("memory pressure", "redis")]
    assert row["fires"] and row["first_fired"] == pd.Timestamp("2027-01-07")  # 86 > 85 on day 6
    assert row["necessary_date"] == date(2027, 1, 7)


def test_vertical_triggers_refuse_bad_values() -> None:
    samples = breach_samples("redis", "memory", 90.0, 30, START)
    samples.loc[samples.index[3], "value"] = math.nan
    with pytest.raises(DataError, match="redis/redis-1 memory: 1 missing"):
        vertical_triggers(samples, CONFIG)
