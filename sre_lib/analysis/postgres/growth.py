"""Size growth over a window: each table's and each database's bytes per week, the least-squares slope of its
size over the snapshots taken in ``[start, end]``.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from sre_lib.analysis.postgres.snapshots import Instant, PgWindow, resolve_window
from sre_lib.analysis.postgres.table_activity import TABLE_KEY

__all__ = [
    "database_growth",
    "table_growth",
]

_WEEK_SECONDS = 7 * 86_400


def _growth(
    con: duckdb.DuckDBPyConnection, table: str, key: tuple[str, ...], value: str, window: PgWindow
) -> pd.DataFrame:
    """Per object (``key``) of ``table``: snapshots, first and last ``value``, its slope in bytes/week and r2."""
    keys = ", ".join(key)
    where, params = window.snapshots_sql()
    frame = con.execute(
        f"""
        SELECT server, {keys}, count(*) AS snapshots, min(taken_at) AS first_at, max(taken_at) AS last_at,
               arg_min({value}, taken_at) AS first_bytes, arg_max({value}, taken_at) AS last_bytes,
               regr_slope({value}, epoch(taken_at)) * {_WEEK_SECONDS} AS bytes_per_week,
               regr_r2({value}, epoch(taken_at)) AS r2
        FROM {table}
        WHERE {where} AND {value} IS NOT NULL
        GROUP BY server, {keys}
        ORDER BY bytes_per_week DESC NULLS LAST, {keys}
        """,
        params,
    ).df()
    return frame


def table_growth(
    con: duckdb.DuckDBPyConnection, server: str | None = None, start: Instant | None = None, end: Instant | None = None
) -> pd.DataFrame:
    """Each table's growth over the snapshots in [start, end]: ``bytes_per_week`` is the least-squares slope
    of total_bytes (table + indexes + TOAST) against time, with its ``r2``; NaN from fewer than 2 snapshots.
    Fastest growing first."""
    window = resolve_window(con, server, start, end, "pg_tables")
    return _growth(con, "pg_tables", TABLE_KEY, "total_bytes", window)


def database_growth(
    con: duckdb.DuckDBPyConnection, server: str | None = None, start: Instant | None = None, end: Instant | None = None
) -> pd.DataFrame:
    """Each database's growth over the snapshots in [start, end]: least-squares slope of its size, bytes/week."""
    window = resolve_window(con, server, start, end, "pg_databases")
    return _growth(con, "pg_databases", ("datname",), "size_bytes", window)
