"""Slow queries from pg_stat_statements history: top statements over any window, one statement's history,
new slow statements and regressions against a baseline window, and an honest account of resets.

Everything builds on ``statement_deltas.deltas_sql``: per-interval deltas, never negative, flagged ``reset``,
``new_entry`` and ``dealloc``. A *statement* here is one (server, database, queryid, toplevel): the
pg_stat_statements entries of different roles running the same normalised query are summed (``users`` lists
the roles). Nested statements (``toplevel`` false, seen with ``pg_stat_statements.track = all``) are kept as
their own rows, but window totals, and so every ``share_*`` column, count top-level statements only, since
a nested statement's time is already inside its caller's.

**Resets, honestly.** After ``pg_stat_statements_reset()`` (or an entry's eviction and re-admission) the
interval's delta is the counters since the reset: a lower bound of the interval's real work, never negative.
Statement rows say so with ``reset`` (this statement's counters restarted inside the window); every row
also carries the window's ``spans_reset`` (a reset happened inside the window) and ``dealloc`` (entries were
evicted inside the window, so some work may be missing). ``window_summary`` gives the details.

**Regressions** are judged by a one-sided Mann-Whitney U test (``scipy.stats.mannwhitneyu``,
``alternative="greater"``) of the statement's per-interval mean execution times in the window against those
in the baseline window. A per-interval mean is total time / calls of one snapshot interval, which stays a
valid sample of the statement's speed across a reset. The test needs no normality and shrugs off a few
outlier intervals; an effect-size floor keeps tiny but significant changes out.

``statement_windows`` holds the window totals and summary, ``regressions`` the comparisons against a baseline;
both are re-exported here.

Query text is returned exactly as pg_stat_statements normalised it; escaping is the renderer's job, with
``statement_html``.
"""

from __future__ import annotations

import html

import duckdb
import pandas as pd

from sre_lib.analysis.postgres.regressions import (
    DEFAULT_COMPARISON_WINDOW,
    NEW_SLOW_MEAN_MS,
    NEW_SLOW_MIN_CALLS,
    REGRESSION_ALPHA,
    REGRESSION_MIN_INCREASE_MS,
    REGRESSION_MIN_INTERVALS,
    REGRESSION_MIN_RATIO,
    REGRESSION_TEST,
    new_slow_statements,
    regressions,
    statement_comparison,
)
from sre_lib.analysis.postgres.snapshots import Instant, resolve_window
from sre_lib.analysis.postgres.statement_windows import (
    SUMMED_COUNTERS,
    WindowSummary,
    statement_intervals,
    window_statements,
    window_summary,
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
    "TOP_METRICS",
    "WindowSummary",
    "new_slow_statements",
    "regressions",
    "statement_comparison",
    "statement_history",
    "statement_html",
    "top_statements",
    "window_summary",
]

#: Ranking metrics of ``top_statements``: name -> (column ranked by, its share column or None).
TOP_METRICS: dict[str, tuple[str, str | None]] = {
    "total_time": ("total_exec_time_ms", "share_total_time"),
    "mean_time": ("mean_exec_time_ms", None),
    "calls": ("calls", "share_calls"),
    "rows": ("rows", "share_rows"),
    "shared_blks_read": ("shared_blks_read", "share_shared_blks_read"),
    "temp_blks_written": ("temp_blks_written", "share_temp_blks_written"),
}


def statement_html(text: str) -> str:
    """The statement text escaped for HTML (``<``, ``>``, ``&`` and quotes), for renderers."""
    return html.escape(text, quote=True)


_TOP_COLUMNS = [
    "server",
    "datname",
    "queryid",
    "toplevel",
    "query",
    "users",
    "calls",
    "total_exec_time_ms",
    "mean_exec_time_ms",
    "rows",
    "shared_blks_hit",
    "shared_blks_read",
    "temp_blks_read",
    "temp_blks_written",
    "share_total_time",
    "share_calls",
    "share_rows",
    "share_shared_blks_read",
    "share_temp_blks_written",
    "intervals",
    "first_seen",
    "last_seen",
    "reset",
    "spans_reset",
    "dealloc",
]


def top_statements(
    con: duckdb.DuckDBPyConnection,
    server: str | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    by: str = "total_time",
    limit: int | None = 20,
    min_calls: int = 1,
) -> pd.DataFrame:
    """The statements that did the most over the window, by ``by`` (a key of TOP_METRICS), largest first.

    Each row: the statement's totals over the window (calls, total/mean exec time in ms, rows, shared blocks
    hit/read, temp blocks read/written), its ``share_*`` of the window's top-level totals (0..1), intervals
    with calls, first/last interval, and the reset flags (module docstring). ``min_calls`` keeps one-off
    statements out of a ranking by mean time.
    """
    if by not in TOP_METRICS:
        raise ValueError(f"top_statements: by must be one of {', '.join(TOP_METRICS)}, got {by!r}")
    frame = window_statements(con, resolve_window(con, server, start, end))
    frame = frame[frame["calls"] >= min_calls]
    column, _share = TOP_METRICS[by]
    frame = frame.sort_values([column, "queryid"], ascending=[False, True], kind="stable")
    if limit is not None:
        frame = frame.head(limit)
    return frame[_TOP_COLUMNS].reset_index(drop=True)


def statement_history(
    con: duckdb.DuckDBPyConnection,
    queryid: int,
    server: str | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    datname: str | None = None,
) -> pd.DataFrame:
    """One statement across snapshots: per interval its calls, mean exec time (ms) and other deltas.

    Top-level and nested executions and all roles are summed per interval; ``mean_exec_time_ms`` is NaN in an
    interval without calls. ``reset`` marks intervals whose counts restarted (lower bounds), ``dealloc``
    intervals during which entries were evicted.
    """
    frame = statement_intervals(con, resolve_window(con, server, start, end))
    frame = frame[(frame["queryid"] == queryid) & ((frame["datname"] == datname) if datname else True)]
    grouped = frame.groupby(["server", "interval_start", "interval_end"], sort=True)
    history = grouped[list(SUMMED_COUNTERS)].sum()
    for flag in ("reset", "new_entry", "dealloc"):
        history[flag] = grouped[flag].any()
    history = history.reset_index()
    history.insert(3, "mean_exec_time_ms", history["total_exec_time_ms"] / history["calls"].where(history["calls"] > 0))
    return history
