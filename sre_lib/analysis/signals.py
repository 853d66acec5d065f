"""Capacity signals: raw samples turned into one value per local calendar day (or hour), the input of forecasts.

Capacity is about peaks, so a day is summarised by its p95 (or its max). Days are calendar days of the
platform's time zone, so a daylight-saving day holds 23 or 25 hours of samples. ``capacity_signal`` works on a
pandas frame; ``daily_signal`` does the same for many warehouse series inside DuckDB. ``seasonal_strength``
says how strongly a signal repeats with a given period (it decides whether a forecast is seasonal).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pandas as pd

from sre_lib.config import PlatformConfig
from sre_lib.errors import DataError
from sre_lib.warehouse.series import sample_query

__all__ = ["Freq", "capacity_signal", "daily_signal", "seasonal_strength", "signal_frequency"]

Freq = Literal["D", "h"]


def _zone(tz: str | ZoneInfo | PlatformConfig) -> str:
    if isinstance(tz, PlatformConfig):
        return tz.platform.timezone
    return tz.key if isinstance(tz, ZoneInfo) else str(tz)


def signal_frequency(freq: str) -> Freq:
    """'D' (daily) or 'h' (hourly) from the spellings users write; ValueError otherwise."""
    normal = {"d": "D", "day": "D", "daily": "D", "h": "h", "hour": "h", "hourly": "h"}.get(str(freq).lower())
    if normal is None:
        raise ValueError(f"signal frequency: expected 'D' (daily) or 'h' (hourly), got {freq!r}")
    return normal  # type: ignore[return-value]


def _quantile_of(stat: str) -> float | None:
    """0.95 for 'p95', None for 'max' / 'mean'; ValueError for anything else."""
    if stat in ("max", "mean"):
        return None
    match = re.fullmatch(r"p(\d{1,2}(?:\.\d+)?)", stat)
    if not match or not 0 < float(match.group(1)) < 100:
        raise ValueError(f"signal statistic: expected 'p95' (any 'pNN'), 'max' or 'mean', got {stat!r}")
    return float(match.group(1)) / 100.0


def capacity_signal(
    samples: pd.DataFrame,
    tz: str | ZoneInfo | PlatformConfig = "UTC",
    *,
    freq: str = "D",
    stat: str = "p95",
    by: Sequence[str] = (),
    min_samples_fraction: float = 0.75,
    ts: str = "ts",
    value: str = "value",
) -> pd.DataFrame:
    """One value per local day (``freq='D'``) or hour (``'h'``) of raw samples: columns ``*by, date, value, samples``.

    Why: capacity is about peaks, so a day is summarised by its p95 (``stat='p95'``, linear interpolation like
    DuckDB's ``quantile_cont``) or its ``'max'``. Days are calendar days of ``tz`` (a zone name or the platform
    config): timestamps are converted to the zone first, so a daylight-saving day holds 23 or 25 hours. Naive
    timestamps are taken as UTC, like the warehouse stores them. ``date`` is the local midnight (naive) for daily
    signals and the local hour start (zone-aware) for hourly ones. Periods with fewer samples than
    ``min_samples_fraction`` of the series' median count (a partial first or last day) are dropped: a half day
    would look like a sudden drop. NaN values are ignored.
    """
    frequency = signal_frequency(freq)
    quantile = _quantile_of(stat)
    missing = [c for c in (*by, ts, value) if c not in samples.columns]
    if missing:
        raise DataError(f"capacity signal: samples lack columns {missing}; expected {[*by, ts, value]}")
    columns = [*by, "date", "value", "samples"]
    frame = samples.loc[samples[value].notna(), [*by, ts, value]]
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c == "value" else "object") for c in columns})
    try:
        instants = pd.to_datetime(frame[ts], utc=True)
        zone = ZoneInfo(_zone(tz))
    except (ValueError, TypeError, KeyError) as exc:
        raise DataError(f"capacity signal: cannot read timestamps or time zone: {exc}") from None
    local = instants.dt.tz_convert(zone)
    if frequency == "D":
        period = local.dt.tz_localize(None).dt.normalize()
    else:
        offset = local.dt.tz_localize(None) - instants.dt.tz_localize(None)  # UTC offset of each sample
        period = ((instants + offset).dt.floor("h") - offset).dt.tz_convert(zone)
    work = pd.DataFrame({**{c: frame[c] for c in by}, "date": period, "value": frame[value].astype(float)})
    grouped = work.groupby([*by, "date"], sort=True, observed=True)["value"]
    if stat == "max":
        values = grouped.max()
    elif stat == "mean":
        values = grouped.mean()
    else:
        values = grouped.quantile(quantile)
    out = pd.DataFrame({"value": values, "samples": grouped.size()}).reset_index()
    return _drop_partial(out, list(by), min_samples_fraction)[columns]


def _drop_partial(frame: pd.DataFrame, by: list[str], fraction: float) -> pd.DataFrame:
    if fraction <= 0 or frame.empty:
        return frame.reset_index(drop=True)
    if by:
        typical = frame.groupby(by, observed=True)["samples"].transform("median")
    else:
        typical = pd.Series(frame["samples"].median(), index=frame.index)
    return frame.loc[frame["samples"] >= fraction * typical].reset_index(drop=True)


def daily_signal(
    con: duckdb.DuckDBPyConnection,
    config: PlatformConfig | str,
    metrics: Sequence[str] | None = None,
    components: Sequence[str] | None = None,
    stat: str = "p95",
    start: datetime | None = None,
    end: datetime | None = None,
    min_samples_fraction: float = 0.75,
) -> pd.DataFrame:
    """The daily capacity signal of many warehouse series at once, aggregated inside DuckDB.

    Same result as ``capacity_signal(read_samples(...), config, by=[series_id, component, instance, metric])``
    without pulling every sample into pandas: days are local calendar days of the platform zone (DuckDB
    ``timezone(zone, ts)``), ``p95`` is ``quantile_cont(value, 0.95)``. Columns: series_id, component, instance,
    metric, date (local midnight, naive), value, samples.
    """
    zone = _zone(config)
    try:
        ZoneInfo(zone)
    except (ValueError, KeyError) as exc:
        raise ValueError(f"daily signal: unknown time zone {zone!r}") from exc
    quantile = _quantile_of(stat)
    if quantile is not None:
        aggregate = f"quantile_cont(value, {quantile!r})"
    else:
        aggregate = "max(value)" if stat == "max" else "avg(value)"
    sql, params = sample_query(metrics, components, start, end)
    query = f"""
        WITH samples AS ({sql}),
        days AS (
            SELECT series_id, component, instance, metric, CAST(timezone(?, ts) AS DATE) AS date,
                   {aggregate} AS value, count(*) AS samples
            FROM samples WHERE value IS NOT NULL AND NOT isnan(value)
            GROUP BY ALL
        )
        SELECT * FROM days
        QUALIFY samples >= ? * median(samples) OVER (PARTITION BY series_id)
        ORDER BY component, instance, metric, series_id, date
    """
    frame = con.execute(query, [*params, zone, float(max(min_samples_fraction, 0.0))]).df()
    frame["date"] = pd.to_datetime(frame["date"])
    frame["samples"] = frame["samples"].astype("int64")
    return frame


def seasonal_strength(values: np.ndarray | Sequence[float], season: int) -> float:
    """Strength of a seasonal pattern of length ``season``, 0 (none) to 1 (pure season).

    Classical decomposition: trend by a centred moving average, seasonal indices by phase means of the
    detrended values; strength = max(0, 1 - var(remainder) / var(seasonal + remainder)) (Wang, Smith & Hyndman).
    """
    y = np.asarray(values, dtype=float)
    if season < 2 or len(y) < 2 * season + 1 or not np.isfinite(y).all():
        return 0.0
    weights = np.r_[0.5, np.ones(season - 1), 0.5] / season if season % 2 == 0 else np.ones(season) / season
    trend = np.convolve(y, weights, mode="valid")
    offset = (len(weights) - 1) // 2
    detrended = y[offset : offset + len(trend)] - trend
    phase = (np.arange(len(detrended)) + offset) % season
    means = np.bincount(phase, detrended, minlength=season) / np.bincount(phase, minlength=season)
    seasonal = (means - means.mean())[phase]
    total = np.var(detrended)
    if total <= 0:
        return 0.0
    return float(max(0.0, 1.0 - np.var(detrended - seasonal) / total))
