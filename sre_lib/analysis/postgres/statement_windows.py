"""What a window of pg_stat_statements history holds: per-interval deltas of each statement summed over roles,
window totals per statement with their shares, and the window's resets and evictions (``WindowSummary``).
``queries`` ranks and follows statements with these, ``regressions`` compares two windows.

A *statement* is one (server, database, queryid, toplevel) (``STATEMENT_GROUP``); window totals, and so every
``share_*`` column, count top-level statements only. See ``queries`` for the rules on resets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import numpy as np
import pandas as pd

from sre_lib.analysis.postgres.snapshots import Instant, PgWindow, resolve_window
from sre_lib.analysis.postgres.statement_deltas import deltas_sql

__all__ = [
    "STATEMENT_GROUP",
    "SUMMED_COUNTERS",
    "WindowSummary",
    "aggregate_statements",
    "intervals_between",
    "snapshot_flags",
    "statement_intervals",
    "window_statements",
    "window_summary",
]

#: The counters summed per statement over a window (a statement's totals).
SUMMED_COUNTERS = (
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
#: A statement: the entries of all roles running one normalised query in one database, top level or nested.
STATEMENT_GROUP = ("server", "datname", "dbid", "queryid", "toplevel")


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


def snapshot_flags(con: duckdb.DuckDBPyConnection, window: PgWindow) -> pd.DataFrame:
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
    snaps = snapshot_flags(con, window)
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


def statement_intervals(con: duckdb.DuckDBPyConnection, window: PgWindow) -> pd.DataFrame:
    """Each statement's deltas per interval ending in (start, end], summed over roles."""
    sql, params = deltas_sql(window.server, window.start, window.end)
    sums = ", ".join(f"sum({c})::{'DOUBLE' if c.endswith('_ms') else 'BIGINT'} AS {c}" for c in SUMMED_COUNTERS)
    return con.execute(
        f"""
        SELECT {", ".join(STATEMENT_GROUP)}, interval_start, interval_end, arg_max(query, calls) AS query,
               string_agg(DISTINCT username, ', ' ORDER BY username) AS users, {sums},
               bool_or(reset) AS reset, bool_or(new_entry) AS new_entry, bool_or(dealloc) AS dealloc
        FROM ({sql})
        GROUP BY {", ".join(STATEMENT_GROUP)}, interval_start, interval_end
        ORDER BY interval_end
        """,
        params,
    ).df()


def intervals_between(frame: pd.DataFrame, start: datetime | None, end: datetime | None) -> pd.DataFrame:
    """The rows of a per-interval frame whose interval ends in (start, end] (None: that side open)."""
    keep = pd.Series(True, index=frame.index)
    if start is not None:
        keep &= frame["interval_end"] > start
    if end is not None:
        keep &= frame["interval_end"] <= end
    return frame[keep]


def _users(values: pd.Series) -> str:
    return ", ".join(sorted({u for text in values.dropna() for u in str(text).split(", ") if u}))


def aggregate_statements(intervals: pd.DataFrame, flags: pd.DataFrame) -> pd.DataFrame:
    """One row per statement with calls: its window totals, mean, shares and reset flags."""
    key = list(STATEMENT_GROUP)
    frame = intervals.assign(active=intervals["calls"] > 0)
    grouped = frame.groupby(key, dropna=False, sort=False)
    out = grouped[list(SUMMED_COUNTERS)].sum()
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


def window_statements(con: duckdb.DuckDBPyConnection, window: PgWindow) -> pd.DataFrame:
    """One row per statement with calls over the window (``aggregate_statements``)."""
    return aggregate_statements(statement_intervals(con, window), snapshot_flags(con, window))
