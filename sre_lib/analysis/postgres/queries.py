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

Query text is returned exactly as pg_stat_statements normalised it; escaping is the renderer's job, with
``statement_html``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from sre_lib.analysis.postgres.snapshots import Instant, PgWindow, as_of, resolve_server, resolve_window, to_utc
from sre_lib.analysis.postgres.statement_deltas import deltas_sql
from sre_lib.errors import DataError

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
_SUMMED = (
    "calls",
    "total_exec_time_ms",
    "rows",
    "shared_blks_hit",
    "shared_blks_read",
    "temp_blks_read",
    "temp_blks_written",
)
_SHARED = ("total_exec_time_ms", "calls", "rows", "shared_blks_read", "temp_blks_written")
_SHARE_NAMES = {
    "total_exec_time_ms": "share_total_time",
    "calls": "share_calls",
    "rows": "share_rows",
    "shared_blks_read": "share_shared_blks_read",
    "temp_blks_written": "share_temp_blks_written",
}
_STATEMENT = ("server", "datname", "dbid", "queryid", "toplevel")

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


def statement_html(text: str) -> str:
    """The statement text escaped for HTML (``<``, ``>``, ``&`` and quotes), for renderers."""
    return html.escape(text, quote=True)


# ------------------------------------------------------------------------------------------------- windows


@dataclass(frozen=True)
class WindowSummary:
    """What a window of pg_stat_statements history holds, and whether its totals are complete.

    ``resets``: ends of the intervals in which counters restarted (a full reset moves
    pg_stat_statements_info.stats_reset; a partial reset or a re-admitted entry shows in the entries).
    ``dealloc``: entries evicted inside the window (their work since the previous snapshot is missing).
    ``calls`` and ``total_exec_time_ms``: top-level totals over the window.
    """

    server: str
    start: datetime | None
    end: datetime | None
    snapshots: int
    intervals: int
    resets: tuple[datetime, ...]
    entries_reset: int
    dealloc: int
    calls: int
    total_exec_time_ms: float

    @property
    def spans_reset(self) -> bool:
        return bool(self.resets)

    @property
    def complete(self) -> bool:
        """True when no reset and no eviction happened inside the window: its totals are exact."""
        return not self.resets and self.dealloc == 0


def _snapshot_flags(con: duckdb.DuckDBPyConnection, window: PgWindow) -> pd.DataFrame:
    """The server's snapshots in (start, end]: interval start, whether stats_reset moved, entries evicted."""
    return con.execute(
        """
        SELECT taken_at, interval_start, interval_start IS NOT NULL AND stats_moved AS stats_moved,
               CASE WHEN dealloc < prev_dealloc THEN dealloc ELSE dealloc - prev_dealloc END AS evicted
        FROM (SELECT taken_at, lag(taken_at) OVER w AS interval_start, pgss_dealloc AS dealloc,
                     lag(pgss_dealloc) OVER w AS prev_dealloc,
                     pgss_stats_reset IS DISTINCT FROM lag(pgss_stats_reset) OVER w AS stats_moved
              FROM pg_snapshots WHERE server = ? WINDOW w AS (ORDER BY taken_at))
        WHERE (?::TIMESTAMPTZ IS NULL OR taken_at > ?) AND (?::TIMESTAMPTZ IS NULL OR taken_at <= ?)
        ORDER BY taken_at
        """,
        [window.server, window.start, window.start, window.end, window.end],
    ).df()


def window_summary(
    con: duckdb.DuckDBPyConnection, server: str | None = None, start: Instant | None = None, end: Instant | None = None
) -> WindowSummary:
    """Snapshots, intervals, resets and evictions inside the window (intervals ending in (start, end])."""
    window = resolve_window(con, server, start, end)
    snaps = _snapshot_flags(con, window)
    intervals = snaps[snaps["interval_start"].notna()]
    sql, params = deltas_sql(window.server, window.start, window.end)
    entries = con.execute(
        f"""SELECT interval_end, count(*) FILTER (WHERE reset) AS entries_reset,
                   coalesce(sum(calls) FILTER (WHERE toplevel IS NOT FALSE), 0) AS calls,
                   coalesce(sum(total_exec_time_ms) FILTER (WHERE toplevel IS NOT FALSE), 0) AS total
            FROM ({sql}) GROUP BY interval_end""",
        params,
    ).df()
    reset_ends = set(intervals.loc[intervals["stats_moved"].astype(bool), "taken_at"])
    reset_ends |= set(entries.loc[entries["entries_reset"] > 0, "interval_end"])
    return WindowSummary(
        server=window.server,
        start=window.start,
        end=window.end,
        snapshots=len(snaps),
        intervals=len(intervals),
        resets=tuple(pd.Timestamp(t).to_pydatetime() for t in sorted(reset_ends)),
        entries_reset=int(entries["entries_reset"].sum()),
        dealloc=int(intervals["evicted"].fillna(0).clip(lower=0).sum()),
        calls=int(entries["calls"].sum()),
        total_exec_time_ms=float(entries["total"].sum()),
    )


def _intervals(con: duckdb.DuckDBPyConnection, window: PgWindow) -> pd.DataFrame:
    """Each statement's deltas per interval ending in (start, end], summed over roles."""
    sql, params = deltas_sql(window.server, window.start, window.end)
    sums = ", ".join(f"sum({c})::{'DOUBLE' if c.endswith('_ms') else 'BIGINT'} AS {c}" for c in _SUMMED)
    return con.execute(
        f"""
        SELECT {", ".join(_STATEMENT)}, interval_start, interval_end, arg_max(query, calls) AS query,
               string_agg(DISTINCT username, ', ' ORDER BY username) AS users, {sums},
               bool_or(reset) AS reset, bool_or(new_entry) AS new_entry, bool_or(dealloc) AS dealloc
        FROM ({sql})
        GROUP BY {", ".join(_STATEMENT)}, interval_start, interval_end
        ORDER BY interval_end
        """,
        params,
    ).df()


def _between(frame: pd.DataFrame, start: datetime | None, end: datetime | None) -> pd.DataFrame:
    keep = pd.Series(True, index=frame.index)
    if start is not None:
        keep &= frame["interval_end"] > start
    if end is not None:
        keep &= frame["interval_end"] <= end
    return frame[keep]


def _users(values: pd.Series) -> str:
    return ", ".join(sorted({u for text in values.dropna() for u in str(text).split(", ") if u}))


def _aggregate(intervals: pd.DataFrame, flags: pd.DataFrame) -> pd.DataFrame:
    """One row per statement with calls: its window totals, mean, shares and reset flags."""
    key = list(_STATEMENT)
    frame = intervals.assign(active=intervals["calls"] > 0)
    grouped = frame.groupby(key, dropna=False, sort=False)
    out = grouped[list(_SUMMED)].sum()
    out["query"] = grouped["query"].last()
    out["users"] = grouped["users"].agg(_users)
    out["intervals"] = grouped["active"].sum()
    out["first_seen"] = grouped["interval_start"].min()
    out["last_seen"] = grouped["interval_end"].max()
    out["reset"] = grouped["reset"].any()
    out = out.reset_index()
    out = out[out["calls"] > 0].copy()
    out["mean_exec_time_ms"] = out["total_exec_time_ms"] / out["calls"]
    top = out["toplevel"].astype("boolean").fillna(True).astype(bool)
    for column in _SHARED:
        denominator = out.loc[top, column].sum()
        out[_SHARE_NAMES[column]] = out[column] / denominator if denominator else np.nan
    out["spans_reset"] = bool(
        flags["stats_moved"].astype(bool).any() or frame["reset"].fillna(False).astype(bool).any()
    )
    out["dealloc"] = bool(flags["evicted"].fillna(0).clip(lower=0).sum() > 0)
    return out


def _statements(con: duckdb.DuckDBPyConnection, window: PgWindow) -> pd.DataFrame:
    """One row per statement with calls over the window (``_aggregate``)."""
    return _aggregate(_intervals(con, window), _snapshot_flags(con, window))


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
        raise DataError(f"top_statements: by must be one of {', '.join(TOP_METRICS)}, got {by!r}")
    frame = _statements(con, resolve_window(con, server, start, end))
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
    frame = _intervals(con, resolve_window(con, server, start, end))
    frame = frame[(frame["queryid"] == queryid) & ((frame["datname"] == datname) if datname else True)]
    grouped = frame.groupby(["server", "interval_start", "interval_end"], sort=True)
    history = grouped[list(_SUMMED)].sum()
    for flag in ("reset", "new_entry", "dealloc"):
        history[flag] = grouped[flag].any()
    history = history.reset_index()
    history.insert(3, "mean_exec_time_ms", history["total_exec_time_ms"] / history["calls"].where(history["calls"] > 0))
    return history


# ---------------------------------------------------------------------------------------------- comparisons


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
        raise DataError(f"window: start ({start_}) must be before end ({end_})")
    b_end = to_utc(baseline_end, "baseline_end") or start_
    b_start = to_utc(baseline_start, "baseline_start") or b_end - (end_ - start_)
    if b_start >= b_end:
        raise DataError(f"baseline window: start ({b_start}) must be before end ({b_end})")
    return PgWindow(server, start_, end_), PgWindow(server, b_start, b_end)


_KEY = [c for c in _STATEMENT if c != "datname"]


def _compared(
    con: duckdb.DuckDBPyConnection,
    server: str,
    start: Instant | None,
    end: Instant | None,
    baseline_start: Instant | None,
    baseline_end: Instant | None,
) -> tuple[pd.DataFrame, pd.DataFrame, tuple[PgWindow, PgWindow]]:
    """Window statements merged with their baseline totals, the per-interval frame of both, and the windows."""
    window, baseline = _windows(con, server, start, end, baseline_start, baseline_end)
    both = PgWindow(server, min(window.start, baseline.start), max(window.end, baseline.end))
    intervals = _intervals(con, both)
    flags = _snapshot_flags(con, both)
    if not _between_snaps(flags, baseline)["interval_start"].notna().any():
        raise DataError(
            f"baseline window {baseline.start} .. {baseline.end} holds no snapshot interval of server {server}: "
            "every statement would look new; choose a baseline inside the collected history"
        )
    in_window = _aggregate(_between(intervals, window.start, window.end), _between_snaps(flags, window))
    in_baseline = _aggregate(_between(intervals, baseline.start, baseline.end), _between_snaps(flags, baseline))
    base = in_baseline[[*_KEY, "calls", "mean_exec_time_ms"]].rename(
        columns={"calls": "baseline_calls", "mean_exec_time_ms": "baseline_mean_exec_time_ms"}
    )
    merged = in_window.astype({"toplevel": "boolean"}).merge(base.astype({"toplevel": "boolean"}), on=_KEY, how="left")
    merged["baseline_calls"] = merged["baseline_calls"].fillna(0).astype("int64")
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
        before = _between(group, baseline.start, baseline.end)["mean_ms"]
        after = _between(group, window.start, window.end)["mean_ms"]
        results.append((len(before), len(after), *_mann_whitney(after, before, min_intervals)))
    tested = pd.DataFrame(results, columns=["n_baseline", "n_window", "u_statistic", "p_value"], index=merged.index)
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
