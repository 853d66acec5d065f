"""Synthetic metric series for every key indicator of every Community Hub component.

Each series is level x linear growth x daily cycle x weekly cycle x AR(1) noise, in the platform's local
time (so the evening peak stays at 20:00 across daylight-saving changes), plus scripted incidents:
a CPU saturation on the app tier, a search node's disk filling up, an error-rate spike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from sre_lib.demo.spec import DemoSpec, SignalShape
from sre_lib.warehouse.store import canonical_labels, series_id


@dataclass(frozen=True)
class DemoSeries:
    component: str
    instance: str
    metric: str
    shape: SignalShape


@dataclass(frozen=True)
class DemoIncident:
    """A scripted event: the series ramps to ``peak`` at ``start_day`` and holds it for ``duration``.

    kind "plateau" holds the peak (with 1 % noise); kind "level" holds it exactly (a cluster status, a count);
    kind "ramp" climbs linearly to it over the duration, then drops back.
    """

    name: str
    component: str
    instance: str
    metric: str
    start_day: float
    duration: timedelta
    peak: float
    kind: str = "plateau"


def _s(component: str, instance: str, metric: str, **shape: float) -> DemoSeries:
    return DemoSeries(component, instance, metric, SignalShape(**shape))


# Evicted keys per minute before the memory pressure (Redis and its exporter agree: sre_lib.demo.redis_history
# counts the same), then growing by this share of it per day of pressure.
EVICTIONS_PER_MINUTE = 0.2
EVICTION_GROWTH_PER_DAY = 8.0

# The servers whose scrape targets report ``up``, and the certificate: 150 days left at the start, 90 of them
# spent over the 90 days (growth is relative to the level: -0.6 of 150), so 60 are left at the end.
UP_SERVERS = (("nginx", "nginx-1"), ("app", "app-1"), ("app", "app-2"), ("postgresql", "pg-1"),
              ("elasticsearch", "es-1"), ("redis", "redis-1"))  # fmt: skip
CERT_DAYS_AT_START = 150.0
CERT_DAYS_SPENT = 0.6

DEMO_SERIES: tuple[DemoSeries, ...] = (
    _s("cdn", "edge", "error_rate", base=0.02, daily_swing=0.4, noise=0.15, ceiling=100),
    _s("cdn", "edge", "latency_p95", base=45, daily_swing=0.3, noise=0.05, ceiling=10_000),
    _s("nginx", "nginx-1", "cpu", base=18, daily_swing=0.8, weekend_factor=0.8, growth=0.3),
    _s("nginx", "nginx-1", "memory", base=42, daily_swing=0.1, growth=0.05, noise=0.01),
    _s("nginx", "nginx-1", "disk", base=38, growth=0.06, noise=0.002),
    _s("app", "app-1", "cpu", base=38, daily_swing=0.9, weekend_factor=0.8, growth=0.35),
    _s("app", "app-2", "cpu", base=37, daily_swing=0.9, weekend_factor=0.8, growth=0.35),
    _s("app", "app-1", "memory", base=56, daily_swing=0.15, growth=0.15, noise=0.01),
    _s("app", "app-2", "memory", base=54, daily_swing=0.15, growth=0.15, noise=0.01),
    _s("app", "app-1", "disk", base=34, growth=0.08, noise=0.002),
    _s("app", "app-2", "disk", base=35, growth=0.08, noise=0.002),
    _s("app", "all", "request_rate", base=150, daily_swing=1.0, weekend_factor=0.75, growth=0.35, ceiling=1e9),
    _s("app", "all", "error_rate", base=0.04, daily_swing=0.5, noise=0.2, ceiling=100),
    _s(
        "app",
        "all",
        "latency_p95",
        base=120,
        daily_swing=0.4,
        weekend_factor=0.9,
        growth=0.2,
        noise=0.05,
        ceiling=60_000,
    ),
    _s("postgresql", "pg-1", "cpu", base=30, daily_swing=0.8, weekend_factor=0.85, growth=0.3),
    _s("postgresql", "pg-1", "memory", base=62, daily_swing=0.05, growth=0.1, noise=0.005),
    _s("postgresql", "pg-1", "disk", base=48, growth=0.18, noise=0.001),
    _s("postgresql", "pg-1", "db_connections", base=38, daily_swing=0.6, weekend_factor=0.85, growth=0.3),
    _s("elasticsearch", "es-1", "cpu", base=25, daily_swing=0.7, weekend_factor=0.85, growth=0.2),
    _s("elasticsearch", "es-1", "memory", base=72, daily_swing=0.04, growth=0.04, noise=0.005),
    _s("elasticsearch", "es-1", "disk", base=50, growth=0.1, noise=0.002),
    _s("redis", "redis-1", "cpu", base=12, daily_swing=0.8, weekend_factor=0.85, growth=0.3),
    _s("redis", "redis-1", "memory", base=55, daily_swing=0.05, growth=0.2, noise=0.005),
    _s("redis", "redis-1", "disk", base=20, growth=0.05, noise=0.002),
    _s("redis", "redis-1", "redis_memory", base=62, daily_swing=0.06, growth=0.3, noise=0.005),
    _s("redis", "redis-1", "redis_hit_ratio", base=91, daily_swing=0.02, noise=0.005),
    _s("redis", "redis-1", "redis_evictions", base=EVICTIONS_PER_MINUTE, daily_swing=1.0, noise=0.5, ceiling=1e9),
    _s("redis", "redis-1", "redis_clients", base=3, daily_swing=0.8, growth=0.3),
    _s("media", "media", "disk", base=55, growth=0.25, noise=0.001),
    # What a live platform's catalogue adds (appended, so the series above keep their random draws): every
    # server's scrape targets answering, nginx from stub_status, the TLS certificate's days to expiry, and
    # Elasticsearch's cluster health and JVM heap.
    *(_s(c, i, "up", base=1.0, noise=0.0) for c, i in UP_SERVERS),
    _s("nginx", "nginx-1", "nginx_connections", base=120, daily_swing=1.0, weekend_factor=0.75, growth=0.35,
       ceiling=1e9),
    _s("nginx", "nginx-1", "nginx_request_rate", base=160, daily_swing=1.0, weekend_factor=0.75, growth=0.35,
       ceiling=1e9),
    _s("nginx", "all", "nginx_upstream_errors", base=0.04, daily_swing=0.5, noise=0.2),
    _s("nginx", "nginx-1", "tls_cert_days", base=CERT_DAYS_AT_START, growth=-CERT_DAYS_SPENT, noise=0.0,
       ceiling=1e4),
    _s("elasticsearch", "es-1", "es_status", base=0.0, noise=0.0),
    _s("elasticsearch", "es-1", "es_unassigned_shards", base=0.0, noise=0.0, ceiling=1e6),
    _s("elasticsearch", "es-1", "es_jvm_heap", base=58, daily_swing=0.1, growth=0.1, noise=0.02),
)  # fmt: skip

DEMO_INCIDENTS: tuple[DemoIncident, ...] = (
    DemoIncident("app tier CPU saturation", "app", "app-1", "cpu", 70.35, timedelta(hours=3), 97.0),
    DemoIncident("app tier CPU saturation", "app", "app-2", "cpu", 70.35, timedelta(hours=3), 95.0),
    DemoIncident("search disk filling up", "elasticsearch", "es-1", "disk", 74.0, timedelta(days=7), 91.0, kind="ramp"),
    DemoIncident("error-rate spike", "app", "all", "error_rate", 80.4, timedelta(minutes=45), 4.5),
    DemoIncident("error-rate spike", "app", "all", "latency_p95", 80.4, timedelta(minutes=45), 850.0),
    DemoIncident("error-rate spike", "nginx", "all", "nginx_upstream_errors", 80.4, timedelta(minutes=45), 4.3),
    # the search node's disk past Elasticsearch's high watermark: replicas unassigned, the cluster yellow
    DemoIncident(
        "search cluster yellow", "elasticsearch", "es-1", "es_status", 80.0, timedelta(hours=10), 1.0, kind="level"
    ),
    DemoIncident(
        "search cluster yellow",
        "elasticsearch",
        "es-1",
        "es_unassigned_shards",
        80.0,
        timedelta(hours=10),
        5.0,
        kind="level",
    ),
)

# The last ten days of the demo: the cache is getting too small.
_REDIS_PRESSURE_DAYS = 10.0


def sample_times(spec: DemoSpec) -> pd.DatetimeIndex:
    """Every sample instant of the demo span, in UTC."""
    return pd.date_range(spec.start, spec.end, freq=spec.step, inclusive="left", name="ts")


def shape_values(shape: SignalShape, times: pd.DatetimeIndex, spec: DemoSpec, rng: np.random.Generator) -> np.ndarray:
    """The deterministic signal plus AR(1) noise for one series, before incidents."""
    local = times.tz_convert(spec.tz)
    hour = local.hour.to_numpy() + local.minute.to_numpy() / 60.0
    weekend = local.day_of_week.to_numpy() >= 5
    progress = np.linspace(0.0, 1.0, len(times), endpoint=False)
    level = shape.base * (1.0 + shape.growth * progress)
    daily = 1.0 + 0.5 * shape.daily_swing * np.cos(2 * np.pi * (hour - shape.peak_hour) / 24.0)
    weekly = np.where(weekend, shape.weekend_factor, 1.0)
    innovations = rng.normal(0.0, shape.noise * np.sqrt(1 - 0.9**2), len(times))
    noise = lfilter([1.0], [1.0, -0.9], innovations)
    return np.clip(level * daily * weekly * (1.0 + noise), shape.floor, shape.ceiling)


def _apply_incident(
    values: np.ndarray,
    times: pd.DatetimeIndex,
    incident: DemoIncident,
    spec: DemoSpec,
    rng: np.random.Generator,
) -> None:
    start = pd.Timestamp(spec.at_day(incident.start_day))
    end = start + incident.duration
    inside = (times >= start) & (times < end)
    count = int(inside.sum())
    if count == 0:  # a span shorter than the incident's day
        return
    if incident.kind == "ramp":
        target = np.linspace(values[inside][0], incident.peak, count)
    elif incident.kind == "level":
        target = np.full(count, incident.peak)
    else:
        target = incident.peak * (1.0 + rng.normal(0.0, 0.01, count))
    values[inside] = np.maximum(values[inside], target)


def _apply_redis_pressure(values: np.ndarray, metric: str, times: pd.DatetimeIndex, spec: DemoSpec) -> None:
    onset = pd.Timestamp(spec.end - timedelta(days=_REDIS_PRESSURE_DAYS))
    elapsed_days = np.clip((times - onset) / pd.Timedelta(days=1), 0.0, None)
    if metric == "redis_hit_ratio":
        values -= 1.3 * elapsed_days  # ~91 % falling toward ~78 %
    elif metric == "redis_evictions":
        values *= 1.0 + EVICTION_GROWTH_PER_DAY * elapsed_days


def metric_frames(spec: DemoSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(metric_series, metric_samples) frames for the whole demo span."""
    rng = np.random.default_rng(spec.seed)
    times = sample_times(spec)
    series_rows = []
    sample_parts = []
    for series in DEMO_SERIES:
        labels = {"component": series.component, "instance": series.instance}
        sid = series_id(series.metric, labels)
        values = shape_values(series.shape, times, spec, rng)
        for incident in DEMO_INCIDENTS:
            if (incident.component, incident.instance, incident.metric) == (
                series.component,
                series.instance,
                series.metric,
            ):
                _apply_incident(values, times, incident, spec, rng)
        _apply_redis_pressure(values, series.metric, times, spec)
        series_rows.append(
            {
                "series_id": sid,
                "source": "demo",
                "metric": series.metric,
                "component": series.component,
                "instance": series.instance,
                "labels": canonical_labels(labels),
            }
        )
        sample_parts.append(
            pd.DataFrame(
                {
                    "series_id": np.full(len(times), sid, dtype=np.int64),
                    "ts": times,
                    "value": np.round(values, 4),
                }
            )
        )
    return pd.DataFrame(series_rows), pd.concat(sample_parts, ignore_index=True)
