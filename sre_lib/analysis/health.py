"""Health of the key indicators: healthy / warning / critical per sample, time in bands, episodes, the current
status table and a worst-status-wins roll-up per component and for the platform.

Every function reads ``source``: a warehouse connection (``metric_series`` + ``metric_samples``) or a DataFrame
with columns ``metric``, ``value`` and optionally ``ts``, ``series_id``, ``component``, ``instance`` (a frame
without ``series_id`` is split into series by whichever of component / instance / metric it has).

The rules, in one place:

* **Bands** come from ``indicator_bands(config)``. Direction "above" (higher is worse): healthy below
  ``warning``; warning from ``warning`` up to and including ``critical``; critical above ``critical``
  (cpu 60 / 80: 59.99 healthy, 60 warning, 80 warning, 80.01 critical). Direction "below" mirrors it.
* **Sustained**: with ``sustained_minutes`` N (from the indicator, or the ``sustained`` override), a sample in
  the critical band counts as critical only once the indicator has been in that band for N minutes without a
  break (``ts - first sample of the run >= N``); until then it counts as warning.
* **Contiguity**: two samples of a series are contiguous when at most ``max_gap`` apart (default: twice the
  series' typical step, its median sampling interval), so one missing sample neither ends an episode nor
  resets a sustained run; a longer gap does both.
* **Time**: a sample's status holds until the next contiguous sample, or for one step if there is none. Time
  not held by any sample is "no data", so a series' minutes in healthy + warning + critical + no data equal
  the window.
* Samples are classified by level only. ``redis_evictions`` (a rate) is judged by its trend instead, see
  ``evictions_trend``; it appears in ``current_status`` but not in ``time_in_bands`` or ``episodes``.
  Metrics with neither bands nor a trend rule (``request_rate``) are ignored.

All the per-sample work is vectorised numpy over arrays fetched from DuckDB; Python only loops per series.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from sre_lib.config import Indicator, PlatformConfig
from sre_lib.durations import Instant, to_utc
from sre_lib.errors import DataError

__all__ = [
    "STATUSES",
    "STATUS_DTYPE",
    "TREND_METRICS",
    "Assessment",
    "HealthRollup",
    "assess",
    "classify",
    "current_status",
    "episodes",
    "evictions_trend",
    "indicator_bands",
    "reading",
    "rollup",
    "time_in_bands",
]

#: Statuses from best to worst: the order in which the worst status wins a roll-up ("no data" beats healthy).
STATUSES: tuple[str, ...] = ("healthy", "no data", "warning", "critical")
STATUS_DTYPE = pd.CategoricalDtype(list(STATUSES), ordered=True)
HEALTHY, NO_DATA, WARNING, CRITICAL = range(4)

#: Metrics judged by their trend, not by bands.
TREND_METRICS: tuple[str, ...] = ("redis_evictions",)

_US_PER_MINUTE = 60_000_000
_DEFAULT_STEP_US = _US_PER_MINUTE
_STEP_PROBES = 1001  # diffs per series used to estimate its step (median)
_TREND_BUCKETS = 24
_TREND_MIN_BUCKETS = 8

Source = duckdb.DuckDBPyConnection | pd.DataFrame


# ---------------------------------------------------------------------------------------------------- bands


def indicator_bands(config: PlatformConfig) -> dict[str, Indicator]:
    """The bands of every level-classified metric: ``config.indicators`` plus the Redis metrics.

    The Redis bands derive from ``[redis]`` (an explicit ``[indicators.<name>]`` entry wins):

    * ``redis_memory`` (percent of maxmemory): warning at ``memory_percent``, critical halfway from there
      to 100 (80 -> 90).
    * ``redis_hit_ratio`` (percent, lower is worse): warning at ``hit_ratio_percent``, critical halfway from
      there to 0 (80 -> 40).
    * ``redis_clients`` (percent of maxclients): warning at ``clients_near_limit_percent``, critical
      halfway from there to 100 (90 -> 95).

    "Halfway to the worst possible value" is the one rule for all three. ``redis_evictions`` has no bands: see
    ``evictions_trend``.
    """
    redis = config.redis
    derived = {
        "redis_memory": Indicator(
            unit="percent of maxmemory", warning=redis.memory_percent, critical=(redis.memory_percent + 100) / 2
        ),
        "redis_hit_ratio": Indicator(
            unit="percent", warning=redis.hit_ratio_percent, critical=redis.hit_ratio_percent / 2, direction="below"
        ),
        "redis_clients": Indicator(
            unit="percent of maxclients",
            warning=redis.clients_near_limit_percent,
            critical=(redis.clients_near_limit_percent + 100) / 2,
        ),
    }
    return {**derived, **config.indicators}


def _sustained_minutes(
    bands: Mapping[str, Indicator], sustained: float | Mapping[str, float] | None
) -> dict[str, float]:
    minutes = {name: float(ind.sustained_minutes) for name, ind in bands.items()}
    if sustained is None:
        return minutes
    if isinstance(sustained, Mapping):
        unknown = sorted(set(sustained) - set(bands))
        if unknown:
            raise DataError(f"sustained: no bands for metric(s) {unknown}; banded metrics: {', '.join(sorted(bands))}")
        overrides = dict(sustained)
    else:
        overrides = dict.fromkeys(bands, sustained)
    for name, value in overrides.items():
        if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            raise DataError(f"sustained[{name!r}]: expected minutes >= 0, got {value!r}")
        minutes[name] = float(value)
    return minutes


# ---------------------------------------------------------------------------------------------------- loading


@dataclass(frozen=True, eq=False)
class _Samples:
    """Samples grouped by series (code k owns ``t[bounds[k]:bounds[k + 1]]``), time-ordered within each."""

    series: pd.DataFrame  # row k describes code k: series_id, component, instance, metric
    t: np.ndarray  # int64 microseconds since the epoch, UTC
    v: np.ndarray  # float64, finite
    bounds: np.ndarray  # int64, len(series) + 1
    rows: np.ndarray | None = None  # frames: position in the input frame of each sample


@dataclass(frozen=True, eq=False)
class _Rules:
    """Per-series rule arrays, indexed by series code."""

    sign: np.ndarray  # +1 higher is worse, -1 lower is worse
    warn: np.ndarray  # thresholds multiplied by sign, so that "worse" is always "greater"
    crit: np.ndarray
    sustained: np.ndarray  # int64 us
    step: np.ndarray  # int64 us
    max_gap: np.ndarray  # int64 us


def _to_us(instant: Instant | None, name: str) -> int | None:
    utc = to_utc(instant, name)
    return None if utc is None else int(pd.Timestamp(utc).value // 1000)


def _timestamps(us: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(np.asarray(us, dtype=np.int64).view("datetime64[us]")).tz_localize("UTC")


def _stamp(us: int) -> pd.Timestamp:
    return pd.Timestamp(us, unit="us", tz="UTC")


def _py_datetime(us: int) -> datetime:
    return pd.Timestamp(us, unit="us", tz="UTC").to_pydatetime()


def _describe_series(series: pd.DataFrame, code: int) -> str:
    row = series.iloc[code]
    where = "/".join(str(part) for part in (row["component"], row["instance"]) if str(part))
    return f"{row['metric']} on {where}" if where else str(row["metric"])


def _load(
    source: Source, metrics: Mapping[str, object], lo: int | None, hi: int | None, *, need_ts: bool = True
) -> _Samples:
    if isinstance(source, pd.DataFrame):
        return _frame_samples(source, metrics, lo, hi, need_ts=need_ts)
    if isinstance(source, duckdb.DuckDBPyConnection):
        return _warehouse_samples(source, metrics, lo, hi)
    raise TypeError(f"source: expected a DuckDB connection or a DataFrame, got {type(source).__name__}")


def _warehouse_samples(
    con: duckdb.DuckDBPyConnection, metrics: Mapping[str, object], lo: int | None, hi: int | None
) -> _Samples:
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
        return _Samples(series.reset_index(drop=True), t, v, np.zeros(len(series) + 1, dtype=np.int64))
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
    return _Samples(series, t, v, bounds)


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
            f"{_stamp(int(t[first]))}; a series has one sample per instant"
        )
    return t, v, rows


def _frame_samples(
    frame: pd.DataFrame, metrics: Mapping[str, object], lo: int | None, hi: int | None, *, need_ts: bool
) -> _Samples:
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
    return _Samples(series, t, v, bounds, rows)


def _rules(
    samples: _Samples, bands: Mapping[str, Indicator], sustained: Mapping[str, float], max_gap: timedelta | None
) -> _Rules:
    metric = samples.series["metric"]
    sign = np.array([1.0 if bands[m].direction == "above" else -1.0 for m in metric])
    warn = np.array([bands[m].warning for m in metric]) * sign
    crit = np.array([bands[m].critical for m in metric]) * sign
    hold = np.array([round(sustained.get(m, 0.0) * _US_PER_MINUTE) for m in metric], dtype=np.int64)
    step = _steps(samples.t, samples.bounds) if samples.t is not None else np.zeros(len(metric), dtype=np.int64)
    if max_gap is not None:
        if max_gap <= timedelta(0):
            raise DataError(f"max_gap: expected a positive duration, got {max_gap}")
        gap = np.full(len(metric), max_gap // timedelta(microseconds=1), dtype=np.int64)
    else:
        gap = 2 * step
    return _Rules(sign, warn, crit, hold, step, gap)


def _steps(t: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Each series' typical step: the median of (up to 1001 evenly spread) intervals between its samples."""
    diffs = np.diff(bounds) - 1
    probes = np.minimum(np.maximum(diffs, 0), _STEP_PROBES)
    has = probes > 0
    result = np.zeros(len(diffs), dtype=np.int64)
    if has.any():
        owner = np.repeat(np.flatnonzero(has), probes[has])
        offset = np.arange(len(owner)) - np.repeat(np.cumsum(probes[has]) - probes[has], probes[has])
        position = bounds[owner] + offset * diffs[owner] // probes[owner]
        gaps = t[position + 1] - t[position]
        order = np.lexsort((gaps, owner))
        gaps = gaps[order]
        first = np.concatenate(([0], np.cumsum(probes[has])[:-1]))
        count = probes[has]
        result[has] = (gaps[first + (count - 1) // 2] + gaps[first + count // 2]) // 2
    fallback = int(np.median(result[has])) if has.any() else _DEFAULT_STEP_US
    result[~has] = fallback
    return result


def _lookback_us(sustained: Mapping[str, float], metrics: Mapping[str, object]) -> int:
    """History to read before a window so that sustained runs crossing its start are judged right."""
    longest = max((sustained.get(m, 0.0) for m in metrics), default=0.0)
    return round((longest + 120) * _US_PER_MINUTE) if longest > 0 else 0


# ---------------------------------------------------------------------------------------------------- engine


@dataclass(frozen=True, eq=False)
class _Eval:
    x: np.ndarray  # values times the series' sign: greater is worse
    band: np.ndarray  # int8 per sample: HEALTHY / WARNING / CRITICAL by level alone
    status: np.ndarray  # int8 per sample, after the sustained rule
    brk: np.ndarray  # bool per sample: starts a series or follows a gap longer than max_gap
    run_start: np.ndarray  # first sample of each run of equal status
    run_last: np.ndarray
    run_code: np.ndarray
    run_status: np.ndarray
    run_t0: np.ndarray  # us
    run_t1: np.ndarray  # us: when the run stopped holding


_BLOCK = 1 << 16  # samples per block: per-sample work runs block by block, in cache


def _blocks(bounds: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive series in blocks of about ``_BLOCK`` samples, as (first code, end code); a long series is
    a block of its own."""
    count = len(bounds) - 1
    if count <= 0:
        return []
    cuts = np.searchsorted(bounds, np.arange(_BLOCK, int(bounds[-1]), _BLOCK), side="right") - 1
    edges = np.unique(np.concatenate(([0], cuts, [count])))
    return list(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))


def _spread(values: np.ndarray, k0: int, k1: int, lengths: np.ndarray) -> Any:
    """Per-series values of codes k0..k1 repeated per sample, or a scalar when they are all the same."""
    part = values[k0:k1]
    if k1 - k0 == 1 or np.all(part == part[0]):
        return part[0]
    return np.repeat(part, lengths[k0:k1])


def _band(samples: _Samples, rules: _Rules) -> tuple[np.ndarray, np.ndarray]:
    """(values in "greater is worse" space, band per sample), for frames without timestamps."""
    x = samples.v * np.repeat(rules.sign, np.diff(samples.bounds))
    warn = np.repeat(rules.warn, np.diff(samples.bounds))
    crit = np.repeat(rules.crit, np.diff(samples.bounds))
    return x, (x >= warn).astype(np.int8) * np.int8(WARNING) + (x > crit)


def _evaluate(samples: _Samples, rules: _Rules) -> _Eval:
    """Band, status, breaks and runs of equal status, block by block (a block holds whole series)."""
    t, v, bounds = samples.t, samples.v, samples.bounds
    n = len(t)
    lengths = np.diff(bounds)
    mirrored = bool(np.any(rules.sign < 0))
    x = np.empty_like(v) if mirrored else v
    band = np.empty(n, dtype=np.int8)
    brk = np.empty(n, dtype=bool)
    change = np.empty(n, dtype=bool)
    sustained = bool(np.any(rules.sustained > 0))
    status = np.empty(n, dtype=np.int8) if sustained else band
    for k0, k1 in _blocks(bounds):
        a, b = int(bounds[k0]), int(bounds[k1])
        if a == b:
            continue
        xs = np.multiply(v[a:b], _spread(rules.sign, k0, k1, lengths), out=x[a:b]) if mirrored else v[a:b]
        ts = t[a:b]
        seg = band[a:b]
        np.greater_equal(xs, _spread(rules.warn, k0, k1, lengths), out=seg.view(np.bool_))
        seg <<= 1  # WARNING == 2
        seg += np.greater(xs, _spread(rules.crit, k0, k1, lengths))
        cut = brk[a:b]
        cut[0] = True
        gap = _spread(rules.max_gap, k0, k1, lengths)
        np.greater(np.diff(ts), gap if np.isscalar(gap) else gap[1:], out=cut[1:])
        if k1 - k0 > 1:
            firsts = bounds[k0:k1][lengths[k0:k1] > 0] - a
            cut[firsts] = True
        state = seg
        if sustained:
            state = status[a:b]
            state[:] = seg
            _sustain(ts, seg, cut, state, _spread(rules.sustained, k0, k1, lengths))
        flags = change[a:b]
        flags[0] = True
        np.not_equal(state[1:], state[:-1], out=flags[1:])
        flags |= cut
    run_start = np.flatnonzero(change)
    run_last = np.append(run_start[1:] - 1, n - 1) if n else run_start
    run_code = np.searchsorted(bounds, run_start, side="right") - 1
    following = run_last + 1
    contiguous = following < n
    contiguous[contiguous] = ~brk[following[contiguous]]
    held = np.where(contiguous, t[np.minimum(following, n - 1)] - t[run_last], rules.step[run_code]) if n else t
    return _Eval(
        x=x,
        band=band,
        status=status,
        brk=brk,
        run_start=run_start,
        run_last=run_last,
        run_code=run_code,
        run_status=status[run_start],
        run_t0=t[run_start],
        run_t1=t[run_last] + held,
    )


def _sustain(ts: np.ndarray, band: np.ndarray, cut: np.ndarray, status: np.ndarray, needed: Any) -> None:
    """Demote to warning the critical-band samples whose run has not yet lasted ``needed`` microseconds."""
    hot = np.flatnonzero(band == CRITICAL)
    if not len(hot) or (np.isscalar(needed) and needed <= 0):
        return
    new = np.empty(len(hot), dtype=bool)
    new[0] = True
    np.not_equal(np.diff(hot), 1, out=new[1:])
    new[1:] |= cut[hot[1:]]
    first = np.where(new, np.arange(len(hot)), 0)
    np.maximum.accumulate(first, out=first)
    elapsed = ts[hot] - ts[hot[first]]
    early = elapsed < (needed if np.isscalar(needed) else needed[hot])
    status[hot[early]] = WARNING


# ---------------------------------------------------------------------------------------------------- assess


@dataclass(frozen=True, eq=False)
class Assessment:
    """Time in bands and episodes of every banded series over one window, from a single classification pass.

    ``series`` lists each series with the rule applied (bands, sustained minutes, step, max gap);
    ``samples()`` gives the per-sample status.
    """

    start: pd.Timestamp
    end: pd.Timestamp
    series: pd.DataFrame
    time_in_bands: pd.DataFrame
    episodes: pd.DataFrame
    _samples: _Samples = field(repr=False)
    _eval: _Eval = field(repr=False)

    def __repr__(self) -> str:
        samples = int(
            np.count_nonzero(
                (self._samples.t >= self.start.value // 1000) & (self._samples.t <= self.end.value // 1000)
            )
        )
        counts = self.episodes["status"].value_counts()
        worst = self.time_in_bands.sort_values("critical_minutes", ascending=False).head(3)
        lines = [
            f"Assessment({self.start:%Y-%m-%d %H:%M} .. {self.end:%Y-%m-%d %H:%M} UTC: {len(self.series)} series, "
            f"{samples:,} samples; episodes: {int(counts.get('critical', 0))} critical, "
            f"{int(counts.get('warning', 0))} warning)"
        ]
        for row in worst.itertuples():
            if row.critical_minutes > 0:
                lines.append(
                    f"  {row.metric} on {row.component}/{row.instance}: {row.critical_minutes:,.0f} min critical "
                    f"({row.critical_share:.1%})"
                )
        return "\n".join(lines)

    def samples(self) -> pd.DataFrame:
        """One row per sample in the window: series identity, ts, value, band (level alone) and status."""
        return _sample_frame(self._samples, self._eval, self.start.value // 1000, self.end.value // 1000)


def _sample_frame(samples: _Samples, ev: _Eval, lo: int | None, hi: int | None) -> pd.DataFrame:
    t = samples.t
    keep = np.ones(len(t), dtype=bool)
    if lo is not None:
        keep &= t >= lo
    if hi is not None:
        keep &= t <= hi
    code = np.repeat(np.arange(len(samples.series)), np.diff(samples.bounds))[keep]
    frame = samples.series.iloc[code].reset_index(drop=True)
    frame["ts"] = _timestamps(t[keep])
    frame["value"] = samples.v[keep]
    frame["band"] = pd.Categorical.from_codes(ev.band[keep], dtype=STATUS_DTYPE)
    frame["status"] = pd.Categorical.from_codes(ev.status[keep], dtype=STATUS_DTYPE)
    return frame


def assess(
    source: Source,
    config: PlatformConfig,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    sustained: float | Mapping[str, float] | None = None,
    max_gap: timedelta | None = None,
) -> Assessment:
    """Classify every banded series over [start, end] once and summarise it (time in bands, episodes).

    ``start`` / ``end`` default to the first sample / the last sample plus one step; naive times are UTC.
    History before ``start`` is read too when a sustained rule needs it. ``sustained`` overrides
    ``Indicator.sustained_minutes`` (minutes, for every metric or per metric); ``max_gap`` overrides the
    contiguity tolerance (default twice each series' step).
    """
    bands = indicator_bands(config)
    minutes = _sustained_minutes(bands, sustained)
    lo, hi = _to_us(start, "start"), _to_us(end, "end")
    if lo is not None and hi is not None and lo >= hi:
        raise DataError(f"window: start ({start}) must be before end ({end})")
    lookback = _lookback_us(minutes, bands)
    samples = _load(source, bands, None if lo is None else lo - lookback, hi)
    rules = _rules(samples, bands, minutes, max_gap)
    if not len(samples.t) and (lo is None or hi is None):
        raise DataError("no samples of a banded metric to assess; give start and end to report an empty window")
    ev = _evaluate(samples, rules)
    lengths = np.diff(samples.bounds)
    ws = lo if lo is not None else int(samples.t.min())
    if hi is not None:
        we = hi
    else:
        last = samples.t[samples.bounds[1:][lengths > 0] - 1]
        we = int(np.max(last + rules.step[lengths > 0]))
        if we <= ws:
            raise DataError(f"window: no samples after start ({start}); give an end to report an empty window")
    table = _series_table(samples, rules, bands, minutes)
    return Assessment(
        start=_stamp(ws),
        end=_stamp(we),
        series=table,
        time_in_bands=_time_in_bands(samples, ev, ws, we),
        episodes=_episodes(samples, rules, ev, bands, ws, we),
        _samples=samples,
        _eval=ev,
    )


def _series_table(
    samples: _Samples, rules: _Rules, bands: Mapping[str, Indicator], minutes: Mapping[str, float]
) -> pd.DataFrame:
    table = samples.series.copy()
    metric = table["metric"]
    table["unit"] = [bands[m].unit for m in metric]
    table["direction"] = [bands[m].direction for m in metric]
    table["warning"] = [bands[m].warning for m in metric]
    table["critical"] = [bands[m].critical for m in metric]
    table["sustained_minutes"] = [minutes.get(m, 0.0) for m in metric]
    table["step"] = pd.to_timedelta(rules.step, unit="us")
    table["max_gap"] = pd.to_timedelta(rules.max_gap, unit="us")
    table["samples"] = np.diff(samples.bounds)
    return table


def _time_in_bands(samples: _Samples, ev: _Eval, ws: int, we: int) -> pd.DataFrame:
    count = len(samples.series)
    held = np.clip(np.minimum(ev.run_t1, we) - np.maximum(ev.run_t0, ws), 0, None).astype(np.float64)
    per_status = np.bincount(ev.run_code * 4 + ev.run_status, weights=held, minlength=count * 4).reshape(count, 4)
    window = float(we - ws)
    table = samples.series.copy()
    minutes = per_status / _US_PER_MINUTE
    table["healthy_minutes"] = minutes[:, HEALTHY]
    table["warning_minutes"] = minutes[:, WARNING]
    table["critical_minutes"] = minutes[:, CRITICAL]
    table["no_data_minutes"] = (window - per_status.sum(axis=1)) / _US_PER_MINUTE
    for name in ("healthy", "warning", "critical", "no_data"):
        table[f"{name}_share"] = table[f"{name}_minutes"] / (window / _US_PER_MINUTE)
    table["window_minutes"] = window / _US_PER_MINUTE
    return table.sort_values(["component", "instance", "metric"], kind="stable").reset_index(drop=True)


_EPISODE_COLUMNS = [
    "component", "instance", "metric", "status", "start", "end", "duration", "samples", "peak", "peak_ts",
    "unit", "series_id",
]  # fmt: skip


def _episodes(
    samples: _Samples, rules: _Rules, ev: _Eval, bands: Mapping[str, Indicator], ws: int, we: int
) -> pd.DataFrame:
    t0 = np.maximum(ev.run_t0, ws)
    t1 = np.minimum(ev.run_t1, we)
    chosen = np.flatnonzero((ev.run_status >= WARNING) & (t1 > t0))
    if not len(chosen):
        empty = pd.DataFrame({column: [] for column in _EPISODE_COLUMNS})
        empty["status"] = pd.Categorical([], dtype=STATUS_DTYPE)
        return empty
    starts, lasts = ev.run_start[chosen], ev.run_last[chosen]
    code = ev.run_code[chosen]
    # Worst value per run, in "greater is worse" space; only samples inside the window count.
    x = ev.x
    x_in = np.where(samples.t >= ws, x, -np.inf) if ev.run_t0[chosen].min() < ws else x
    peak_all = np.maximum.reduceat(x_in, ev.run_start)
    hits = np.flatnonzero(x_in == np.repeat(peak_all, np.diff(np.append(ev.run_start, len(x)))))
    hit_run = np.searchsorted(ev.run_start, hits, side="right") - 1
    firsts = np.concatenate(([True], hit_run[1:] != hit_run[:-1]))
    peak_index = np.empty(len(ev.run_start), dtype=np.int64)
    peak_index[hit_run[firsts]] = hits[firsts]
    peak_x, peak_index = peak_all[chosen], peak_index[chosen]
    lone = np.isneginf(peak_x)  # every sample before the window, the last one's status holding into it
    peak_index[lone] = lasts[lone]
    peak_x[lone] = x[lasts[lone]]
    units = np.array([bands[m].unit for m in samples.series["metric"]], dtype=object)
    # Chronological, then by component / instance / metric: sort on numbers, not on strings.
    rank = _series_rank(samples.series)
    order = np.lexsort((rank[code], t0[chosen]))
    chosen, code, starts, lasts = chosen[order], code[order], starts[order], lasts[order]
    peak_x, peak_index = peak_x[order], peak_index[order]
    table = samples.series.iloc[code].reset_index(drop=True)
    table["status"] = pd.Categorical.from_codes(ev.run_status[chosen], dtype=STATUS_DTYPE)
    table["start"] = _timestamps(t0[chosen])
    table["end"] = _timestamps(t1[chosen])
    table["duration"] = pd.to_timedelta(t1[chosen] - t0[chosen], unit="us")
    table["samples"] = lasts - starts + 1
    table["peak"] = peak_x * rules.sign[code]
    table["peak_ts"] = _timestamps(samples.t[peak_index])
    table["unit"] = units[code]
    return table[_EPISODE_COLUMNS]


def _series_rank(series: pd.DataFrame) -> np.ndarray:
    """Each series' position when sorted by component, instance, metric, series_id."""
    order = series.sort_values(["component", "instance", "metric", "series_id"], kind="stable").index.to_numpy()
    rank = np.empty(len(series), dtype=np.int64)
    rank[order] = np.arange(len(series))
    return rank


# ---------------------------------------------------------------------------------------------------- public


def classify(
    source: Source,
    config: PlatformConfig,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    sustained: float | Mapping[str, float] | None = None,
    max_gap: timedelta | None = None,
) -> pd.DataFrame:
    """The status of every sample: columns ``band`` (by level alone) and ``status`` (after sustained rules).

    A frame comes back with its own rows, index and order (restricted to [start, end] when given) plus the two
    columns: rows of metrics without bands get NaN, rows with a NaN value "no data". A frame without ``ts`` is
    classified by level only (a sustained rule then is an error). A connection gives one row per sample of
    every banded series, ordered by series and time.
    """
    bands = indicator_bands(config)
    minutes = _sustained_minutes(bands, sustained)
    lo, hi = _to_us(start, "start"), _to_us(end, "end")
    lookback = _lookback_us(minutes, bands)
    samples = _load(source, bands, None if lo is None else lo - lookback, hi, need_ts=False)
    if samples.t is None:
        if lo is not None or hi is not None:
            raise DataError("frame: start and end need a 'ts' column")
        needing = sorted({m for m in samples.series["metric"] if minutes.get(m, 0.0) > 0})
        if needing:
            raise DataError(f"frame: the sustained rule of {needing} needs a 'ts' column")
        rules = _rules(samples, bands, minutes, max_gap)
        _, band = _band(samples, rules)
        status = band
    else:
        rules = _rules(samples, bands, minutes, max_gap)
        ev = _evaluate(samples, rules)
        band, status = ev.band, ev.status
        if not isinstance(source, pd.DataFrame):
            return _sample_frame(samples, ev, lo, hi)
    assert isinstance(source, pd.DataFrame) and samples.rows is not None
    band_code = np.full(len(source), -1, dtype=np.int8)
    status_code = np.full(len(source), -1, dtype=np.int8)
    banded = source["metric"].astype(str).isin(list(bands)).to_numpy()
    band_code[banded] = NO_DATA
    status_code[banded] = NO_DATA
    band_code[samples.rows] = band
    status_code[samples.rows] = status
    keep = np.ones(len(source), dtype=bool)
    if lo is not None or hi is not None:
        t = pd.DatetimeIndex(pd.to_datetime(source["ts"], utc=True)).as_unit("us").asi8
        if lo is not None:
            keep &= t >= lo
        if hi is not None:
            keep &= t <= hi
    result = source.iloc[np.flatnonzero(keep)].copy()
    result["band"] = pd.Categorical.from_codes(band_code[keep], dtype=STATUS_DTYPE)
    result["status"] = pd.Categorical.from_codes(status_code[keep], dtype=STATUS_DTYPE)
    return result


def time_in_bands(
    source: Source,
    config: PlatformConfig,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    sustained: float | Mapping[str, float] | None = None,
    max_gap: timedelta | None = None,
) -> pd.DataFrame:
    """Per series: minutes and share of [start, end] spent healthy, warning, critical and without data.

    The four shares of a row add up to 1: see ``assess`` for the window defaults and options.
    """
    return assess(source, config, start, end, sustained=sustained, max_gap=max_gap).time_in_bands


def episodes(
    source: Source,
    config: PlatformConfig,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    sustained: float | Mapping[str, float] | None = None,
    max_gap: timedelta | None = None,
) -> pd.DataFrame:
    """Warning and critical episodes: maximal runs of contiguous samples with the same status.

    ``start`` is the first sample's time, ``end`` when the status stopped holding (the next sample, or the
    last sample plus one step), both cut to the window; ``peak`` is the worst value (highest, or lowest for
    "below" indicators) and ``peak_ts`` its first time. Gaps up to ``max_gap`` do not split an episode.
    """
    return assess(source, config, start, end, sustained=sustained, max_gap=max_gap).episodes


def _newest_us(source: Source, metrics: list[str]) -> int | None:
    if isinstance(source, pd.DataFrame):
        if "ts" not in source or "metric" not in source:
            return None
        rows = source["metric"].astype(str).isin(metrics).to_numpy()
        stamps = pd.to_datetime(source.loc[rows, "ts"], utc=True)
        return None if stamps.empty or stamps.isna().all() else _to_us(stamps.max(), "ts")
    if isinstance(source, duckdb.DuckDBPyConnection):
        rows = source.sql(
            "SELECT epoch_us(max(ts)) FROM metric_samples WHERE series_id IN "
            "(SELECT series_id FROM metric_series WHERE metric IN (SELECT unnest(?)))",
            params=[metrics],
        ).fetchall()
        return None if not rows or rows[0][0] is None else int(rows[0][0])
    raise TypeError(f"source: expected a DuckDB connection or a DataFrame, got {type(source).__name__}")


def _has_metric(source: Source, metrics: list[str]) -> bool:
    if isinstance(source, pd.DataFrame):
        return "metric" in source and bool(source["metric"].astype(str).isin(metrics).any())
    rows = source.sql("SELECT count(*) FROM metric_series WHERE metric IN (SELECT unnest(?))", params=[metrics])
    return bool(rows.fetchall()[0][0])


_TREND_COLUMNS = [
    "component", "instance", "metric", "status", "rising", "earlier_mean", "later_mean", "slope_per_hour", "tau",
    "p_value", "buckets", "samples", "window_start", "window_end", "last_value", "last_ts", "detail", "series_id",
]  # fmt: skip


def evictions_trend(
    source: Source,
    config: PlatformConfig,
    as_of: Instant | None = None,
    *,
    alpha: float = 0.05,
    min_rise: float = 0.1,
) -> pd.DataFrame:
    """Are Redis evictions increasing over the last ``config.redis.evictions_trend_hours``? Rising means warning.

    ``redis_evictions`` is a rate (evictions per minute, as the metric catalogue computes it). The window ending
    at ``as_of`` (default: the newest eviction sample) and the window of the same length before it are each cut
    into 24 equal buckets (hours, for the default 24 h) and each bucket averaged, which damps minute-scale
    noise and its autocorrelation. Evictions follow the daily traffic cycle, and within one day the cycle alone
    looks like a trend, up or down depending on the hour the window starts. So each bucket is compared with
    the same bucket of the window before (the same hour of the previous day): the seasonal Mann-Kendall test
    (Hirsch, Slack & Smith 1982) with the 24 buckets as seasons, which for two windows is a sign test of the
    24 pairs, one-sided, p < ``alpha``. The series is rising when that holds and this window averages at least
    ``min_rise`` (10 %) above the one before (any rise from zero counts), so a tiny steady drift is no alarm.

    Without 8 buckets of the earlier window (less than two windows of history), the same is asked within the
    last window alone: Kendall's tau of bucket mean against time, its later half against its earlier half.
    ``slope_per_hour`` is, for scale, the median change between paired buckets per hour apart (Theil-Sen slope
    of the bucket means within one window). Fewer than 8 non-empty buckets give "no data"; a flat series is
    healthy.
    """
    hours = config.redis.evictions_trend_hours
    span = hours * 3_600_000_000
    metrics = {name: None for name in TREND_METRICS}
    as_of_us = _to_us(as_of, "as_of")
    if as_of_us is None:
        as_of_us = _newest_us(source, list(TREND_METRICS))
    if as_of_us is None:
        return _empty_trend()
    lo = as_of_us - span
    samples = _load(source, metrics, lo - span, as_of_us)
    rows = []
    for code, series in samples.series.iterrows():
        a, b = samples.bounds[code], samples.bounds[code + 1]
        t, v = samples.t[a:b], samples.v[a:b]
        before = t < lo
        previous = _bucket_means(t[before], v[before], lo - span, span)
        row = _seasonal_trend_row(t[~before], v[~before], previous, lo, span, hours, alpha, min_rise)
        rows.append({**series.to_dict(), **row})
    if not rows:
        return _empty_trend()
    table = pd.DataFrame(rows)
    table["status"] = pd.Categorical(table["status"], dtype=STATUS_DTYPE)
    table["window_start"] = _timestamps(np.full(len(table), lo))
    table["window_end"] = _timestamps(np.full(len(table), as_of_us))
    table["last_ts"] = _timestamps(table["last_ts"].to_numpy(dtype=np.int64))
    table = table[_TREND_COLUMNS]
    return table.sort_values(["component", "instance", "metric"], kind="stable").reset_index(drop=True)


def _empty_trend() -> pd.DataFrame:
    table = pd.DataFrame({column: [] for column in _TREND_COLUMNS})
    table["status"] = pd.Categorical([], dtype=STATUS_DTYPE)
    return table


def _bucket_sums(t: np.ndarray, v: np.ndarray, lo: int, span: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample count and value sum of each of the ``_TREND_BUCKETS`` equal buckets of [lo, lo + span]."""
    bucket = np.clip((t - lo) * _TREND_BUCKETS // span, 0, _TREND_BUCKETS - 1)
    return np.bincount(bucket, minlength=_TREND_BUCKETS), np.bincount(bucket, weights=v, minlength=_TREND_BUCKETS)


def _bucket_means(t: np.ndarray, v: np.ndarray, lo: int, span: int) -> np.ndarray:
    """Mean of each bucket (see ``_bucket_sums``); NaN where a bucket is empty."""
    counts, sums = _bucket_sums(t, v, lo, span)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _seasonal_trend_row(
    t: np.ndarray, v: np.ndarray, previous: np.ndarray, lo: int, span: int, hours: int, alpha: float,
    min_rise: float,
) -> dict[str, Any]:  # fmt: skip
    """This window's buckets against the same buckets of the window before; within-window when that is empty."""
    current = _bucket_means(t, v, lo, span)
    paired = np.isfinite(previous) & np.isfinite(current)
    if paired.sum() < _TREND_MIN_BUCKETS:
        row = _trend_row(t, v, lo, span, hours, alpha, min_rise)
        if row["status"] in ("healthy", "warning"):
            row["detail"] += f" (within the last {hours} h only: no earlier {hours} h to compare)"
        return row
    earlier, later = float(previous[paired].mean()), float(current[paired].mean())
    differences = current[paired] - previous[paired]
    signs = np.sign(differences)
    score, variance = float(signs.sum()), float(np.count_nonzero(signs))
    row: dict[str, Any] = {
        "earlier_mean": earlier, "later_mean": later, "buckets": int(paired.sum()), "samples": len(t),
        "last_value": float(v[-1]), "last_ts": int(t[-1]),
        "slope_per_hour": float(np.median(differences)) / hours, "tau": score / paired.sum(),
    }  # fmt: skip
    if variance == 0:
        return row | {"rising": False, "p_value": 1.0, "status": "healthy",
                      "detail": f"evictions unchanged from the {hours} h before: {later:.3g}/min"}  # fmt: skip
    z = (score - np.sign(score)) / math.sqrt(variance)  # with the continuity correction
    p_value = float(stats.norm.sf(z))
    grew = later >= earlier * (1 + min_rise) if earlier > 0 else later > 0
    rising = bool(p_value < alpha and grew)
    change = f" ({later / earlier - 1:+.0%})" if earlier > 0 else ""
    chance = "" if rising else ", which chance explains as well"
    detail = (
        f"evictions {'rising' if rising else 'not rising'}: {later:.3g}/min in the last {hours} h against "
        f"{earlier:.3g}/min the {hours} h before{change}; higher than at the same time before in "
        f"{int((signs > 0).sum())} of {int(paired.sum())} slots{chance} (seasonal Mann-Kendall p = {p_value:.2g})"
    )
    return row | {"rising": rising, "p_value": p_value, "status": "warning" if rising else "healthy",
                  "detail": detail}  # fmt: skip


def _trend_row(
    t: np.ndarray, v: np.ndarray, lo: int, span: int, hours: int, alpha: float, min_rise: float
) -> dict[str, Any]:
    nat = np.iinfo(np.int64).min
    row: dict[str, Any] = {
        "rising": False, "earlier_mean": np.nan, "later_mean": np.nan, "slope_per_hour": np.nan, "tau": np.nan,
        "p_value": np.nan, "buckets": 0, "samples": len(t),
        "last_value": float(v[-1]) if len(v) else np.nan, "last_ts": int(t[-1]) if len(t) else nat,
    }  # fmt: skip
    counts, sums = _bucket_sums(t, v, lo, span)
    filled = counts > 0
    row["buckets"] = int(filled.sum())
    if row["buckets"] < _TREND_MIN_BUCKETS:
        return row | {
            "status": "no data",
            "detail": f"only {row['buckets']} of {_TREND_BUCKETS} buckets of the last {hours} h have samples",
        }
    half = _TREND_BUCKETS // 2
    earlier = float(sums[:half].sum() / max(counts[:half].sum(), 1))
    later = float(sums[half:].sum() / max(counts[half:].sum(), 1))
    row |= {"earlier_mean": earlier, "later_mean": later}
    means = sums[filled] / counts[filled]
    centres = (np.flatnonzero(filled) + 0.5) * hours / _TREND_BUCKETS
    if np.ptp(means) == 0:
        return row | {"status": "healthy", "slope_per_hour": 0.0, "detail": f"flat at {means[0]:g}/min"}
    tau, p_value = stats.kendalltau(centres, means, alternative="greater")
    slope = float(stats.theilslopes(means, centres).slope)
    grew = later >= earlier * (1 + min_rise) if earlier > 0 else later > 0
    rising = bool(p_value < alpha and grew)
    row |= {"tau": float(tau), "p_value": float(p_value), "slope_per_hour": slope, "rising": rising}
    change = f" ({later / earlier - 1:+.0%})" if earlier > 0 else ""
    verdict = "rising" if rising else "not rising"
    detail = (
        f"evictions {verdict}: {earlier:.3g}/min -> {later:.3g}/min{change} over {hours} h "
        f"(Mann-Kendall p = {p_value:.2g})"
    )
    return row | {"status": "warning" if rising else "healthy", "detail": detail}


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
    minutes = _sustained_minutes(bands, sustained)
    everything = [*bands, *TREND_METRICS]
    as_of_us = _to_us(as_of, "as_of")
    if as_of_us is None:
        as_of_us = _newest_us(source, everything)
    if window <= timedelta(0):
        raise DataError(f"window: expected a positive duration, got {window}")
    parts = []
    if as_of_us is not None and _has_metric(source, list(bands)):
        window_us = window // timedelta(microseconds=1)
        lo = as_of_us - window_us - _lookback_us(minutes, bands)
        samples = _load(source, bands, lo, as_of_us)
        rules = _rules(samples, bands, minutes, max_gap)
        parts.append(_level_status(samples, rules, _evaluate(samples, rules), bands, minutes, as_of_us, window_us))
    elif as_of_us is None and isinstance(source, pd.DataFrame):
        _load(source, bands, None, None)  # raises the DataError that says what is wrong with the frame
    if as_of_us is not None and _has_metric(source, list(TREND_METRICS)):
        trend = evictions_trend(source, config, _stamp(as_of_us))
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
    table["status"] = pd.Categorical(table["status"], dtype=STATUS_DTYPE)
    return table.sort_values(["component", "instance", "metric"], kind="stable").reset_index(drop=True)


def _level_status(
    samples: _Samples,
    rules: _Rules,
    ev: _Eval,
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
                    "detail": f"no samples in the {hours:g} h before {_stamp(as_of):%Y-%m-%d %H:%M} UTC",
                }
            )  # fmt: skip
            continue
        last = b - 1
        run = int(np.searchsorted(ev.run_start, last, side="right") - 1)
        value, ts = float(samples.v[last]), int(samples.t[last])
        row |= {"value": value, "ts": _stamp(ts)}
        if as_of - ts > rules.max_gap[code]:
            stopped = ts + int(rules.step[code])
            rows.append(
                row
                | {
                    "status": "no data",
                    "since": _stamp(stopped),
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
            hot_minutes = (ts - int(samples.t[first])) / _US_PER_MINUTE
        rows.append(
            row
            | {
                "status": STATUSES[status],
                "since": _stamp(since),
                "since_clipped": clipped,
                "detail": _level_detail(value, indicator, band, status, hot_minutes, minutes.get(series.metric, 0.0)),
            }
        )
    return pd.DataFrame(rows, columns=_STATUS_COLUMNS)


def reading(value: float, level: float) -> str:
    """``value`` rounded for a reader (one decimal, or as many more as it takes to stay on the same side of
    ``level``): 33.2063 next to 70 reads "33.2"; 69.96 next to 70 reads "69.96", never "70"."""
    for decimals in range(1, 7):
        text = f"{value:.{decimals}f}"
        if (float(text) > level) == (value > level) and (float(text) < level) == (value < level):
            return text.rstrip("0").rstrip(".") if "." in text else text
    return f"{value:g}"


def _level_detail(value: float, indicator: Indicator, band: int, status: int, hot: float, sustained: float) -> str:
    above = indicator.direction == "above"
    nearest = indicator.warning if band != CRITICAL else indicator.critical
    shown = f"{reading(value, nearest)} {indicator.unit}"
    if band == CRITICAL:
        side = "above" if above else "below"
        if status == CRITICAL:
            return f"{shown}, {side} critical {indicator.critical:g}"
        return f"{shown}, {side} critical {indicator.critical:g} for {hot:g} min; critical after {sustained:g} min"
    if band == WARNING:
        side = "at or above" if above else "at or below"
        return f"{shown}, {side} warning {indicator.warning:g}"
    side = "below" if above else "above"
    return f"{shown}, {side} warning {indicator.warning:g}"


# ---------------------------------------------------------------------------------------------------- rollup


@dataclass(frozen=True, eq=False)
class HealthRollup:
    """Worst status wins: the platform's status and its cause, and the same per component (``components``)."""

    status: str
    component: str | None
    instance: str | None
    metric: str | None
    detail: str
    components: pd.DataFrame

    @property
    def cause(self) -> str:
        """What made the platform's status, in words."""
        if self.component is None:
            return self.detail
        what = f"{self.metric} on {self.component}/{self.instance}" if self.metric else self.component
        return f"{what}: {self.detail}"

    def __repr__(self) -> str:
        shown = self.components[["component", "status", "metric", "instance", "detail"]]
        lines = [f"HealthRollup(platform {self.status}: {self.cause})"]
        if len(shown):
            lines.append(shown.to_string(index=False))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        header = f"<p><b>platform {self.status}</b>: {self.cause}</p>"
        return header + self.components.to_html(index=False)


def rollup(status_table: pd.DataFrame, config: PlatformConfig | None = None) -> HealthRollup:
    """Per component and for the platform, the worst status of ``status_table`` (from ``current_status``).

    Severity: critical > warning > no data > healthy (a silent series is not a healthy one). Ties go to the
    status that began first, then by component, instance and metric. With ``config``, every configured
    component is listed, and one without any series is "no data".
    """
    missing = [column for column in ("component", "metric", "status") if column not in status_table]
    if missing:
        raise DataError(f"status table: missing column(s) {missing}; pass the result of current_status")
    table = status_table.copy()
    for column, default in (("instance", ""), ("detail", ""), ("value", np.nan), ("since", pd.NaT)):
        if column not in table:
            table[column] = default
    unknown = sorted(set(table["status"].astype(str)) - set(STATUSES))
    if unknown:
        raise DataError(f"status table: unknown status(es) {unknown}; expected one of {list(STATUSES)}")
    status = pd.Categorical(table["status"].astype(str), dtype=STATUS_DTYPE)
    table["rank"] = status.codes
    table["status"] = status
    table = table.sort_values(
        ["rank", "since", "component", "instance", "metric"],
        ascending=[False, True, True, True, True],
        na_position="last",
        kind="stable",
    )
    names = list(config.components) if config is not None else []
    names += sorted(set(table["component"].astype(str)) - set(names))
    counts = table.groupby("component", observed=False)["status"].value_counts().unstack(fill_value=0)
    worst = table.drop_duplicates("component").set_index("component")
    rows = []
    for name in names:
        if name in worst.index and worst.loc[name, "status"] == "healthy":
            row = {
                "component": name, "status": "healthy", "metric": None, "instance": None, "value": np.nan,
                "since": pd.NaT, "since_clipped": False, "detail": f"all {int(counts.loc[name].sum())} series healthy",
                "series": int(counts.loc[name].sum()),
            }  # fmt: skip
            row |= {key.replace(" ", "_"): int(counts.loc[name].get(key, 0)) for key in STATUSES}
        elif name in worst.index:
            cause = worst.loc[name]
            row = {
                "component": name,
                "status": str(cause["status"]),
                "metric": cause["metric"],
                "instance": cause["instance"],
                "value": cause["value"],
                "since": cause["since"],
                "since_clipped": bool(cause["since_clipped"]) if "since_clipped" in cause.index else False,
                "detail": cause["detail"],
                "series": int(counts.loc[name].sum()),
            }
            row |= {key.replace(" ", "_"): int(counts.loc[name].get(key, 0)) for key in STATUSES}
        else:
            row = {
                "component": name, "status": "no data", "metric": None, "instance": None, "value": np.nan,
                "since": pd.NaT, "since_clipped": False, "detail": "no series for this component", "series": 0,
            }  # fmt: skip
            row |= {key.replace(" ", "_"): 0 for key in STATUSES}
        rows.append(row)
    components = pd.DataFrame(rows)
    if components.empty:
        return HealthRollup("no data", None, None, None, "no series and no configured components", components)
    components["status"] = pd.Categorical(components["status"], dtype=STATUS_DTYPE)
    components["since"] = pd.to_datetime(components["since"], utc=True)
    ranked = components.assign(rank=components["status"].cat.codes).sort_values(
        ["rank", "since"], ascending=[False, True], na_position="last", kind="stable"
    )
    top = ranked.iloc[0]
    if top["status"] == "healthy":
        return HealthRollup(
            "healthy", None, None, None, f"all {int(components['series'].sum())} series healthy", components
        )
    return HealthRollup(str(top["status"]), top["component"], top["instance"], top["metric"], top["detail"], components)
