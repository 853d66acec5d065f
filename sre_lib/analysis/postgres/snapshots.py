"""PostgreSQL analyses over the warehouse: what the collector stored, read back as findings (PgHero's checks,
with history). Analysis only: every function takes a read-only DuckDB connection and returns a DataFrame or a
small frozen dataclass; nothing prints, nothing writes.

Where each check lives:

* ``sre_lib.analysis.postgres.queries``: slow queries from pg_stat_statements deltas (top statements, a statement's
  history, ``statement_html``), over ``statement_windows`` (per-interval and window totals, the reset/eviction
  summary of a window); ``regressions``: new slow statements and regressions against a baseline window.
* ``sre_lib.analysis.postgres.maintenance``: VACUUM / ANALYZE debt, dead tuples, transaction-ID wraparound.
* ``sre_lib.analysis.postgres.indexes``: unused, duplicate and invalid indexes, sequential-scan-dominated tables
  (``index_definitions`` takes ``pg_get_indexdef`` text apart).
* ``sre_lib.analysis.postgres.cache_hits``, ``sequences``, ``growth``, ``connections``: one check family each,
  over ``table_activity`` (each table's gauges and counter deltas in a window) where they need it.

This module holds what they all share: which server, which window (``PgWindow``, resolved once by
``resolve_window``), and how a window's counters are differenced.

**Windows.** ``start`` / ``end`` bound a window; counters are differenced over the snapshot intervals *ending*
in ``(start, end]`` (so with snapshots every 15 minutes a window from 10:00 to 11:00 holds the four intervals
ending 10:15 .. 11:00). ``None`` leaves that side open: all history. Point-in-time checks (dead tuples,
sequences, invalid indexes, ...) read the latest snapshot at or before ``end``. Naive date-times are UTC.

**Counter deltas** of the snapshot tables (``window_deltas_sql``) follow the same rules as ``statement_deltas``
for statements: an object's delta over an interval is now minus then. Objects are followed by oid, so a
renamed table or index (or one moved to another schema) keeps its history, under the name it had last in
the window. A counter that went down counts from zero: the delta is the value now, a lower bound, and the
object is flagged ``reset``. An object dropped and re-created under the same name is a new object, and the
deltas of objects that bore one name in turn are summed under it, flagged ``reset`` (what the dropped one
did after the last snapshot is lost). A statistics reset of its database
(``stats_reset`` after the previous snapshot: pg_stat_reset(), but PostgreSQL also moves it when a single
object is reset) flags the object and keeps now minus then where that is not negative, a lower bound too.
An object absent from the previous snapshot counts from zero (it is new), unless its database's objects
were not read then (added to ``[sources.postgres] databases`` since): its lifetime counters are no
interval's work, so that interval only starts its history. The first snapshot a server ever had starts no
interval. No delta is ever negative. (``REINDEX CONCURRENTLY`` gives an index a new oid but keeps its
counters: that interval then counts the index's lifetime scans, which errs towards "used", never towards
"unused".)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd

from sre_lib.durations import Instant, to_utc
from sre_lib.errors import DataError
from sre_lib.warehouse.store import scalar

__all__ = [
    "Instant",
    "PgWindow",
    "as_of",
    "latest_rows",
    "latest_rows_sql",
    "resolve_server",
    "resolve_window",
    "to_utc",
    "window_deltas_sql",
]


def resolve_server(con: duckdb.DuckDBPyConnection, server: str | None, table: str = "pg_snapshots") -> str:
    """The server to analyse: the one asked for, or the only one the warehouse holds.

    A server is known by its snapshots (``pg_snapshots``) or its rows in ``table``: a server with no rows in
    ``table`` (no long sessions, no sequences, no other clients: a healthy, quiet server) is still known,
    and the check over it finds nothing rather than failing."""
    servers = [
        row[0]
        for row in con.execute(
            f"SELECT server FROM pg_snapshots UNION SELECT server FROM {table} ORDER BY 1"
        ).fetchall()
    ]
    if server is not None:
        if server not in servers:
            known = ", ".join(servers) or "none"
            raise DataError(f"{table}: no rows for PostgreSQL server {server!r} (servers present: {known})")
        return server
    if not servers:
        raise DataError(f"{table}: no PostgreSQL snapshots in the warehouse: collect (sre collect postgres) first")
    if len(servers) > 1:
        raise DataError(f"{table}: several PostgreSQL servers ({', '.join(servers)}): name one with server=")
    return servers[0]


@dataclass(frozen=True)
class PgWindow:
    """One server and one window of its history, resolved and in UTC: what every analysis here reads.

    ``start`` / ``end`` of None leave that side open (all history). Counter checks difference the intervals
    ending in ``(start, end]``; gauge checks read the snapshots taken in ``[start, end]``; point-in-time checks
    the latest snapshot at or before ``end``.
    """

    server: str
    start: datetime | None = None
    end: datetime | None = None

    def snapshots_sql(self, alias: str = "") -> tuple[str, list[Any]]:
        """A WHERE condition keeping this server's snapshots taken in [start, end], and its parameters."""
        column = f"{alias}." if alias else ""
        sql = (
            f"{column}server = ? AND (?::TIMESTAMPTZ IS NULL OR {column}taken_at >= ?) "
            f"AND (?::TIMESTAMPTZ IS NULL OR {column}taken_at <= ?)"
        )
        return sql, [self.server, self.start, self.start, self.end, self.end]


def resolve_window(
    con: duckdb.DuckDBPyConnection,
    server: str | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    table: str = "pg_snapshots",
) -> PgWindow:
    """The window a check asked for, resolved once: the server (``resolve_server`` over ``table``), then
    ``start`` and ``end`` as UTC date-times (naive ones are UTC)."""
    resolved = resolve_server(con, server, table)
    return PgWindow(resolved, to_utc(start, "start"), to_utc(end, "end"))


def as_of(con: duckdb.DuckDBPyConnection, table: str, server: str, end: datetime | None) -> datetime | None:
    """The latest snapshot of ``table`` for ``server`` at or before ``end`` (None: no such snapshot)."""
    sql = f"SELECT max(taken_at) FROM {table} WHERE server = ?"
    params: list[Any] = [server]
    if end is not None:
        sql += " AND taken_at <= ?"
        params.append(end)
    return scalar(con, sql, params)


def latest_rows_sql(table: str, server: str, end: datetime | None) -> tuple[str, list[Any]]:
    """SQL selecting the rows of the latest snapshot of ``table`` at or before ``end``."""
    bound = "AND taken_at <= ?" if end is not None else ""
    params: list[Any] = [server, *([end] if end is not None else []), server]
    sql = f"""
    SELECT * FROM {table}
    WHERE taken_at = (SELECT max(taken_at) FROM {table} WHERE server = ? {bound}) AND server = ?
    """
    return sql, params


def latest_rows(con: duckdb.DuckDBPyConnection, table: str, window: PgWindow) -> pd.DataFrame:
    """The rows of the latest snapshot of ``table`` at or before the window's end."""
    sql, params = latest_rows_sql(table, window.server, window.end)
    return con.execute(sql, params).df()


#: Per snapshot table: the column whose change means the object was dropped and re-created under the same name.
_IDENTITY = {"pg_tables": "relid", "pg_indexes": "indexrelid"}
#: Snapshot tables listing only the objects of the databases collected ([sources.postgres] databases).
_COLLECTED_PER_DATABASE = frozenset({"pg_tables", "pg_indexes", "pg_sequences"})


def window_deltas_sql(
    table: str,
    key: Sequence[str],
    counters: Sequence[str],
    server: str,
    start: datetime | None,
    end: datetime | None,
) -> tuple[str, list[Any]]:
    """SQL summing each object's (integer) counter deltas over the intervals ending in (start, end].

    One row per object (``key``) with each counter's window delta, ``intervals`` (how many intervals it was
    seen in; 0 or absent: not observed in the window), ``observed_since`` (start of its first interval) and
    ``reset`` (its counters restarted inside an interval: the sums are lower bounds). See the module
    docstring for the rules.
    """
    identity = _IDENTITY.get(table)
    lags = ", ".join(f"lag(t.{c}) OVER obj AS prev_{c}" for c in [*counters, *([identity] if identity else [])])
    decreased = " OR ".join(f"coalesce({c} < prev_{c}, false)" for c in counters)
    recreated = f"coalesce({identity} <> prev_{identity}, false)" if identity else "false"
    named = "concat_ws(chr(0), " + ", ".join(f"t.{k}" for k in key) + ")"
    if identity:  # the object by its oid (in its database): a rename is the same object, a re-creation another
        later_oid = (
            f"first_value(t.{identity} IGNORE NULLS) OVER (PARTITION BY {named} ORDER BY t.taken_at "
            "ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)"
        )  # rows from before the oid was collected take it from the next row of the same name
        obj = f"coalesce(t.datname || chr(0) || CAST(coalesce(t.{identity}, {later_oid}) AS VARCHAR), {named})"
    else:
        obj = named
    per_database = table in _COLLECTED_PER_DATABASE
    database = (  # a column of the object's database at a snapshot
        "(SELECT {column} FROM pg_databases d WHERE d.server = t.server AND d.taken_at = {at} "
        "AND d.datname = t.datname)"
    )
    if table == "pg_databases":
        database_reset = "t.stats_reset"
    elif per_database:
        database_reset = database.format(column="d.stats_reset", at="t.taken_at")
    else:
        database_reset = "NULL::TIMESTAMPTZ"
    watched = "true"
    if per_database:  # the previous snapshot read this database's objects (older rows do not say: any object of it)
        watched = (
            f"coalesce({database.format(column='d.objects_collected', at='s.prev_snap')}, EXISTS (SELECT 1 FROM "
            f"{table} w WHERE w.server = t.server AND w.taken_at = s.prev_snap AND w.datname = t.datname))"
        )
    # A counter that went down, or a re-created object, counts from zero. A statistics reset of the database
    # flags the object but keeps now minus then where that is not negative: PostgreSQL also moves stats_reset
    # when a single other object is reset, and either way the difference is a lower bound.
    sums = ",\n".join(
        f"sum(CASE WHEN NOT counted THEN NULL WHEN is_new OR recreated OR {c} < prev_{c} THEN {c} "
        f"ELSE {c} - prev_{c} END)::BIGINT AS {c}"
        for c in counters
    )
    filters, params = ["taken_at > ?", "taken_at <= ?"], [start, end]
    where = " AND ".join(f for f, p in zip(filters, params, strict=True) if p is not None)
    params = [server, server, *(p for p in params if p is not None)]
    # Each object's deltas, under the name it had last in the window; objects that bore the same name in turn
    # (dropped and re-created) are summed under it.
    sql = f"""
    WITH snaps AS (
        SELECT taken_at, lag(taken_at) OVER (ORDER BY taken_at) AS prev_snap
        FROM (SELECT DISTINCT taken_at FROM {table} WHERE server = ?)
    ),
    objects AS (
        SELECT t.*, {obj} AS object FROM {table} t WHERE t.server = ?
    ),
    rows AS (
        SELECT t.*, s.prev_snap, lag(t.taken_at) OVER obj AS prev_seen, {lags},
               {database_reset} AS database_reset_at, {watched} AS watched_before
        FROM objects t JOIN snaps s USING (taken_at)
        WINDOW obj AS (PARTITION BY t.object ORDER BY t.taken_at)
    ),
    judged AS (
        SELECT *,
               prev_seen IS DISTINCT FROM prev_snap AS is_new,
               {recreated} AS recreated,
               (coalesce(database_reset_at > prev_snap, false) OR {recreated} OR {decreased}) AS restarted
        FROM rows WHERE prev_snap IS NOT NULL
    ),
    counted AS (
        SELECT *, NOT (is_new AND NOT watched_before) AS counted FROM judged
    ),
    per_object AS (
        SELECT object, {", ".join(f"arg_max({k}, taken_at) AS {k}" for k in key)}, {sums},
               count(*) FILTER (WHERE counted) AS intervals,
               min(prev_snap) FILTER (WHERE counted) AS observed_since,
               coalesce(bool_or(counted AND restarted AND NOT is_new), false) AS reset
        FROM counted
        {"WHERE " + where if where else ""}
        GROUP BY object
    )
    SELECT {", ".join(key)}, {", ".join(f"sum({c})::BIGINT AS {c}" for c in counters)},
           sum(intervals)::BIGINT AS intervals, min(observed_since) AS observed_since,
           bool_or(reset) OR count(*) > 1 AS reset  -- several objects bore the name: a dropped one's last work is lost
    FROM per_object
    GROUP BY {", ".join(key)}
    """
    return sql, params
