"""Forecast input, from raw points to a clean regular series: grid, checks, gaps and bounds.

A signal's (date, value) points are placed on a regular daily or hourly grid (``_grid``, ``_as_series``),
then checked and repaired (``_clean``): empty, infinite, out-of-bounds or too-sparse series raise ``DataError``,
history before a long gap is dropped, short gaps are interpolated. ``_clip`` keeps forecasts inside the bounds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sre_lib.analysis.signals import Freq
from sre_lib.errors import DataError

Bounds = tuple[float | None, float | None]

PERIOD = {"D": pd.Timedelta(days=1), "h": pd.Timedelta(hours=1)}
UNIT_NAME = {"D": "day", "h": "hour"}
MIN_POINTS = 3  # fewer: DataError
MAX_MISSING_FRACTION = 0.5  # more missing (after dropping history before a long gap): DataError


def _grid(dates: pd.DatetimeIndex, values: np.ndarray, freq: Freq) -> tuple[pd.Timestamp, np.ndarray]:
    """Place (date, value) points on a regular grid: (first date, values with NaN where missing)."""
    if len(dates) == 0:
        raise DataError("empty series: nothing to forecast")
    if dates.hasnans:
        raise DataError("series has missing dates (NaT)")
    order = np.argsort(dates.asi8, kind="stable")
    dates, values = dates[order], np.asarray(values, dtype=float)[order]
    if dates.has_duplicates:
        raise DataError(f"duplicate dates in the series, e.g. {dates[dates.duplicated()][0]}")
    if freq == "D" and dates.tz is None and not (dates == dates.normalize()).all():
        raise DataError("daily signal dates must be midnights: aggregate samples with capacity_signal first")
    step = PERIOD[freq]
    offsets = (dates - dates[0]) / step
    if not np.allclose(offsets, np.round(offsets)):
        raise DataError(f"dates are not whole {UNIT_NAME[freq]}s apart: aggregate with capacity_signal first")
    index = np.round(np.asarray(offsets, dtype=float)).astype(np.int64)
    grid = np.full(int(index[-1]) + 1, np.nan)
    grid[index] = values
    return dates[0], grid


def _as_series(signal: pd.DataFrame | pd.Series, date: str, value: str) -> tuple[pd.DatetimeIndex, np.ndarray]:
    if isinstance(signal, pd.Series):
        dates, values = signal.index, signal.to_numpy()
    elif isinstance(signal, pd.DataFrame):
        if value not in signal.columns:
            raise DataError(f"signal lacks a {value!r} column; has {list(signal.columns)}")
        dates = signal[date] if date in signal.columns else signal.index
        values = signal[value].to_numpy()
    else:
        raise DataError(f"signal: expected a DataFrame (date, value) or a Series, got {type(signal).__name__}")
    try:
        index = pd.DatetimeIndex(dates)
    except (TypeError, ValueError) as exc:
        raise DataError(f"signal dates are not dates: {exc}") from None
    try:
        numbers = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"signal values are not numbers: {exc}") from None
    return index, numbers


@dataclass
class _Clean:
    y: np.ndarray
    start: int  # index into the regular grid of the first point kept
    interpolated: np.ndarray
    notes: list[str]


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _clean(grid: np.ndarray, bounds: Bounds, max_gap: int, unit: str) -> _Clean:
    """Check a series on its regular grid (NaN = missing), drop history before a long gap, interpolate."""
    values = np.asarray(grid, dtype=float)
    if len(values) == 0:
        raise DataError("empty series: nothing to forecast")
    if np.isinf(values).any():
        raise DataError(f"{_count(int(np.isinf(values).sum()), 'infinite value')}: expected finite numbers")
    present = ~np.isnan(values)
    if not present.any():
        raise DataError(f"all {len(values)} values are missing (NaN): nothing to forecast")
    lower, upper = bounds
    if lower is not None and (below := values[present] < lower).any():
        first = int(np.flatnonzero(present)[np.argmax(below)])
        raise DataError(
            f"{_count(int(below.sum()), 'value')} below {lower:g} (first at {unit} {first}: {values[first]:g}): "
            "impossible for this series"
        )
    if upper is not None and (above := values[present] > upper).any():
        first = int(np.flatnonzero(present)[np.argmax(above)])
        raise DataError(
            f"{_count(int(above.sum()), 'value')} above {upper:g} (first at {unit} {first}: {values[first]:g}): "
            "impossible for this series"
        )
    notes: list[str] = []
    index = np.flatnonzero(present)
    values = values[index[0] : index[-1] + 1]
    start = int(index[0])
    present = ~np.isnan(values)
    index = np.flatnonzero(present)
    gaps = np.diff(index) - 1
    long = np.flatnonzero(gaps > max_gap)
    if len(long):
        cut = int(index[long[-1] + 1])
        notes.append(
            f"history before {unit} {start + cut} dropped: a gap of {int(gaps[long[-1]])} {unit}s "
            f"(longer than {max_gap}) precedes it"
        )
        values, start = values[cut:], start + cut
        present = ~np.isnan(values)
    missing = int((~present).sum())
    if present.sum() < MIN_POINTS:
        raise DataError(f"only {int(present.sum())} usable points: a forecast needs at least {MIN_POINTS}")
    if missing > MAX_MISSING_FRACTION * len(values):
        raise DataError(
            f"too sparse: {missing} of {len(values)} {unit}s missing "
            f"(more than {MAX_MISSING_FRACTION:.0%}); cannot interpolate honestly"
        )
    if missing:
        index = np.flatnonzero(present)
        values = values.copy()
        values[~present] = np.interp(np.flatnonzero(~present), index, values[index])
        notes.append(f"{_count(missing, 'missing ' + unit)} interpolated linearly")
    return _Clean(y=values, start=start, interpolated=~present, notes=notes)


def _check_bounds(bounds: Bounds | None) -> Bounds:
    """Validate a (lower, upper) pair; None means unbounded both ways."""
    if bounds is None:
        return (None, None)
    lower, upper = bounds
    if lower is not None and upper is not None and not lower < upper:
        raise DataError(f"bounds: expected lower < upper, got {bounds!r}")
    return (None if lower is None else float(lower), None if upper is None else float(upper))


def _clip(values: np.ndarray, bounds: Bounds) -> np.ndarray:
    """Clip forecast values to the physically possible range."""
    lower, upper = bounds
    if lower is None and upper is None:
        return values
    return np.clip(values, -np.inf if lower is None else lower, np.inf if upper is None else upper)
