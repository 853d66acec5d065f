"""VACUUM and ANALYZE debt and transaction-ID wraparound over the collected snapshots (PgHero's maintenance
checks, with history): tables overdue for VACUUM or ANALYZE against the weekly schedule, tables with many dead
tuples, and the wraparound headroom of each database and table. Windows and deltas follow
``sre_lib.analysis.postgres.snapshots``; point-in-time checks read the latest snapshot at or before ``end``.

Each check names its thresholds as keyword arguments whose defaults are the module constants beside it.

This module once held every PostgreSQL check; the index, cache, sequence, growth and connection checks now
live in modules of their own, and are still importable from here so existing imports keep working.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb
import numpy as np
import pandas as pd

from sre_lib.analysis.postgres.cache_hits import (
    CACHE_HIT_MIN_RATIO,
    CACHE_MIN_BLOCKS,
    cache_hit_ratios,
    tables_low_cache_hit,
)
from sre_lib.analysis.postgres.connections import (
    CONNECTIONS_CRITICAL_PERCENT,
    CONNECTIONS_WARNING_PERCENT,
    LONG_SESSION_SECONDS,
    ConnectionSummary,
    connection_bands,
    connection_summary,
    connection_usage,
    connections_by_state,
    idle_in_transaction_sessions,
    long_sessions,
)
from sre_lib.analysis.postgres.growth import database_growth, table_growth
from sre_lib.analysis.postgres.index_definitions import IndexDef, find_duplicate_indexes, parse_indexdef
from sre_lib.analysis.postgres.indexes import (
    SEQ_SCAN_MIN_ROWS,
    duplicate_indexes,
    invalid_indexes,
    seq_scan_tables,
    unused_indexes,
)
from sre_lib.analysis.postgres.sequences import SEQUENCE_MIN_RATIO, SEQUENCE_PACE_DAYS, sequences_near_limit
from sre_lib.analysis.postgres.snapshots import Instant, latest_rows_sql, resolve_window
from sre_lib.analysis.postgres.table_activity import TABLE_KEY, activity_in, table_activity

__all__ = [
    "CACHE_HIT_MIN_RATIO",
    "CACHE_MIN_BLOCKS",
    "CONNECTIONS_CRITICAL_PERCENT",
    "CONNECTIONS_WARNING_PERCENT",
    "DEAD_TUPLES_MIN",
    "DEAD_TUPLES_MIN_RATIO",
    "LONG_SESSION_SECONDS",
    "MAINTENANCE_MAX_AGE",
    "SEQUENCE_MIN_RATIO",
    "SEQUENCE_PACE_DAYS",
    "SEQ_SCAN_MIN_ROWS",
    "WRAPAROUND_CRITICAL_PERCENT",
    "WRAPAROUND_WARNING_PERCENT",
    "XID_WRAPAROUND_LIMIT",
    "ConnectionSummary",
    "IndexDef",
    "cache_hit_ratios",
    "connection_bands",
    "connection_summary",
    "connection_usage",
    "connections_by_state",
    "database_growth",
    "dead_tuples",
    "duplicate_indexes",
    "find_duplicate_indexes",
    "idle_in_transaction_sessions",
    "invalid_indexes",
    "long_sessions",
    "maintenance_overdue",
    "parse_indexdef",
    "seq_scan_tables",
    "sequences_near_limit",
    "table_activity",
    "table_growth",
    "tables_low_cache_hit",
    "unused_indexes",
    "xid_wraparound",
]

# ---------------------------------------------------------------------------------------------- maintenance

#: The weekly VACUUM ANALYZE schedule: a table modified but not vacuumed / analysed for longer is overdue.
MAINTENANCE_MAX_AGE = timedelta(days=7)


def maintenance_overdue(
    con: duckdb.DuckDBPyConnection,
    server: str | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    max_age: timedelta = MAINTENANCE_MAX_AGE,
) -> pd.DataFrame:
    """Tables overdue for VACUUM or ANALYZE against the weekly schedule, as of the latest snapshot <= end.

    A table is considered only if it has modifications: rows inserted, updated or deleted over the window, or
    dead tuples or modifications since its last analyze at ``as_of``. It is overdue for VACUUM when the later
    of last_vacuum / last_autovacuum is older than ``max_age`` or never happened (``last_vacuum_any`` NaT),
    likewise for ANALYZE. "Never" is judged only once the collector has watched the table for ``max_age``
    (``watched_days``): a table first seen minutes ago (a young warehouse, a new table) cannot have missed a
    weekly schedule yet; one piling up dead tuples meanwhile is the ``dead_tuples`` check's finding. Autovacuum
    activity comes with it: (auto)vacuum / (auto)analyze counts over the window. Never-maintained tables
    first, then the oldest.
    """
    window = resolve_window(con, server, start, end, "pg_tables")
    frame = activity_in(con, window)
    first_seen = con.execute(
        f"SELECT {', '.join(TABLE_KEY)}, min(taken_at) AS first_seen FROM pg_tables "
        f"WHERE server = ? AND (?::TIMESTAMPTZ IS NULL OR taken_at <= ?) GROUP BY {', '.join(TABLE_KEY)}",
        [window.server, window.end, window.end],
    ).df()
    frame = frame.merge(first_seen, on=list(TABLE_KEY), how="left")
    watched = frame["as_of"] - frame["first_seen"]
    frame["watched_days"] = watched.dt.total_seconds() / 86_400
    modifications = frame[["n_tup_ins", "n_tup_upd", "n_tup_del"]].fillna(0).sum(axis=1)
    modified = (modifications > 0) | (frame["n_dead_tup"].fillna(0) > 0) | (frame["n_mod_since_analyze"].fillna(0) > 0)
    frame["modifications"] = modifications.astype("int64")
    frame["last_vacuum_any"] = frame[["last_vacuum", "last_autovacuum"]].max(axis=1)
    frame["last_analyze_any"] = frame[["last_analyze", "last_autoanalyze"]].max(axis=1)
    for kind in ("vacuum", "analyze"):
        age = frame["as_of"] - frame[f"last_{kind}_any"]
        frame[f"{kind}_age_days"] = age.dt.total_seconds() / 86_400
        frame[f"{kind}_overdue"] = (modified & ((age > max_age) | (age.isna() & (watched >= max_age)))).astype(bool)
    overdue = frame[frame["vacuum_overdue"] | frame["analyze_overdue"]].copy()
    overdue["never"] = overdue["last_vacuum_any"].isna() | overdue["last_analyze_any"].isna()
    overdue = overdue.sort_values(["never", "vacuum_age_days"], ascending=[False, False], kind="stable")
    columns = [
        "server",
        "as_of",
        *TABLE_KEY,
        "n_live_tup",
        "n_dead_tup",
        "n_mod_since_analyze",
        "modifications",
        "watched_days",
        "last_vacuum_any",
        "vacuum_age_days",
        "vacuum_overdue",
        "last_analyze_any",
        "analyze_age_days",
        "analyze_overdue",
        "vacuum_count",
        "autovacuum_count",
        "analyze_count",
        "autoanalyze_count",
        "last_autovacuum",
        "last_autoanalyze",
    ]
    return overdue[columns].reset_index(drop=True)


#: Dead tuples: flag a table whose dead share n_dead / (n_live + n_dead) is above this ...
DEAD_TUPLES_MIN_RATIO = 0.10
#: ... and which has more than this many dead tuples.
DEAD_TUPLES_MIN = 10_000


def dead_tuples(
    con: duckdb.DuckDBPyConnection,
    server: str | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    min_ratio: float = DEAD_TUPLES_MIN_RATIO,
    min_dead: int = DEAD_TUPLES_MIN,
) -> pd.DataFrame:
    """Tables whose dead-tuple ratio is above ``min_ratio`` with more than ``min_dead`` dead tuples at ``as_of``,
    with their last autovacuum and (auto)vacuum counts over the window. Most dead tuples first."""
    frame = activity_in(con, resolve_window(con, server, start, end, "pg_tables"))
    live, dead = frame["n_live_tup"].fillna(0), frame["n_dead_tup"].fillna(0)
    frame["dead_ratio"] = (dead / (live + dead)).where(live + dead > 0)
    flagged = frame[(frame["dead_ratio"] > min_ratio) & (dead > min_dead)]
    columns = [
        "server",
        "as_of",
        *TABLE_KEY,
        "n_live_tup",
        "n_dead_tup",
        "dead_ratio",
        "last_vacuum",
        "last_autovacuum",
        "vacuum_count",
        "autovacuum_count",
    ]
    flagged = flagged.sort_values(["n_dead_tup", "relname"], ascending=[False, True], kind="stable")
    return flagged[columns].reset_index(drop=True)


#: Transaction IDs: wraparound happens 2^31 transactions after the oldest unfrozen XID.
XID_WRAPAROUND_LIMIT = 2**31
#: Wraparound: warn when a database's or table's XID age has used this percent of the limit ...
WRAPAROUND_WARNING_PERCENT = 50.0
#: ... critical from this percent (autovacuum_freeze_max_age defaults to 200 M, under 10 %).
WRAPAROUND_CRITICAL_PERCENT = 75.0


def xid_wraparound(
    con: duckdb.DuckDBPyConnection,
    server: str | None = None,
    end: Instant | None = None,
    *,
    warning_percent: float = WRAPAROUND_WARNING_PERCENT,
    critical_percent: float = WRAPAROUND_CRITICAL_PERCENT,
    tables: bool = True,
) -> pd.DataFrame:
    """Transaction-ID wraparound headroom per database (pg_databases.xid_age) and, with ``tables``, per table
    (pg_tables.frozen_xid_age), as of the latest snapshot <= end: ``headroom`` = 2^31 - age,
    ``percent_used`` = 100 * age / 2^31, ``status`` ok / warning (>= warning_percent) / critical
    (>= critical_percent). ``scope`` is "database" or "table"; most used first."""
    window = resolve_window(con, server, None, end, "pg_databases")
    db_sql, db_params = latest_rows_sql("pg_databases", window.server, window.end)
    parts = [
        "SELECT 'database' AS scope, taken_at AS as_of, datname, NULL::VARCHAR AS schemaname, "
        f"NULL::VARCHAR AS relname, xid_age FROM ({db_sql})"
    ]
    params = list(db_params)
    if tables:
        table_sql, table_params = latest_rows_sql("pg_tables", window.server, window.end)
        parts.append(f"SELECT 'table', taken_at, datname, schemaname, relname, frozen_xid_age FROM ({table_sql})")
        params += table_params
    frame = con.execute(" UNION ALL ".join(parts), params).df()
    frame.insert(0, "server", window.server)
    frame["headroom"] = XID_WRAPAROUND_LIMIT - frame["xid_age"]
    frame["percent_used"] = 100.0 * frame["xid_age"] / XID_WRAPAROUND_LIMIT
    frame["status"] = np.select(
        [frame["percent_used"] >= critical_percent, frame["percent_used"] >= warning_percent],
        ["critical", "warning"],
        "ok",
    )
    frame = frame.sort_values(["percent_used", "scope"], ascending=[False, True], kind="stable")
    return frame.reset_index(drop=True)
