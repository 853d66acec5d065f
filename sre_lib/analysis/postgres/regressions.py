"""Regressions and new slow statements: a window of pg_stat_statements history against a baseline window.

Regressions are judged by a one-sided Mann-Whitney U test (``scipy.stats.mannwhitneyu``,
``alternative="greater"``) of the statement's per-interval mean execution times in the window against those
in the baseline window (see ``queries`` for why per-interval means); an effect-size floor keeps tiny but
significant changes out. Windows default to DEFAULT_COMPARISON_WINDOW ending at the latest snapshot, the
baseline to the window of the same length just before it.

A baseline that holds no snapshot interval (the first days of collection, a baseline before the history) is
no error: nothing can be judged new or regressed against it, so both give their columns and no rows. A
snapshot spacing of seconds works as well as one of 15 minutes: the test counts intervals, not hours.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from sre_lib.analysis.postgres.snapshots import Instant, PgWindow, as_of, resolve_server, to_utc
from sre_lib.analysis.postgres.statement_windows import (
    STATEMENT_GROUP,
    aggregate_statements,
    intervals_between,
    snapshot_flags,
    statement_intervals,
)

__all__ = [
    "DEFAULT_COMPARISON_WINDOW",
    "NEW_SLOW_MEAN_MS",
    "NEW_SLOW_MIN_CALLS",
    "REGRESSION_ALPHA",
    "REGRESSION_MIN_INCREASE_MS",
    "REGRESSION_MIN_INTERVALS",
    "REGRESSION_MIN_RATIO",
    "REGRESSION_TEST",
    "new_slow_statements",
    "regressions",
    "statement_comparison",
]

#: Comparison windows default to this length, ending at the latest snapshot; the baseline precedes the window.
DEFAULT_COMPARISON_WINDOW = timedelta(days=7)

#: New slow statement: mean above this over the window ...
NEW_SLOW_MEAN_MS = 50.0
#: ... with at least this many calls, and absent from the baseline or faster than NEW_SLOW_MEAN_MS there.
NEW_SLOW_MIN_CALLS = 50

#: Regression: the one-sided Mann-Whitney U test of per-interval means must give p below this ...
REGRESSION_ALPHA = 0.01
#: ... and the window's mean must be at least this many times the baseline's ...
REGRESSION_MIN_RATIO = 1.5
#: ... and at least this many milliseconds above it ...
REGRESSION_MIN_INCREASE_MS = 5.0
#: ... with at least this many intervals with calls on each side (5 and 5 is the smallest exact test that
#: can reach p < 0.01: 1 / C(10, 5) = 0.004).
REGRESSION_MIN_INTERVALS = 5
REGRESSION_TEST = "Mann-Whitney U, one-sided (window > baseline), per-interval mean exec time"


def _windows(
    con: duckdb.DuckDBPyConnection,
    server: str,
    start: Instant | None,
    end: Instant | None,
    baseline_start: Instant | None,
    baseline_end: Instant | None,
) -> tuple[PgWindow, PgWindow]:
    """The window (default: DEFAULT_COMPARISON_WINDOW ending at the latest snapshot) and its baseline
    (default: as long, just before it), both closed."""
    end_ = to_utc(end, "end") or as_of(con, "pg_snapshots", server, None)
    start_ = to_utc(start, "start") or end_ - DEFAULT_COMPARISON_WINDOW
    if start_ >= end_:
        raise ValueError(f"window: start ({start_}) must be before end ({end_})")
    b_end = to_utc(baseline_end, "baseline_end") or start_
    b_start = to_utc(baseline_start, "baseline_start") or b_end - (end_ - start_)
    if b_start >= b_end:
        raise ValueError(f"baseline window: start ({b_start}) must be before end ({b_end})")
    return PgWindow(server, start_, end_), PgWindow(server, b_start, b_end)


_KEY = [c for c in STATEMENT_GROUP if c != "datname"]


def _compared(
    con: duckdb.DuckDBPyConnection,
    server: str,
    start: Instant | None,
    end: Instant | None,
    baseline_start: Instant | None,
    baseline_end: Instant | None,
) -> tuple[pd.DataFrame, pd.DataFrame, tuple[PgWindow, PgWindow]]:
    """Window statements merged with their baseline totals, the per-interval frame of both, and the windows.

    No rows when the baseline holds no snapshot interval (a young warehouse, a baseline before the history):
    then no statement can be called new or regressed, and the callers return their empty, typed frames."""
    window, baseline = _windows(con, server, start, end, baseline_start, baseline_end)
    both = PgWindow(server, min(window.start, baseline.start), max(window.end, baseline.end))
    intervals = statement_intervals(con, both)
    flags = snapshot_flags(con, both)
    current = aggregate_statements(
        intervals_between(intervals, window.start, window.end), _between_snaps(flags, window)
    )
    earlier = aggregate_statements(
        intervals_between(intervals, baseline.start, baseline.end), _between_snaps(flags, baseline)
    )
    base = earlier[[*_KEY, "calls", "mean_exec_time_ms"]].rename(
        columns={"calls": "baseline_calls", "mean_exec_time_ms": "baseline_mean_exec_time_ms"}
    )
    merged = current.astype({"toplevel": "boolean"}).merge(base.astype({"toplevel": "boolean"}), on=_KEY, how="left")
    merged["baseline_calls"] = merged["baseline_calls"].fillna(0).astype("int64")
    if not _between_snaps(flags, baseline)["interval_start"].notna().any():
        merged = merged.iloc[:0]  # with no baseline every statement would look new: nothing can be judged
    return merged, intervals, (window, baseline)


def _between_snaps(flags: pd.DataFrame, window: PgWindow) -> pd.DataFrame:
    """The snapshot flags of the snapshots in (start, end] of a closed window."""
    return flags[(flags["taken_at"] > window.start) & (flags["taken_at"] <= window.end)]


def new_slow_statements(
    con: duckdb.DuckDBPyConnection,
    server: str | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    baseline_start: Instant | None = None,
    baseline_end: Instant | None = None,
    min_mean_ms: float = NEW_SLOW_MEAN_MS,
    min_calls: int = NEW_SLOW_MIN_CALLS,
) -> pd.DataFrame:
    """Statements slow in the window (mean > ``min_mean_ms`` with >= ``min_calls`` calls) that were absent from
    the baseline (``status`` "new") or had a mean below ``min_mean_ms`` there ("was fast").

    The window defaults to the DEFAULT_COMPARISON_WINDOW ending at the latest snapshot, the baseline to the
    window of the same length just before ``start``. Slowest first.
    """
    server = resolve_server(con, server)
    merged, _, _ = _compared(con, server, start, end, baseline_start, baseline_end)
    slow = (merged["mean_exec_time_ms"] > min_mean_ms) & (merged["calls"] >= min_calls)
    before = (merged["baseline_calls"] == 0) | (merged["baseline_mean_exec_time_ms"] < min_mean_ms)
    found = merged[slow & before.fillna(False).astype(bool)].copy()
    found["status"] = np.where(found["baseline_calls"] == 0, "new", "was fast")
    columns = [
        "server",
        "datname",
        "queryid",
        "toplevel",
        "query",
        "users",
        "status",
        "calls",
        "mean_exec_time_ms",
        "total_exec_time_ms",
        "share_total_time",
        "baseline_calls",
        "baseline_mean_exec_time_ms",
        "first_seen",
        "reset",
        "spans_reset",
        "dealloc",
    ]
    found = found.sort_values(["mean_exec_time_ms", "queryid"], ascending=[False, True], kind="stable")
    return found[columns].reset_index(drop=True)


def statement_comparison(
    con: duckdb.DuckDBPyConnection,
    server: str | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    baseline_start: Instant | None = None,
    baseline_end: Instant | None = None,
    alpha: float = REGRESSION_ALPHA,
    min_ratio: float = REGRESSION_MIN_RATIO,
    min_increase_ms: float = REGRESSION_MIN_INCREASE_MS,
    min_intervals: int = REGRESSION_MIN_INTERVALS,
) -> pd.DataFrame:
    """Every statement with calls in both windows, tested for a regression of its mean execution time.

    Test (``test`` column): one-sided Mann-Whitney U of the per-interval mean exec times in the window against
    those in the baseline (``u_statistic``, ``p_value``; NaN with fewer than ``min_intervals`` intervals with
    calls on either side). ``ratio`` = window mean / baseline mean and ``increase_ms`` = their difference,
    each mean being total time / calls over its whole window. ``regressed`` = p_value < alpha and ratio >=
    min_ratio and increase_ms >= min_increase_ms. Windows default as in ``new_slow_statements``. Regressed
    first, then by p-value.
    """
    server = resolve_server(con, server)
    merged, intervals, (window, baseline) = _compared(con, server, start, end, baseline_start, baseline_end)
    merged = merged[merged["baseline_calls"] > 0].copy()
    samples = intervals[intervals["calls"] > 0]
    samples = samples.assign(mean_ms=samples["total_exec_time_ms"] / samples["calls"])
    grouped = {_key(k): g for k, g in samples.groupby(_KEY, dropna=False)}
    results: list[tuple[int, int, float, float]] = []
    for row in merged[_KEY].itertuples(index=False):
        group = grouped.get(_key(tuple(row)), samples.iloc[:0])
        before = intervals_between(group, baseline.start, baseline.end)["mean_ms"]
        after = intervals_between(group, window.start, window.end)["mean_ms"]
        results.append((len(before), len(after), *_mann_whitney(after, before, min_intervals)))
    tested = pd.DataFrame(results, columns=["n_baseline", "n_window", "u_statistic", "p_value"], index=merged.index)
    tested = tested.astype({"n_baseline": "int64", "n_window": "int64", "u_statistic": "float64", "p_value": "float64"})
    merged = pd.concat([merged, tested], axis=1)
    merged["ratio"] = merged["mean_exec_time_ms"] / merged["baseline_mean_exec_time_ms"]
    merged["increase_ms"] = merged["mean_exec_time_ms"] - merged["baseline_mean_exec_time_ms"]
    merged["test"] = REGRESSION_TEST
    merged["regressed"] = (
        (merged["p_value"] < alpha) & (merged["ratio"] >= min_ratio) & (merged["increase_ms"] >= min_increase_ms)
    ).astype(bool)
    columns = [
        "server",
        "datname",
        "queryid",
        "toplevel",
        "query",
        "users",
        "regressed",
        "baseline_calls",
        "baseline_mean_exec_time_ms",
        "calls",
        "mean_exec_time_ms",
        "ratio",
        "increase_ms",
        "n_baseline",
        "n_window",
        "u_statistic",
        "p_value",
        "test",
        "reset",
        "spans_reset",
        "dealloc",
    ]
    merged = merged.sort_values(["regressed", "p_value", "queryid"], ascending=[False, True, True], kind="stable")
    return merged[columns].reset_index(drop=True)


def regressions(
    con: duckdb.DuckDBPyConnection,
    server: str | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    baseline_start: Instant | None = None,
    baseline_end: Instant | None = None,
    alpha: float = REGRESSION_ALPHA,
    min_ratio: float = REGRESSION_MIN_RATIO,
    min_increase_ms: float = REGRESSION_MIN_INCREASE_MS,
    min_intervals: int = REGRESSION_MIN_INTERVALS,
) -> pd.DataFrame:
    """The statements ``statement_comparison`` flags as regressed (same arguments, same columns)."""
    compared = statement_comparison(
        con,
        server,
        start,
        end,
        baseline_start=baseline_start,
        baseline_end=baseline_end,
        alpha=alpha,
        min_ratio=min_ratio,
        min_increase_ms=min_increase_ms,
        min_intervals=min_intervals,
    )
    return compared[compared["regressed"]].reset_index(drop=True)


def _key(values: tuple) -> tuple:
    """A statement key usable in a dict: NULLs (toplevel before PG 14) become None."""
    return tuple(None if pd.isna(v) else v for v in values)


def _mann_whitney(after: pd.Series, before: pd.Series, min_intervals: int) -> tuple[float, float]:
    if len(after) < max(min_intervals, 1) or len(before) < max(min_intervals, 1):
        return np.nan, np.nan
    result = stats.mannwhitneyu(after.to_numpy(float), before.to_numpy(float), alternative="greater")
    return float(result.statistic), float(result.pvalue)
