"""Sample loading: the samples of the wanted metrics, from a warehouse connection or a frame, grouped by series
and time-ordered within each, as int64 microseconds and float64 values (numpy arrays, no per-sample Python).

A frame has columns ``metric``, ``value`` and optionally ``ts``, ``series_id``, ``component``, ``instance``; one
without ``series_id`` is split into series by whichever of component / instance / metric it has.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import duckdb
import numpy as np
import pandas as pd

from sre_lib.durations import Instant, to_utc
from sre_lib.errors import DataError

__all__ = [
    "US_PER_MINUTE",
    "Samples",
    "Source",
    "has_metric",
    "load_samples",
    "newest_sample_us",
    "stamp",
    "timestamps",
    "to_us",
]

#: Timestamps are int64 microseconds since the epoch, UTC.
US_PER_MINUTE = 60_000_000

#: What every health function reads: a warehouse connection or a frame of samples.
Source = duckdb.DuckDBPyConnection | pd.DataFrame


@dataclass(frozen=True, eq=False)
class Samples:
    """Samples grouped by series (code k owns ``t[bounds[k]:bounds[k + 1]]``), time-ordered within each."""

    series: pd.DataFrame  # row k describes code k: series_id, component, instance, metric
    t: np.ndarray  # int64 microseconds since the epoch, UTC
    v: np.ndarray  # float64, finite
    bounds: np.ndarray  # int64, len(series) + 1
    rows: np.ndarray | None = None  # frames: position in the input frame of each sample


def to_us(instant: Instant | None, name: str) -> int | None:
    """``instant`` as int64 microseconds since the epoch (UTC; naive is UTC), or None."""
    utc = to_utc(instant, name)
    return None if utc is None else int(pd.Timestamp(utc).value // 1000)


def timestamps(us: np.ndarray) -> pd.DatetimeIndex:
    """Microseconds since the epoch as a UTC DatetimeIndex."""
    return pd.DatetimeIndex(np.asarray(us, dtype=np.int64).view("datetime64[us]")).tz_localize("UTC")


def stamp(us: int) -> pd.Timestamp:
    """Microseconds since the epoch as a UTC Timestamp."""
    return pd.Timestamp(us, unit="us", tz="UTC")


def _py_datetime(us: int) -> datetime:
    return pd.Timestamp(us, unit="us", tz="UTC").to_pydatetime()


def _describe_series(series: pd.DataFrame, code: int) -> str:
    row = series.iloc[code]
    where = "/".join(str(part) for part in (row["component"], row["instance"]) if str(part))
    return f"{row['metric']} on {where}" if where else str(row["metric"])


def load_samples(
    source: Source, metrics: Mapping[str, object], lo: int | None, hi: int | None, *, need_ts: bool = True
) -> Samples:
    """The samples of ``metrics`` in [lo, hi] (microseconds, either end open when None), grouped by series.

    A frame without ``ts`` is accepted when ``need_ts`` is False (its samples then have no times).
    """
    if isinstance(source, pd.DataFrame):
        return _frame_samples(source, metrics, lo, hi, need_ts=need_ts)
    if isinstance(source, duckdb.DuckDBPyConnection):
        return _warehouse_samples(source, metrics, lo, hi)
    raise TypeError(f"source: expected a DuckDB connection or a DataFrame, got {type(source).__name__}")


def _warehouse_samples(
    con: duckdb.DuckDBPyConnection, metrics: Mapping[str, object], lo: int | None, hi: int | None
) -> Samples:
    series = con.sql(
        "SELECT series_id, component, instance, metric FROM metric_series WHERE metric IN (SELECT unnest(?)) "
        "ORDER BY component, instance, metric, series_id",
        params=[sorted(metrics)],
    ).df()
    where, params = [], []
    if lo is not None:
        where.append("ts >= ?")
        params.append(_py_datetime(lo))
    if hi is not None:
        where.append("ts <= ?")
        params.append(_py_datetime(hi))
    sql = "SELECT series_id, epoch_us(ts) AS t, value FROM metric_samples"
    if where:
        sql += " WHERE " + " AND ".join(where)
    fetched = con.sql(sql, params=params).fetchnumpy()
    sid = np.asarray(fetched["series_id"], dtype=np.int64)
    t = np.asarray(fetched["t"], dtype=np.int64)
    v = np.asarray(fetched["value"], dtype=np.float64)
    wanted = pd.Index(series["series_id"].to_numpy(dtype=np.int64))
    if not len(sid):
        return Samples(series.reset_index(drop=True), t, v, np.zeros(len(series) + 1, dtype=np.int64))
    # The table is stored run by run, series by series within a run: work on stretches of equal series_id.
    starts = np.concatenate(([0], np.flatnonzero(sid[1:] != sid[:-1]) + 1))
    lengths = np.diff(np.append(starts, len(sid)))
    run_code = wanted.get_indexer(sid[starts])
    del sid, fetched
    finite = np.isfinite(v)
    if not finite.all():  # the warehouse never stores them, but a hand-made table might
        run_code = np.repeat(run_code, lengths)[finite]
        t, v = t[finite], v[finite]
        starts, lengths = _runs(run_code)
        run_code = run_code[starts]
    keep = run_code >= 0  # stretches of metrics without bands are dropped
    if not keep.all():
        starts, lengths, run_code = starts[keep], lengths[keep], run_code[keep]
    # Codes in order of first appearance, then the series without samples.
    seen = pd.unique(run_code)
    unseen = np.setdiff1d(np.arange(len(series)), seen, assume_unique=True)
    order = np.concatenate((seen, unseen)).astype(np.int64)
    series = series.iloc[order].reset_index(drop=True)
    renumber = np.empty(len(order), dtype=np.int64)
    renumber[order] = np.arange(len(order))
    run_code = renumber[run_code]
    per_code = np.bincount(run_code, weights=lengths, minlength=len(series)).astype(np.int64)
    bounds = np.concatenate(([0], np.cumsum(per_code))).astype(np.int64)
    if len(seen) != len(run_code) or not keep.all():
        # Gather the samples series by series, keeping each series' storage order (a stable sort by code).
        small = np.uint16 if len(series) < 2**16 else np.int64  # 16-bit codes sort by radix, in linear time
        if len(run_code) * 8 > len(t):  # fragmented (series interleaved sample by sample): sort the samples
            by_code = np.argsort(np.repeat(run_code.astype(small), lengths), kind="stable")
            if not keep.all():
                by_code = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)[by_code] + by_code
        else:  # long stretches (one per series and collection run): move whole stretches
            stretch = np.argsort(run_code.astype(small), kind="stable")
            starts, lengths = starts[stretch], lengths[stretch]
            by_code = np.arange(lengths.sum()) + np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
        t, v = t[by_code], v[by_code]
    t, v, _ = _time_order(series, t, v, bounds, None)
    return Samples(series, t, v, bounds)


def _runs(code: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, length) of each stretch of equal values."""
    if not len(code):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    starts = np.concatenate(([0], np.flatnonzero(code[1:] != code[:-1]) + 1))
    return starts, np.diff(np.append(starts, len(code)))


def _group(
    series: pd.DataFrame, code: np.ndarray, t: np.ndarray, v: np.ndarray, rows: np.ndarray | None, timed: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Reorder samples so that each series is contiguous (in code order) and time-ordered."""
    if len(code) > 1 and not np.all(code[1:] >= code[:-1]):
        small = code.astype(np.uint16 if len(series) < 2**16 else np.int64)
        order = np.argsort(small, kind="stable")  # radix sort for 16-bit codes
        code, t, v = code[order], t[order], v[order]
        rows = order if rows is None else rows[order]
    bounds = np.searchsorted(code, np.arange(len(series) + 1), side="left").astype(np.int64)
    if timed:
        t, v, rows = _time_order(series, t, v, bounds, rows)
    return t, v, bounds, rows


def _time_order(
    series: pd.DataFrame, t: np.ndarray, v: np.ndarray, bounds: np.ndarray, rows: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Sort by time within each series if needed; reject duplicate timestamps."""
    if len(t) < 2:
        return t, v, rows
    suspect = np.flatnonzero(t[1:] <= t[:-1])  # usually only where one series ends and the next begins
    suspect = suspect[~np.isin(suspect + 1, bounds)]
    if len(suspect) and np.any(t[suspect + 1] < t[suspect]):
        code = np.repeat(np.arange(len(series)), np.diff(bounds))
        order = np.lexsort((t, code))
        t, v = t[order], v[order]
        rows = order if rows is None else rows[order]
        suspect = np.flatnonzero(t[1:] <= t[:-1])
        suspect = suspect[~np.isin(suspect + 1, bounds)]
    if len(suspect):
        first = int(suspect[0])
        code = int(np.searchsorted(bounds, first, side="right") - 1)
        raise DataError(
            f"{_describe_series(series, code)}: {len(suspect)} duplicate timestamp(s), first at "
            f"{stamp(int(t[first]))}; a series has one sample per instant"
        )
    return t, v, rows


def _frame_samples(
    frame: pd.DataFrame, metrics: Mapping[str, object], lo: int | None, hi: int | None, *, need_ts: bool
) -> Samples:
    if frame.empty:
        raise DataError("frame: no rows (an empty frame has nothing to classify)")
    missing = [column for column in ("metric", "value", *(("ts",) if need_ts else ())) if column not in frame]
    if missing:
        raise DataError(
            f"frame: missing column(s) {missing}; expected metric, value, ts and optionally series_id, component, "
            "instance (add a metric with frame.assign(metric='cpu'))"
        )
    metric = frame["metric"].astype(str)
    known = metric.isin(list(metrics)).to_numpy()
    if not known.any():
        names = sorted(metric.unique())
        raise DataError(
            f"frame: nothing to classify in metric(s) {names[:10]}; this needs one of {', '.join(sorted(metrics))}"
        )
    try:
        value = frame["value"].to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise DataError(f"frame: column 'value' must be numeric, got dtype {frame['value'].dtype}") from None
    finite = np.isfinite(value) & known
    if not finite.any():
        names = sorted(metric[known].unique())
        raise DataError(f"frame: all {int(known.sum())} values of {names} are NaN or infinite; nothing to classify")
    negative = np.flatnonzero(finite & (value < 0))
    if len(negative):
        first = negative[0]
        raise DataError(
            f"frame: {len(negative)} negative value(s) for {metric.iloc[first]!r} (first {value[first]:g} at row "
            f"{frame.index[first]!r}); key indicators are never negative"
        )
    if "ts" in frame:
        try:
            stamps = pd.DatetimeIndex(pd.to_datetime(frame["ts"], utc=True)).as_unit("us")
        except (TypeError, ValueError) as exc:
            raise DataError(f"frame: column 'ts' is not date-times ({exc})") from None
        bad = np.flatnonzero(finite & stamps.isna())
        if len(bad):
            raise DataError(f"frame: {len(bad)} sample(s) without a timestamp (first at row {frame.index[bad[0]]!r})")
        t_all = stamps.asi8
        if lo is not None:
            finite &= t_all >= lo
        if hi is not None:
            finite &= t_all <= hi
    else:
        t_all = np.zeros(len(frame), dtype=np.int64)
    keys = [column for column in ("series_id", "component", "instance", "metric") if column in frame]
    labelled = frame.loc[known, keys].assign(metric=metric[known])
    codes = np.full(len(frame), -1, dtype=np.int64)
    codes[known] = labelled.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
    first_rows = labelled.drop_duplicates(keys)
    series = pd.DataFrame(
        {
            "series_id": (first_rows["series_id"].to_numpy() if "series_id" in keys else np.arange(len(first_rows))),
            "component": first_rows["component"].astype(str).to_numpy() if "component" in keys else "",
            "instance": first_rows["instance"].astype(str).to_numpy() if "instance" in keys else "",
            "metric": first_rows["metric"].to_numpy(),
        }
    )
    rows = np.flatnonzero(finite)
    t, v, bounds, rows = _group(series, codes[rows], t_all[rows], value[rows], rows, "ts" in frame)
    if "ts" not in frame:
        t = None  # type: ignore[assignment]
    return Samples(series, t, v, bounds, rows)


def newest_sample_us(source: Source, metrics: list[str]) -> int | None:
    """Time of the newest sample of any of ``metrics``, in microseconds, or None when there is none."""
    if isinstance(source, pd.DataFrame):
        if "ts" not in source or "metric" not in source:
            return None
        rows = source["metric"].astype(str).isin(metrics).to_numpy()
        stamps = pd.to_datetime(source.loc[rows, "ts"], utc=True)
        return None if stamps.empty or stamps.isna().all() else to_us(stamps.max(), "ts")
    if isinstance(source, duckdb.DuckDBPyConnection):
        rows = source.sql(
            "SELECT epoch_us(max(ts)) FROM metric_samples WHERE series_id IN "
            "(SELECT series_id FROM metric_series WHERE metric IN (SELECT unnest(?)))",
            params=[metrics],
        ).fetchall()
        return None if not rows or rows[0][0] is None else int(rows[0][0])
    raise TypeError(f"source: expected a DuckDB connection or a DataFrame, got {type(source).__name__}")


def has_metric(source: Source, metrics: list[str]) -> bool:
    """Whether ``source`` has a series of any of ``metrics``."""
    if isinstance(source, pd.DataFrame):
        return "metric" in source and bool(source["metric"].astype(str).isin(metrics).any())
    rows = source.sql("SELECT count(*) FROM metric_series WHERE metric IN (SELECT unnest(?))", params=[metrics])
    return bool(rows.fetchall()[0][0])
