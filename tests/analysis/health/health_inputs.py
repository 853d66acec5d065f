"""Inputs shared by the health tests: the test platform, hand-made series and a small warehouse writer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from sre_lib.config import PlatformConfig, parse_config
from sre_lib.warehouse.store import Warehouse, canonical_labels, series_id

T0 = datetime(2026, 3, 2, tzinfo=UTC)

CONFIG_TOML = """
[platform]
name = "Health test platform"

[sizes.small]
vcpu = 1
ram_gb = 2
disk_gb = 50
monthly_price = 12.0

[components.app]
role = "app"
size = "small"
count = 2

[components.postgresql]
role = "database"
size = "small"

[components.redis]
role = "cache"
size = "small"

[components.media]
role = "volume"
monthly_price = 25.0

[indicators.cpu]
unit = "percent"
warning = 60.0
critical = 80.0

[indicators.memory]
unit = "percent"
warning = 70.0
critical = 85.0

[indicators.latency_p95]
unit = "ms"
warning = 200.0
critical = 500.0

[redis]
memory_percent = 80.0
hit_ratio_percent = 80.0
evictions_trend_hours = 24
clients_near_limit_percent = 90.0
"""


def health_config() -> PlatformConfig:
    """The test platform: two app servers, PostgreSQL, Redis and a volume; cpu 60 / 80, memory 70 / 85."""
    return parse_config(CONFIG_TOML, source="test")


def make_series(
    values: list[float] | np.ndarray,
    metric: str = "cpu",
    component: str = "app",
    instance: str = "app-1",
    start: datetime = T0,
    step: timedelta = timedelta(minutes=1),
    drop: list[int] | None = None,
) -> pd.DataFrame:
    """One series of samples every ``step`` from ``start``; ``drop`` removes samples by position (gaps)."""
    frame = pd.DataFrame(
        {
            "ts": pd.date_range(start, periods=len(values), freq=step),
            "value": np.asarray(values, dtype=float),
            "metric": metric,
            "component": component,
            "instance": instance,
        }
    )
    return frame.drop(index=drop or []).reset_index(drop=True)


def at_minute(minutes: float) -> pd.Timestamp:
    """``minutes`` after ``T0``, as a UTC timestamp."""
    return pd.Timestamp(T0) + pd.Timedelta(minutes=minutes)


def hot_run() -> pd.DataFrame:
    """30 min at 50 %, 79 min at 85 % (minutes 30..108), 30 min at 50 %: one sample a minute."""
    return make_series([50.0] * 30 + [85.0] * 79 + [50.0] * 30)


def write_samples(warehouse: Warehouse, frame: pd.DataFrame, source: str = "test") -> None:
    """Write a frame of samples (ts, value, metric, component, instance) as one collection run."""
    frame = frame.copy()
    frame["series_id"] = [
        series_id(m, {"component": c, "instance": i})
        for m, c, i in zip(frame.metric, frame.component, frame.instance, strict=True)
    ]
    identity = frame.drop_duplicates("series_id")[["series_id", "metric", "component", "instance"]].copy()
    identity["source"] = source
    identity["labels"] = [
        canonical_labels({"component": c, "instance": i})
        for c, i in zip(identity.component, identity.instance, strict=True)
    ]
    start, end = frame.ts.min().to_pydatetime(), frame.ts.max().to_pydatetime()
    with warehouse.write_run(source, window_start=start, window_end=end) as run:
        run.upsert_series(identity)
        run.replace_samples(frame[["series_id", "ts", "value"]], start, end)


def platform_frame() -> pd.DataFrame:
    """A day of samples of every kind: a hot app server, a quiet one, a stale database, rising evictions."""
    minutes = 24 * 60
    rng = np.random.default_rng(11)
    hot = np.full(minutes, 45.0)
    hot[-90:] = 88.0  # app-1: 90 minutes above 80 at the end
    stale = np.full(minutes - 60, 50.0)  # postgresql memory stops an hour early
    rising = np.linspace(2, 20, minutes) + rng.normal(0, 1, minutes)
    return pd.concat(
        [
            make_series(hot, instance="app-1"),
            make_series(np.full(minutes, 30.0), instance="app-2"),
            make_series(np.full(minutes, 150.0), metric="request_rate", instance="all"),
            make_series(stale, metric="memory", component="postgresql", instance="pg-1"),
            make_series(np.clip(rising, 0, None), metric="redis_evictions", component="redis", instance="redis-1"),
            make_series(np.full(minutes, 92.0), metric="redis_hit_ratio", component="redis", instance="redis-1"),
        ],
        ignore_index=True,
    )
