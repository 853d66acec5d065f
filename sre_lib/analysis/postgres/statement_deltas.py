"""pg_stat_statements deltas: what each statement did between consecutive snapshots, resets handled honestly.

The warehouse keeps raw cumulative counters. Between two snapshots of a server, an entry's delta is its
counters now minus its counters then, unless its counters restarted in between:

* a reset: ``pg_stat_statements_info.stats_reset`` moved (PG >= 14), the entry's ``stats_since`` moved
  (PG >= 17), any counter went down, or, where there is no ``stats_since``, the entry's max_exec_time fell
  or its min_exec_time rose: they only ever widen during an entry's life, so a narrower range means the
  entry was reset alone (``pg_stat_statements_reset(userid, dbid, queryid)``, which moves no stats_reset)
  and its counters grew back past their old values. The counters now count from a moment inside the
  interval, so the delta is the counters now (a lower bound of the interval's true work) and the row is
  flagged ``reset``. A reset after which the counters, the min and the max all came back past their old
  values cannot be seen.
* a new or re-admitted entry (absent from the previous snapshot, e.g. after eviction): same rule, flagged
  ``new_entry``.

An interval during which pg_stat_statements evicted entries (``dealloc`` grew) is flagged ``dealloc``:
its totals may miss the work of evicted statements. No delta is ever negative.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd

from sre_lib.warehouse.statement_columns import STATEMENT_COUNTERS, STATEMENT_KEY

__all__ = [
    "COUNTERS",
    "ENTRY_KEY",
    "deltas_sql",
    "statement_deltas",
]

#: The counters differenced between snapshots: the warehouse's one list.
COUNTERS = STATEMENT_COUNTERS
#: One pg_stat_statements entry across snapshots: its server and its key there.
ENTRY_KEY = ("server", *STATEMENT_KEY)


def deltas_sql(
    server: str | None = None, start: datetime | None = None, end: datetime | None = None
) -> tuple[str, list]:
    """SQL computing per-interval deltas for intervals ending in (start, end]; also used inside other queries."""
    key = ", ".join(ENTRY_KEY)
    decreased = " OR ".join(f"coalesce(s.{c} < s.prev_{c}, false)" for c in COUNTERS)
    delta_columns = ",\n".join(f"CASE WHEN restarted THEN {c} ELSE {c} - prev_{c} END AS {c}" for c in COUNTERS)
    prev_columns = ", ".join(f"lag({c}) OVER entry AS prev_{c}" for c in COUNTERS)
    filters, params = [], []
    if server is not None:
        filters.append("server = ?")
        params.append(server)
    if start is not None:
        filters.append("taken_at > ?")
        params.append(start)
    if end is not None:
        filters.append("taken_at <= ?")
        params.append(end)
    where = ("WHERE " + " AND ".join(filters)) if filters else ""
    sql = f"""
    WITH snaps AS (
        SELECT server, taken_at, pgss_stats_reset, pgss_dealloc,
               lag(taken_at) OVER w AS prev_taken_at,
               lag(pgss_stats_reset) OVER w AS prev_stats_reset,
               lag(pgss_dealloc) OVER w AS prev_dealloc
        FROM pg_snapshots WINDOW w AS (PARTITION BY server ORDER BY taken_at)
    ),
    entries AS (
        SELECT *, lag(taken_at) OVER entry AS prev_entry_taken_at,
               lag(stats_since) OVER entry AS prev_stats_since, lag(min_exec_time_ms) OVER entry AS prev_min,
               lag(max_exec_time_ms) OVER entry AS prev_max, {prev_columns}
        FROM pg_stat_statements
        WINDOW entry AS (PARTITION BY {key} ORDER BY taken_at)
    ),
    classified AS (
        SELECT s.*, n.prev_taken_at AS interval_start,
               (s.prev_entry_taken_at IS NULL OR s.prev_entry_taken_at <> n.prev_taken_at) AS new_entry,
               (n.pgss_stats_reset IS DISTINCT FROM n.prev_stats_reset
                OR s.stats_since IS DISTINCT FROM s.prev_stats_since OR {decreased}
                OR (s.stats_since IS NULL AND s.prev_calls > 0  -- before a first call min and max are 0
                    AND coalesce(s.max_exec_time_ms < s.prev_max OR s.min_exec_time_ms > s.prev_min, false))) AS reset,
               coalesce(n.pgss_dealloc > n.prev_dealloc, false) AS dealloc
        FROM entries s JOIN snaps n USING (server, taken_at)
        WHERE n.prev_taken_at IS NOT NULL
    )
    SELECT server, interval_start, taken_at AS interval_end, userid, dbid, queryid, toplevel, username, datname,
           query, new_entry, reset AND NOT new_entry AS reset, dealloc,
           {delta_columns}
    FROM (SELECT *, new_entry OR reset AS restarted FROM classified)
    {where}
    """
    return sql, params


def statement_deltas(
    con: duckdb.DuckDBPyConnection,
    server: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> pd.DataFrame:
    """One row per statement per snapshot interval ending in (start, end], ordered by time."""
    sql, params = deltas_sql(server, start, end)
    return con.execute(sql + " ORDER BY interval_end, queryid", params).df()
