"""Each table's (and index's) state in a window: the latest snapshot's gauges joined to the counter deltas of
the window. The maintenance, index and cache checks all read tables through here.

Windows and deltas follow ``sre_lib.analysis.postgres.snapshots``: intervals ending in ``(start, end]``,
never-negative deltas, ``reset`` flags; the gauges are those of the latest snapshot at or before ``end``.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from sre_lib.analysis.postgres.snapshots import (
    Instant,
    PgWindow,
    latest_rows_sql,
    resolve_window,
    window_deltas_sql,
)

__all__ = [
    "TABLE_COUNTERS",
    "TABLE_GAUGES",
    "TABLE_KEY",
    "TABLE_LAST_MAINTENANCE",
    "activity_in",
    "latest_with_deltas",
    "table_activity",
]

#: A table's name in the warehouse: its database, schema and name.
TABLE_KEY = ("datname", "schemaname", "relname")
#: pg_tables counters differenced over a window (pg_stat_user_tables and pg_statio_user_tables).
TABLE_COUNTERS = (
    "seq_scan",
    "seq_tup_read",
    "idx_scan",
    "idx_tup_fetch",
    "n_tup_ins",
    "n_tup_upd",
    "n_tup_del",
    "vacuum_count",
    "autovacuum_count",
    "analyze_count",
    "autoanalyze_count",
    "heap_blks_read",
    "heap_blks_hit",
    "idx_blks_read",
    "idx_blks_hit",
)
#: pg_tables gauges read at the latest snapshot.
TABLE_GAUGES = ("n_live_tup", "n_dead_tup", "n_mod_since_analyze", "table_bytes", "total_bytes", "frozen_xid_age")
#: When each table was last vacuumed and analysed, by hand and by autovacuum.
TABLE_LAST_MAINTENANCE = ("last_vacuum", "last_autovacuum", "last_analyze", "last_autoanalyze")


def latest_with_deltas(
    con: duckdb.DuckDBPyConnection,
    table: str,
    key: tuple[str, ...],
    counters: tuple[str, ...],
    latest: tuple[str, ...],
    window: PgWindow,
) -> pd.DataFrame:
    """The latest rows (``latest`` columns) of objects present at the window's end, with their window deltas."""
    latest_sql, latest_params = latest_rows_sql(table, window.server, window.end)
    delta_sql, delta_params = window_deltas_sql(table, key, counters, window.server, window.start, window.end)
    keys = ", ".join(f"l.{k}" for k in key)
    return con.execute(
        f"""
        SELECT l.server, l.taken_at AS as_of, {keys}, {", ".join(f"l.{c}" for c in latest)},
               {", ".join(f"d.{c}" for c in counters)},
               coalesce(d.intervals, 0) AS intervals, d.observed_since, coalesce(d.reset, false) AS reset
        FROM ({latest_sql}) l LEFT JOIN ({delta_sql}) d USING ({", ".join(key)})
        ORDER BY {keys}
        """,
        [*latest_params, *delta_params],
    ).df()


def activity_in(con: duckdb.DuckDBPyConnection, window: PgWindow) -> pd.DataFrame:
    """``table_activity`` over a window already resolved."""
    return latest_with_deltas(
        con, "pg_tables", TABLE_KEY, TABLE_COUNTERS, TABLE_GAUGES + TABLE_LAST_MAINTENANCE, window
    )


def table_activity(
    con: duckdb.DuckDBPyConnection, server: str | None = None, start: Instant | None = None, end: Instant | None = None
) -> pd.DataFrame:
    """Every table present at ``end``: its latest gauges and last (auto)vacuum/analyze, and the deltas of its
    counters over the window (scans, tuples written, (auto)vacuum/analyze counts, statio blocks)."""
    return activity_in(con, resolve_window(con, server, start, end, "pg_tables"))
