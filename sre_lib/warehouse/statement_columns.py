"""The warehouse's pg_stat_statements table, column by column: the one list the collector maps server columns
onto, the statement analyses difference, and schema.sql declares (a test keeps the two in step).

The columns are PostgreSQL 17's names in one normalised shape for PostgreSQL 12-18, times in milliseconds
(``*_ms``); ``sre_lib.collect.pgss_columns`` says which server column feeds each one on each version.
"""

from __future__ import annotations

__all__ = [
    "STATEMENT_COLUMNS",
    "STATEMENT_COUNTERS",
    "STATEMENT_KEY",
]

#: An entry of pg_stat_statements within one server: role, database, normalised query, top level or nested.
STATEMENT_KEY = ("userid", "dbid", "queryid", "toplevel")

#: The cumulative counters: differenced between snapshots (``sre_lib.analysis.postgres.statement_deltas``).
STATEMENT_COUNTERS = (
    "calls",
    "total_exec_time_ms",
    "plans",
    "total_plan_time_ms",
    "rows",
    "shared_blks_hit",
    "shared_blks_read",
    "shared_blks_dirtied",
    "shared_blks_written",
    "local_blks_hit",
    "local_blks_read",
    "temp_blks_read",
    "temp_blks_written",
    "blk_read_time_ms",
    "blk_write_time_ms",
    "wal_bytes",
)

#: Every column read from pg_stat_statements, in the order the collector selects them. The table adds
#: server, taken_at, username and datname (from the snapshot and the catalogs).
STATEMENT_COLUMNS = (
    *STATEMENT_KEY,
    "query",
    *STATEMENT_COUNTERS[:2],  # calls, total_exec_time_ms, then the execution time's spread
    "min_exec_time_ms",
    "max_exec_time_ms",
    "mean_exec_time_ms",
    "stddev_exec_time_ms",
    *STATEMENT_COUNTERS[2:],
    "stats_since",
)
