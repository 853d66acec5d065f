"""Demand traces: a tier's demand from warehouse samples, and the checks every simulated series passes.

Load model. The app tier's *demand* is measured in "server-CPU-percent" of the tier's current server size:
the sum over servers of their CPU % (two servers at 60 % = 120). A NaN demand sample is a stretch without
monitoring data (``tier_demand`` gives one where a server went unscraped): unknown load, never zero load.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sre_lib.errors import DataError


def tier_demand(
    samples: pd.DataFrame,
    component: str = "app",
    metric: str = "cpu",
    *,
    fill_limit: int = 5,
) -> pd.Series:
    """Total demand of a tier in server-CPU-percent: per timestamp, the sum of its servers' CPU %.

    ``samples`` is long format (``series.read_samples``: component, instance, metric, ts, value). The result
    is evenly spaced at the most common sampling step. A server counts from its first to its last sample (one
    that joins or leaves mid-way adds nothing outside its span). Inside that span a hole of up to
    ``fill_limit`` missing samples (a NaN value counts as missing) carries the last value forward; during a
    longer hole the tier's demand is unknown, NaN: neither guessed across the hole nor counted as zero load.
    """
    needed = {"component", "instance", "metric", "ts", "value"}
    if not isinstance(samples, pd.DataFrame) or not needed <= set(samples.columns):
        raise DataError(f"samples: expected a DataFrame with columns {sorted(needed)}")
    if not isinstance(fill_limit, numbers.Integral) or fill_limit < 0:
        raise ValueError(f"fill_limit: expected a whole number of samples >= 0, got {fill_limit!r}")
    rows = samples[(samples["component"] == component) & (samples["metric"] == metric)]
    values = as_floats("samples value", rows["value"])
    rows = rows[~np.isnan(values)]
    if rows.empty:
        raise DataError(f"samples: no {metric!r} samples for component {component!r}")
    check_values(f"{component} {metric}", values[~np.isnan(values)], pd.Index(rows["ts"]), 100.0)
    wide = rows.pivot_table(index="ts", columns="instance", values="value", aggfunc="mean").sort_index()
    if len(wide) > 2:  # put back instants no server reported, so holes show and the result is evenly spaced
        gaps = np.diff(wide.index.as_unit("ns").asi8)
        steps, counts = np.unique(gaps, return_counts=True)
        step = pd.Timedelta(int(steps[np.argmax(counts)]))
        wide = wide.reindex(pd.date_range(wide.index[0], wide.index[-1], freq=step, name="ts"))
    for instance in wide.columns:
        column = wide[instance].to_numpy()
        present = ~np.isnan(column)
        first, last = int(np.argmax(present)), len(present) - int(np.argmax(present[::-1]))
        inside = _fill_short_holes(column[first:last], fill_limit)
        wide[instance] = np.concatenate([np.zeros(first), inside, np.zeros(len(column) - last)])
    demand = wide.sum(axis=1, skipna=False)
    demand.name = "demand"
    return demand


def _fill_short_holes(values: np.ndarray, limit: int) -> np.ndarray:
    """``values`` with each run of at most ``limit`` NaNs replaced by the value before it; longer runs stay NaN."""
    missing = np.isnan(values)
    if not missing.any() or limit == 0:
        return values
    starts = np.flatnonzero(missing & ~np.r_[False, missing[:-1]])
    ends = np.flatnonzero(missing & ~np.r_[missing[1:], False]) + 1
    filled = values.copy()
    for start, end in zip(starts, ends, strict=True):
        if end - start <= limit and start > 0:  # start > 0 always holds inside a span: it begins with a sample
            filled[start:end] = values[start - 1]
    return filled


def as_floats(what: str, values: pd.Series) -> np.ndarray:
    """A column as float64 (NaN for missing), or DataError when it is not numeric."""
    try:
        return values.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        raise DataError(f"{what}: expected numbers, got values of type {values.dtype}") from None


def check_values(
    what: str, values: np.ndarray, times: pd.Index, upper: float | None = None, *, unknown_allowed: bool = False
) -> None:
    """DataError for NaN, infinite or negative values (and above ``upper``), naming the first offender.

    With ``unknown_allowed`` NaN marks an unknown value and is accepted, as long as some value is known.
    """
    if len(values) == 0:
        raise DataError(f"{what}: empty series")
    if unknown_allowed:
        if np.isnan(values).all():
            raise DataError(f"{what}: every value is unknown (NaN), from {times[0]} to {times[-1]}")
        values, times = values[~np.isnan(values)], times[~np.isnan(values)]
    finite = np.isfinite(values)
    if not finite.all():
        bad = int(np.argmin(finite))
        kind = "missing (NaN)" if np.isnan(values[bad]) else "infinite"
        raise DataError(f"{what}: {int((~finite).sum())} {kind} value(s), first at {times[bad]}")
    if (values < 0).any():
        bad = int(np.argmax(values < 0))
        raise DataError(f"{what}: negative value {values[bad]:g} at {times[bad]} (load cannot be negative)")
    if upper is not None and (values > upper + 1e-9).any():
        bad = int(np.argmax(values > upper + 1e-9))
        raise DataError(f"{what}: value {values[bad]:g} at {times[bad]} is above {upper:g}")


@dataclass(frozen=True, eq=False)
class Trace:
    """A checked demand trace: its times, read-only values (NaN where unknown) and sampling step."""

    times: pd.DatetimeIndex
    demand: np.ndarray
    step_seconds: float


def as_trace(demand: pd.Series) -> Trace:
    """``demand`` checked and copied: a time-indexed, evenly spaced Series of loads >= 0 (NaN: unknown)."""
    if not isinstance(demand, pd.Series) or not isinstance(demand.index, pd.DatetimeIndex):
        raise DataError("demand: expected a pandas Series indexed by time (a DatetimeIndex)")
    values = as_floats("demand", demand).copy()  # results keep it: never a view of the caller's data
    check_values("demand", values, demand.index, unknown_allowed=True)
    index = demand.index
    if len(index) == 1:
        if index.freq is None:
            raise DataError("demand: a single sample has no sampling step; give the index a freq")
        step = pd.Timedelta(index.freq).total_seconds()
    else:
        gaps = np.diff(index.as_unit("ns").asi8)
        if (gaps <= 0).any():
            bad = int(np.argmax(gaps <= 0))
            raise DataError(f"demand: timestamps must increase strictly; {index[bad + 1]} follows {index[bad]}")
        if (gaps != gaps[0]).any():
            bad = int(np.argmax(gaps != gaps[0]))
            raise DataError(
                f"demand: samples must be evenly spaced (step {pd.Timedelta(int(gaps[0]))}), but "
                f"{pd.Timedelta(int(gaps[bad]))} separate {index[bad]} and {index[bad + 1]}; resample first, "
                "e.g. demand.resample('1min').mean().interpolate()"
            )
        step = pd.Timedelta(int(gaps[0])).total_seconds()
    values.setflags(write=False)
    return Trace(index, values, step)


def samples_in(seconds: float, step_seconds: float) -> int:
    """A duration in whole samples, rounded up (with a little slack for float seconds)."""
    return max(0, math.ceil(seconds / step_seconds - 1e-9))
