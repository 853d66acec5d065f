"""Forecasts for a thousand series at once, spread over worker processes; one tidy frame back."""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace

import numpy as np
import pandas as pd

from sre_lib.analysis.forecast.blas_threads import _single_threaded_blas
from sre_lib.analysis.forecast.one_series import SEASON, _check_horizon, _date_notes, _forecast_grid, _Result
from sre_lib.analysis.forecast.series_cleaning import PERIOD, Bounds, _check_bounds, _grid
from sre_lib.analysis.signals import Freq, signal_frequency
from sre_lib.errors import DataError


def _forecast_chunk(
    items: list[tuple[int, np.ndarray | str]],
    freq: Freq,
    m: int,
    horizon: int,
    bounds: Bounds,
    max_gap: int | None,
    refit: bool,
) -> list[tuple[int, _Result | str]]:
    """Worker: forecast each (position, grid) item; a DataError becomes its message."""
    out: list[tuple[int, _Result | str]] = []
    with _single_threaded_blas():
        for position, grid in items:
            if isinstance(grid, str):
                out.append((position, grid))
                continue
            try:
                result = _forecast_grid(grid, freq, m, horizon, bounds, max_gap, refit)
                result.backtest = replace(result.backtest, detail={})  # per-point detail stays in the worker
                out.append((position, result))
            except DataError as exc:
                out.append((position, str(exc)))
    return out


def _default_workers() -> int:
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    return max(1, min(2, available))


def forecast_many(
    signals: pd.DataFrame,
    horizon: int = 90,
    *,
    keys: Sequence[str] | None = None,
    freq: str = "D",
    season: int | None = None,
    bounds: Bounds | Mapping[str, Bounds] | None = None,
    bounds_by: str = "metric",
    max_gap: int | None = None,
    refit: bool = False,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    date: str = "date",
    value: str = "value",
) -> pd.DataFrame:
    """Forecast every series of a tidy signal frame; one tidy frame of forecasts back.

    ``signals``: key columns (default: every column but date, value and samples) + ``date`` + ``value``, e.g.
    what ``daily_signal`` returns. ``bounds``: one pair for all series, or a mapping from the ``bounds_by``
    column's value (a metric name) to a pair. Work is spread over ``workers`` processes (default: up to 2 CPUs)
    when there are enough series; ``progress(done, total)`` is called as series finish.

    Result: one row per series and forecast date with ``*keys, date, mean, lo80, hi80, lo95, hi95, model,
    trustworthy, reason, mase, mase_in_sample, coverage80, coverage95, notes``. A series that cannot be forecast (a
    ``DataError``) gets one row with no date, model ``'none'`` and the error as its reason, so one bad series
    never sinks the batch. ``forecast_summary`` reduces it to one row per series.
    """
    frequency = signal_frequency(freq)
    steps = _check_horizon(horizon)
    m = SEASON[frequency] if season is None else int(season)
    missing = [c for c in (date, value) if c not in signals.columns]
    if missing:
        raise DataError(f"signals lack columns {missing}; expected key columns, {date!r} and {value!r}")
    key_columns = list(keys) if keys is not None else [c for c in signals.columns if c not in (date, value, "samples")]
    if not key_columns:
        raise DataError("signals need at least one key column naming the series (e.g. metric)")
    if bounds_by not in key_columns and isinstance(bounds, Mapping):
        raise DataError(f"bounds by {bounds_by!r}: not one of the key columns {key_columns}")
    groups = signals.groupby(key_columns, sort=True, dropna=False, observed=True).indices
    all_dates = pd.DatetimeIndex(signals[date])
    all_values = signals[value].to_numpy(dtype=float, na_value=np.nan)
    series_keys: list[tuple[object, ...]] = []
    firsts: list[pd.Timestamp | None] = []
    jobs: dict[Bounds, list[tuple[int, np.ndarray | str]]] = {}
    for position, (key, rows) in enumerate(groups.items()):
        key_tuple = key if isinstance(key, tuple) else (key,)
        series_keys.append(key_tuple)
        if isinstance(bounds, Mapping):
            limits = _check_bounds(bounds.get(key_tuple[key_columns.index(bounds_by)]))
        else:
            limits = _check_bounds(bounds)
        try:
            first, grid = _grid(all_dates[rows], all_values[rows], frequency)
            firsts.append(first)
            jobs.setdefault(limits, []).append((position, grid))
        except DataError as exc:
            firsts.append(None)
            jobs.setdefault(limits, []).append((position, str(exc)))
    total = len(series_keys)
    results: dict[int, _Result | str] = {}
    pool_size = _default_workers() if workers is None else max(1, int(workers))
    if total < 20:
        pool_size = 1
    tasks = []
    for limits, items in jobs.items():
        size = max(5, math.ceil(len(items) / (pool_size * 8)))
        tasks += [(items[i : i + size], limits) for i in range(0, len(items), size)]
    done = 0
    if pool_size == 1:
        for items, limits in tasks:
            for position, result in _forecast_chunk(items, frequency, m, steps, limits, max_gap, refit):
                results[position] = result
            done += len(items)
            if progress:
                progress(done, total)
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=pool_size, mp_context=context) as pool:
            futures = {
                pool.submit(_forecast_chunk, items, frequency, m, steps, limits, max_gap, refit): len(items)
                for items, limits in tasks
            }
            for future in as_completed(futures):
                for position, result in future.result():
                    results[position] = result
                done += futures[future]
                if progress:
                    progress(done, total)
    return _tidy(series_keys, firsts, results, key_columns, frequency, steps)


def _tidy(
    series_keys: list[tuple[object, ...]],
    firsts: list[pd.Timestamp | None],
    results: Mapping[int, _Result | str],
    key_columns: list[str],
    freq: Freq,
    horizon: int,
) -> pd.DataFrame:
    step = PERIOD[freq]
    rows_per = [horizon if isinstance(results[i], _Result) else 1 for i in range(len(series_keys))]
    repeat = np.asarray(rows_per)
    columns: dict[str, object] = {}
    for k, name in enumerate(key_columns):
        columns[name] = pd.Series([key[k] for key in series_keys]).repeat(repeat).to_numpy()
    dates: list[pd.Timestamp] = []
    numbers = {name: [] for name in ("mean", "lo80", "hi80", "lo95", "hi95")}
    per_series: dict[str, list[object]] = {
        "model": [],
        "trustworthy": [],
        "reason": [],
        "mase": [],
        "mase_in_sample": [],
        "coverage80": [],
        "coverage95": [],
        "notes": [],
    }
    nan_block = np.full(1, np.nan)
    for i in range(len(series_keys)):
        result = results[i]
        if isinstance(result, _Result):
            first = firsts[i]
            assert first is not None
            last = first + step * (result.start + len(result.y) - 1)
            dates.extend(last + step * np.arange(1, horizon + 1))
            for name in numbers:
                numbers[name].append(getattr(result, name))
            summary = [
                result.model,
                result.trustworthy,
                result.reason,
                result.backtest.mase,
                result.backtest.mase_in_sample,
                result.backtest.coverage80,
                result.backtest.coverage95,
                "; ".join(_date_notes(result.notes, firsts[i], step)),
            ]
        else:
            dates.append(pd.NaT)
            for name in numbers:
                numbers[name].append(nan_block)
            first = firsts[i]
            reason = result if first is None else _date_notes([result], first, step)[0]
            summary = ["none", False, reason, math.nan, math.nan, math.nan, math.nan, ""]
        for name, item in zip(per_series, summary, strict=True):
            per_series[name].append(item)
    columns["date"] = pd.DatetimeIndex(dates) if dates else pd.DatetimeIndex([])
    for name, parts in numbers.items():
        columns[name] = np.concatenate(parts) if parts else np.zeros(0)
    for name, items in per_series.items():
        columns[name] = np.repeat(np.asarray(items, dtype=object), repeat)
    frame = pd.DataFrame(columns)
    for name in ("mase", "mase_in_sample", "coverage80", "coverage95"):
        frame[name] = frame[name].astype(float)
    frame["trustworthy"] = frame["trustworthy"].astype(bool)
    frame["model"] = frame["model"].astype(str)
    frame["reason"] = frame["reason"].astype(str)
    frame["notes"] = frame["notes"].astype(str)
    return frame


def forecast_summary(forecasts: pd.DataFrame, keys: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per series of a ``forecast_many`` result: model, trust, backtest figures, forecast at the end."""
    key_columns = list(keys) if keys is not None else list(forecasts.columns[: forecasts.columns.get_loc("date")])
    last = forecasts.groupby(key_columns, sort=False, dropna=False, observed=True).tail(1)
    return last.rename(columns={"date": "horizon_end", "mean": "mean_at_end"}).reset_index(drop=True)
