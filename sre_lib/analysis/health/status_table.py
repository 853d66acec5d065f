"""The current status table: one row per series with its latest value, status, since when and why; level
metrics from the classification engine, ``redis_evictions`` from its trend."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from sre_lib.analysis.health.bands import CRITICAL, STATUS_DTYPE, STATUSES, WARNING, indicator_bands, sustained_minutes
from sre_lib.analysis.health.eviction_trend import TREND_METRICS, evictions_trend
from sre_lib.analysis.health.sample_loading import (
    US_PER_MINUTE,
    Samples,
    Source,
    has_metric,
    load_samples,
    newest_sample_us,
    stamp,
    to_us,
)
from sre_lib.analysis.health.status_engine import Evaluation, SeriesRules, evaluate, lookback_us, series_rules
from sre_lib.analysis.health.status_text import UP_METRIC, level_detail, reading, target_detail
from sre_lib.config import Indicator, PlatformConfig
from sre_lib.durations import Instant

__all__ = ["current_status"]


_STATUS_COLUMNS = [
    "component", "instance", "metric", "status", "value", "unit", "ts", "since", "since_clipped", "detail",
    "series_id",
]  # fmt: skip


def current_status(
    source: Source,
    config: PlatformConfig,
    as_of: Instant | None = None,
    window: timedelta = timedelta(hours=24),
    *,
    sustained: float | Mapping[str, float] | None = None,
    max_gap: timedelta | None = None,
) -> pd.DataFrame:
    """One row per series: its latest value, status at ``as_of``, since when, and why (``detail``).

    ``as_of`` defaults to the newest sample of a banded or trend metric. Samples of the ``window`` before it
    are read (plus the history a sustained rule needs). A series whose newest sample is more than its
    ``max_gap`` old, or that has none in the window, is "no data". ``since`` is when the current status began;
    ``since_clipped`` marks a status that already held at the first sample read (so it began no later).
    ``redis_evictions`` rows come from ``evictions_trend``.
    """
    bands = indicator_bands(config)
    minutes = sustained_minutes(bands, sustained)
    everything = [*bands, *TREND_METRICS]
    as_of_us = to_us(as_of, "as_of")
    if as_of_us is None:
        as_of_us = newest_sample_us(source, everything)
    if window <= timedelta(0):
        raise ValueError(f"window: expected a positive duration, got {window}")
    parts = []
    if as_of_us is not None and has_metric(source, list(bands)):
        window_us = window // timedelta(microseconds=1)
        lo = as_of_us - window_us - lookback_us(minutes, bands)
        samples = load_samples(source, bands, lo, as_of_us)
        rules = series_rules(samples, bands, minutes, max_gap)
        parts.append(_level_status(samples, rules, evaluate(samples, rules), bands, minutes, as_of_us, window_us))
    elif as_of_us is None and isinstance(source, pd.DataFrame):
        load_samples(source, bands, None, None)  # raises the DataError that says what is wrong with the frame
    if as_of_us is not None and has_metric(source, list(TREND_METRICS)):
        trend = evictions_trend(source, config, stamp(as_of_us))
        parts.append(
            pd.DataFrame(
                {
                    "component": trend["component"],
                    "instance": trend["instance"],
                    "metric": trend["metric"],
                    "status": trend["status"],
                    "value": trend["last_value"],
                    "unit": "evictions per minute",
                    "ts": trend["last_ts"],
                    "since": trend["window_start"],
                    "since_clipped": True,
                    "detail": trend["detail"],
                    "series_id": trend["series_id"],
                }
            )
        )
    if not parts:
        table = pd.DataFrame({column: [] for column in _STATUS_COLUMNS})
        table["status"] = pd.Categorical([], dtype=STATUS_DTYPE)
        return table
    table = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    table = _without_stale_series_of_down_servers(table)
    table["status"] = pd.Categorical(table["status"], dtype=STATUS_DTYPE)
    return table.sort_values(["component", "instance", "metric"], kind="stable").reset_index(drop=True)


def _without_stale_series_of_down_servers(table: pd.DataFrame) -> pd.DataFrame:
    """Drop the stopped series of a server whose scrape target is down: its ``up`` row already says so (critical,
    since when), and its last readings are not the present; the component is judged on the servers that answer."""
    down = table[(table["metric"] == UP_METRIC) & (table["status"] == "critical")]
    if down.empty:
        return table
    servers = set(zip(down["component"], down["instance"], strict=True))
    of_down = [key in servers for key in zip(table["component"], table["instance"], strict=True)]
    stale = of_down & (table["status"] == "no data").to_numpy() & (table["metric"] != UP_METRIC).to_numpy()
    return table[~stale].reset_index(drop=True)


def _level_status(
    samples: Samples,
    rules: SeriesRules,
    ev: Evaluation,
    bands: Mapping[str, Indicator],
    minutes: Mapping[str, float],
    as_of: int,
    window: int,
) -> pd.DataFrame:
    rows = []
    for code, series in enumerate(samples.series.itertuples(index=False)):
        a, b = int(samples.bounds[code]), int(samples.bounds[code + 1])
        indicator = bands[series.metric]
        row: dict[str, Any] = {**series._asdict(), "unit": indicator.unit}
        if a == b:
            hours = window / 3_600_000_000
            rows.append(
                row
                | {
                    "status": "no data", "value": np.nan, "ts": pd.NaT, "since": pd.NaT, "since_clipped": True,
                    "detail": f"no samples in the {hours:g} h before {stamp(as_of):%Y-%m-%d %H:%M} UTC",
                }
            )  # fmt: skip
            continue
        last = b - 1
        run = int(np.searchsorted(ev.run_start, last, side="right") - 1)
        value, ts = float(samples.v[last]), int(samples.t[last])
        row |= {"value": value, "ts": stamp(ts)}
        if as_of - ts > rules.max_gap[code]:
            stopped = ts + int(rules.step[code])
            rows.append(
                row
                | {
                    "status": "no data",
                    "since": stamp(stopped),
                    "since_clipped": False,
                    "detail": f"no sample since {row['ts']:%Y-%m-%d %H:%M} UTC "
                    f"(last {reading(value, indicator.warning)} {indicator.unit})",
                }
            )
            continue
        clipped = bool(ev.run_start[run] == a)
        since = max(int(ev.run_t0[run]), as_of - window) if clipped else int(ev.run_t0[run])
        status, band = int(ev.status[last]), int(ev.band[last])
        hot_minutes = 0.0
        if band == CRITICAL and status == WARNING:
            broken = np.flatnonzero((ev.band[a : last + 1] != CRITICAL) | ev.brk[a : last + 1])
            first = a + int(broken[-1]) + (0 if ev.band[a + int(broken[-1])] == CRITICAL else 1)
            hot_minutes = (ts - int(samples.t[first])) / US_PER_MINUTE
        rows.append(
            row
            | {
                "status": STATUSES[status],
                "since": stamp(since),
                "since_clipped": clipped,
                "detail": target_detail(value, series.instance, indicator.critical)
                if series.metric == UP_METRIC
                else level_detail(value, indicator, band, status, hot_minutes, minutes.get(series.metric, 0.0)),
            }
        )
    return pd.DataFrame(rows, columns=_STATUS_COLUMNS)
