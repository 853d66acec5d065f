"""PostgreSQL maintenance, index, sequence, growth and connection checks over the collected snapshots: PgHero's
checks, with history. Windows and counter deltas follow ``sre_lib.analysis.postgres.snapshots`` (intervals ending in
``(start, end]``, never-negative deltas, ``reset`` flags); point-in-time checks read the latest snapshot at or
before ``end`` (``as_of``); gauge series (sizes, connections) use the snapshots taken in ``[start, end]``.

Each check names its thresholds as keyword arguments whose defaults are the module constants beside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pandas as pd

from sre_lib.analysis.postgres.snapshots import Instant, latest_rows_sql, resolve_server, to_utc, window_deltas_sql
from sre_lib.config import PlatformConfig
from sre_lib.errors import DataError
from sre_lib.warehouse.store import scalar

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

_TABLE_KEY = ("datname", "schemaname", "relname")
_TABLE_COUNTERS = (
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
_GAUGES = ("n_live_tup", "n_dead_tup", "n_mod_since_analyze", "table_bytes", "total_bytes", "frozen_xid_age")
_LAST = ("last_vacuum", "last_autovacuum", "last_analyze", "last_autoanalyze")


def _window(
    con: duckdb.DuckDBPyConnection, server: str | None, start: Instant | None, end: Instant | None, table: str
) -> tuple[str, datetime | None, datetime | None]:
    return resolve_server(con, server, table), to_utc(start, "start"), to_utc(end, "end")


def _with_deltas(
    con: duckdb.DuckDBPyConnection,
    table: str,
    key: tuple[str, ...],
    counters: tuple[str, ...],
    latest: tuple[str, ...],
    server: str,
    start: datetime | None,
    end: datetime | None,
) -> pd.DataFrame:
    """The latest rows (``latest`` columns) of objects present at ``end``, with their window deltas."""
    latest_sql, latest_params = latest_rows_sql(table, server, end)
    delta_sql, delta_params = window_deltas_sql(table, key, counters, server, start, end)
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


def table_activity(
    con: duckdb.DuckDBPyConnection, server: str | None = None, start: Instant | None = None, end: Instant | None = None
) -> pd.DataFrame:
    """Every table present at ``end``: its latest gauges and last (auto)vacuum/analyze, and the deltas of its
    counters over the window (scans, tuples written, (auto)vacuum/analyze counts, statio blocks)."""
    server, start_, end_ = _window(con, server, start, end, "pg_tables")
    return _with_deltas(con, "pg_tables", _TABLE_KEY, _TABLE_COUNTERS, _GAUGES + _LAST, server, start_, end_)


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
    likewise for ANALYZE. Autovacuum activity comes with it: (auto)vacuum / (auto)analyze counts over the
    window. Never-maintained tables first, then the oldest.
    """
    frame = table_activity(con, server, start, end)
    modifications = frame[["n_tup_ins", "n_tup_upd", "n_tup_del"]].fillna(0).sum(axis=1)
    modified = (modifications > 0) | (frame["n_dead_tup"].fillna(0) > 0) | (frame["n_mod_since_analyze"].fillna(0) > 0)
    frame["modifications"] = modifications.astype("int64")
    frame["last_vacuum_any"] = frame[["last_vacuum", "last_autovacuum"]].max(axis=1)
    frame["last_analyze_any"] = frame[["last_analyze", "last_autoanalyze"]].max(axis=1)
    for kind in ("vacuum", "analyze"):
        age = frame["as_of"] - frame[f"last_{kind}_any"]
        frame[f"{kind}_age_days"] = age.dt.total_seconds() / 86_400
        frame[f"{kind}_overdue"] = (modified & (age.isna() | (age > max_age))).astype(bool)
    overdue = frame[frame["vacuum_overdue"] | frame["analyze_overdue"]].copy()
    overdue["never"] = overdue["last_vacuum_any"].isna() | overdue["last_analyze_any"].isna()
    overdue = overdue.sort_values(["never", "vacuum_age_days"], ascending=[False, False], kind="stable")
    columns = [
        "server",
        "as_of",
        *_TABLE_KEY,
        "n_live_tup",
        "n_dead_tup",
        "n_mod_since_analyze",
        "modifications",
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
    frame = table_activity(con, server, start, end)
    live, dead = frame["n_live_tup"].fillna(0), frame["n_dead_tup"].fillna(0)
    frame["dead_ratio"] = (dead / (live + dead)).where(live + dead > 0)
    flagged = frame[(frame["dead_ratio"] > min_ratio) & (dead > min_dead)]
    columns = [
        "server",
        "as_of",
        *_TABLE_KEY,
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
    server = resolve_server(con, server, "pg_databases")
    end_ = to_utc(end, "end")
    db_sql, db_params = latest_rows_sql("pg_databases", server, end_)
    parts = [
        "SELECT 'database' AS scope, taken_at AS as_of, datname, NULL::VARCHAR AS schemaname, "
        f"NULL::VARCHAR AS relname, xid_age FROM ({db_sql})"
    ]
    params = list(db_params)
    if tables:
        table_sql, table_params = latest_rows_sql("pg_tables", server, end_)
        parts.append(f"SELECT 'table', taken_at, datname, schemaname, relname, frozen_xid_age FROM ({table_sql})")
        params += table_params
    frame = con.execute(" UNION ALL ".join(parts), params).df()
    frame.insert(0, "server", server)
    frame["headroom"] = XID_WRAPAROUND_LIMIT - frame["xid_age"]
    frame["percent_used"] = 100.0 * frame["xid_age"] / XID_WRAPAROUND_LIMIT
    frame["status"] = np.select(
        [frame["percent_used"] >= critical_percent, frame["percent_used"] >= warning_percent],
        ["critical", "warning"],
        "ok",
    )
    frame = frame.sort_values(["percent_used", "scope"], ascending=[False, True], kind="stable")
    return frame.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------------- indexes

_IDENT = r'(?:"(?:[^"]|"")*"|[^\s".(),]+)'
_HEAD = re.compile(
    rf"""^\s*CREATE\s+(?P<unique>UNIQUE\s+)?INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?
    (?:(?:{_IDENT})\.)?(?P<name>{_IDENT})\s+ON\s+(?P<only>ONLY\s+)?
    (?:(?P<schema>{_IDENT})\.)?(?P<table>{_IDENT})\s+USING\s+(?P<method>\w+)\s*(?=\()""",
    re.IGNORECASE | re.VERBOSE,
)


@dataclass(frozen=True)
class IndexDef:
    """An index definition as pg_get_indexdef prints it, taken apart. Column elements keep their text
    (expression, COLLATE, operator class, ASC/DESC, NULLS FIRST/LAST) so two elements match only if equal."""

    name: str
    schema: str | None
    table: str
    method: str
    columns: tuple[str, ...]
    include: tuple[str, ...] = ()
    predicate: str | None = None
    unique: bool = False
    only: bool = False
    nulls_not_distinct: bool = False
    options: str | None = None

    @property
    def has_expressions(self) -> bool:
        return any(not re.fullmatch(_IDENT, column) for column in self.columns)


def _group(text: str, at: int) -> tuple[str, int]:
    """The text inside the parenthesis opening at ``text[at]`` and the index just after its closing one,
    skipping parentheses inside 'string literals' and "quoted identifiers"."""
    depth, i, quote = 0, at, None
    while i < len(text):
        char = text[i]
        if quote:
            if char == quote:
                if i + 1 < len(text) and text[i + 1] == quote:
                    i += 1
                else:
                    quote = None
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return text[at + 1 : i], i + 1
        i += 1
    raise DataError(f"index definition: unbalanced parentheses in {text!r}")


def _split(text: str) -> tuple[str, ...]:
    """Split at the commas outside parentheses, quotes and string literals."""
    parts, depth, quote, current = [], 0, None, []
    for char in text:
        if quote:
            quote = None if char == quote else quote  # a doubled quote closes and reopens: same result
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append("".join(current).strip())
    return tuple(" ".join(p.split()) if '"' not in p and "'" not in p else p for p in parts if p)


def parse_indexdef(text: str) -> IndexDef:
    """Take apart ``CREATE [UNIQUE] INDEX name ON [ONLY] schema.table USING method (cols) [INCLUDE (...)]
    [NULLS [NOT] DISTINCT] [WITH (...)] [TABLESPACE t] [WHERE predicate]``. Raises DataError if it is not one."""
    head = _HEAD.match(text) if isinstance(text, str) else None  # None: not read (the table was locked)
    if head is None:
        raise DataError(f"not an index definition as pg_get_indexdef prints it: {text!r}")
    inside, at = _group(text, head.end())
    fields: dict[str, Any] = {"include": (), "predicate": None, "nulls_not_distinct": False, "options": None}
    rest = text[at:]
    while rest.strip():
        rest = rest.lstrip()
        upper = rest.upper()
        if upper.startswith("INCLUDE"):
            content, end = _group(rest, rest.index("("))
            fields["include"], rest = _split(content), rest[end:]
        elif upper.startswith("NULLS NOT DISTINCT"):
            fields["nulls_not_distinct"], rest = True, rest[len("NULLS NOT DISTINCT") :]
        elif upper.startswith("NULLS DISTINCT"):
            rest = rest[len("NULLS DISTINCT") :]
        elif upper.startswith("WITH"):
            content, end = _group(rest, rest.index("("))
            fields["options"], rest = content, rest[end:]
        elif (tablespace := re.match(rf"TABLESPACE\s+{_IDENT}", rest, re.IGNORECASE)) is not None:
            rest = rest[tablespace.end() :]
        elif upper.startswith("WHERE"):
            fields["predicate"], rest = " ".join(rest[len("WHERE") :].split()), ""
        else:
            raise DataError(f"index definition: unexpected {rest[:40]!r} in {text!r}")
    return IndexDef(
        name=head["name"],
        schema=head["schema"],
        table=head["table"],
        method=head["method"].lower(),
        columns=_split(inside),
        unique=bool(head["unique"]),
        only=bool(head["only"]),
        **fields,
    )


def _covers(candidate: IndexDef, other: IndexDef) -> bool:
    """True when ``other`` makes ``candidate`` redundant: same method and predicate, candidate's columns a leading
    prefix of other's, candidate's INCLUDE columns among other's columns, and candidate's uniqueness kept."""
    if candidate.method != other.method or candidate.predicate != other.predicate:
        return False
    n = len(candidate.columns)
    if candidate.columns != other.columns[:n]:
        return False
    if not set(candidate.include) <= set(other.columns) | set(other.include):
        return False
    if candidate.unique:  # kept only by a unique index on the same columns, at least as strict about NULLs
        same = other.unique and other.columns == candidate.columns
        return same and (other.nulls_not_distinct or not candidate.nulls_not_distinct)
    return True


def find_duplicate_indexes(indexes: pd.DataFrame) -> pd.DataFrame:
    """Redundant indexes in a frame of index rows (datname, schemaname, relname, indexrelname, indexdef,
    is_unique, is_primary, is_valid, index_bytes): each index whose columns are a leading prefix of another
    valid index's on the same table, with the same access method and predicate (``_covers``). A primary key
    is never reported; of two identical indexes the one sorting later by name is (with its twin as
    ``covered_by``), unless only one of them is unique. Definitions that do not parse are skipped."""
    rows: list[dict[str, Any]] = []
    for (datname, schema, table), group in indexes.groupby(["datname", "schemaname", "relname"], sort=True):
        parsed = []
        for row in group.itertuples(index=False):
            try:
                definition = parse_indexdef(row.indexdef)
            except DataError:
                continue
            if bool(row.is_primary):
                definition = IndexDef(**{**definition.__dict__, "unique": True})
            parsed.append((row, definition))
        for row, candidate in parsed:
            if bool(row.is_primary):
                continue
            covering = []
            for other_row, other in parsed:
                if other_row.indexrelname == row.indexrelname or not _valid(other_row.is_valid):
                    continue
                if not _covers(candidate, other):
                    continue
                mutual = candidate.columns == other.columns and _covers(other, candidate)
                if mutual and not bool(other_row.is_primary) and row.indexrelname < other_row.indexrelname:
                    continue  # identical twins: report only the later name
                covering.append((len(other.columns), other_row.indexrelname, other_row))
            if covering:
                _, _, best = min(covering, key=lambda item: (item[0], item[1]))
                rows.append(
                    {
                        "datname": datname,
                        "schemaname": schema,
                        "relname": table,
                        "indexrelname": row.indexrelname,
                        "index_bytes": row.index_bytes,
                        "indexdef": row.indexdef,
                        "covered_by": best.indexrelname,
                        "covered_by_indexdef": best.indexdef,
                        "identical": candidate.columns == parse_indexdef(best.indexdef).columns,
                    }
                )
    columns = [
        "datname",
        "schemaname",
        "relname",
        "indexrelname",
        "index_bytes",
        "indexdef",
        "covered_by",
        "covered_by_indexdef",
        "identical",
    ]
    return pd.DataFrame(rows, columns=columns)


def _valid(value: Any) -> bool:
    return bool(value) if not pd.isna(value) else True


def _latest(con: duckdb.DuckDBPyConnection, table: str, server: str | None, end: Instant | None) -> pd.DataFrame:
    server = resolve_server(con, server, table)
    sql, params = latest_rows_sql(table, server, to_utc(end, "end"))
    return con.execute(sql, params).df()


def duplicate_indexes(
    con: duckdb.DuckDBPyConnection, server: str | None = None, end: Instant | None = None
) -> pd.DataFrame:
    """Redundant indexes as of the latest snapshot <= end (see ``find_duplicate_indexes``), largest first."""
    latest = _latest(con, "pg_indexes", server, end)
    found = find_duplicate_indexes(latest)
    found = found.sort_values(["index_bytes", "indexrelname"], ascending=[False, True], kind="stable")
    return found.reset_index(drop=True)


def invalid_indexes(
    con: duckdb.DuckDBPyConnection, server: str | None = None, end: Instant | None = None
) -> pd.DataFrame:
    """Indexes marked invalid (a failed CREATE INDEX CONCURRENTLY, REINDEX CONCURRENTLY) at the latest snapshot
    <= end: they cost writes and disk but serve no query. ``action``: drop, then create again."""
    latest = _latest(con, "pg_indexes", server, end)
    invalid = latest[latest["is_valid"].fillna(True) == False].copy()  # noqa: E712 - nullable booleans
    invalid["action"] = [
        f"DROP INDEX CONCURRENTLY {_quoted(s)}.{_quoted(i)}; then create it again"
        for s, i in zip(invalid["schemaname"], invalid["indexrelname"], strict=True)
    ]
    columns = ["server", "taken_at", "datname", "schemaname", "relname", "indexrelname", "index_bytes", "indexdef"]
    return invalid[[*columns, "action"]].rename(columns={"taken_at": "as_of"}).reset_index(drop=True)


def _quoted(identifier: str) -> str:
    return identifier if re.fullmatch(r"[a-z_][a-z0-9_$]*", identifier) else '"' + identifier.replace('"', '""') + '"'


def unused_indexes(
    con: duckdb.DuckDBPyConnection, server: str | None = None, start: Instant | None = None, end: Instant | None = None
) -> pd.DataFrame:
    """Indexes with no scan over the window (idx_scan delta 0 across at least one observed interval), neither
    unique nor primary (they enforce constraints) nor invalid (see ``invalid_indexes``), with their size at
    the latest snapshot <= end. ``observed_since``: the start of the first interval the index was seen in.
    Largest first."""
    server, start_, end_ = _window(con, server, start, end, "pg_indexes")
    frame = _with_deltas(
        con,
        "pg_indexes",
        ("datname", "schemaname", "indexrelname"),
        ("idx_scan", "idx_tup_read", "idx_tup_fetch"),
        ("relname", "index_bytes", "indexdef", "is_unique", "is_primary", "is_valid"),
        server,
        start_,
        end_,
    )
    unused = frame[
        (frame["intervals"] > 0)
        & (frame["idx_scan"].fillna(0) == 0)
        & ~frame["is_unique"].fillna(False).astype(bool)
        & ~frame["is_primary"].fillna(False).astype(bool)
        & frame["is_valid"].fillna(True).astype(bool)
    ]
    columns = [
        "server",
        "as_of",
        "datname",
        "schemaname",
        "relname",
        "indexrelname",
        "index_bytes",
        "idx_scan",
        "intervals",
        "observed_since",
        "indexdef",
    ]
    unused = unused.sort_values(["index_bytes", "indexrelname"], ascending=[False, True], kind="stable")
    return unused[columns].reset_index(drop=True)


#: Sequential scans dominate a table with at least this many live rows when seq_scan > idx_scan over the window.
SEQ_SCAN_MIN_ROWS = 10_000


def seq_scan_tables(
    con: duckdb.DuckDBPyConnection,
    server: str | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    min_rows: int = SEQ_SCAN_MIN_ROWS,
) -> pd.DataFrame:
    """Tables with >= ``min_rows`` live rows where sequential scans outnumber index scans over the window
    (deltas of seq_scan and idx_scan; a table without indexes has idx_scan 0). Most rows read first."""
    frame = table_activity(con, server, start, end)
    frame["idx_scan"] = frame["idx_scan"].fillna(0)
    frame["seq_scan"] = frame["seq_scan"].fillna(0)
    hits = frame[(frame["intervals"] > 0) & (frame["seq_scan"] > frame["idx_scan"]) & (frame["n_live_tup"] >= min_rows)]
    hits = hits.assign(seq_scan_share=hits["seq_scan"] / (hits["seq_scan"] + hits["idx_scan"]))
    columns = ["server", "as_of", *_TABLE_KEY, "n_live_tup", "seq_scan", "idx_scan", "seq_scan_share", "seq_tup_read"]
    hits = hits.sort_values(["seq_tup_read", "relname"], ascending=[False, True], kind="stable")
    return hits[columns].reset_index(drop=True)


#: Cache hit ratio: flag below this share of block accesses served from shared buffers ...
CACHE_HIT_MIN_RATIO = 0.99
#: ... for a table whose heap (or indexes) saw at least this many block accesses over the window.
CACHE_MIN_BLOCKS = 1_000


def _ratio(hit: pd.Series, read: pd.Series) -> pd.Series:
    total = hit.fillna(0) + read.fillna(0)
    return (hit.fillna(0) / total.where(total > 0)).astype("float64")


def cache_hit_ratios(
    con: duckdb.DuckDBPyConnection,
    server: str | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    min_ratio: float = CACHE_HIT_MIN_RATIO,
) -> pd.DataFrame:
    """Per database, over the window: ``hit_ratio`` of all its block accesses (pg_stat_database), and of its
    tables' heap and index blocks (pg_statio_user_tables deltas summed, for the databases whose tables are
    collected). ``below`` when any of the three is under ``min_ratio``."""
    server, start_, end_ = _window(con, server, start, end, "pg_databases")
    sql, params = window_deltas_sql("pg_databases", ("datname",), ("blks_hit", "blks_read"), server, start_, end_)
    databases = con.execute(sql, params).df()[["datname", "blks_hit", "blks_read"]]
    tables = table_activity(con, server, start, end)
    statio = tables.groupby("datname", as_index=False)[
        ["heap_blks_hit", "heap_blks_read", "idx_blks_hit", "idx_blks_read"]
    ]
    frame = databases.merge(statio.sum(min_count=1), on="datname", how="outer")
    frame["hit_ratio"] = _ratio(frame["blks_hit"], frame["blks_read"])
    frame["heap_hit_ratio"] = _ratio(frame["heap_blks_hit"], frame["heap_blks_read"])
    frame["index_hit_ratio"] = _ratio(frame["idx_blks_hit"], frame["idx_blks_read"])
    frame["below"] = (frame[["hit_ratio", "heap_hit_ratio", "index_hit_ratio"]] < min_ratio).any(axis=1)
    frame.insert(0, "server", server)
    return frame.sort_values("datname").reset_index(drop=True)


def tables_low_cache_hit(
    con: duckdb.DuckDBPyConnection,
    server: str | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    min_ratio: float = CACHE_HIT_MIN_RATIO,
    min_blocks: int = CACHE_MIN_BLOCKS,
) -> pd.DataFrame:
    """Tables whose heap or index cache hit ratio over the window is under ``min_ratio``, counting only a part
    (heap, indexes) with at least ``min_blocks`` block accesses. Most blocks read first."""
    frame = table_activity(con, server, start, end)
    frame["heap_hit_ratio"] = _ratio(frame["heap_blks_hit"], frame["heap_blks_read"])
    frame["index_hit_ratio"] = _ratio(frame["idx_blks_hit"], frame["idx_blks_read"])
    heap_blocks = frame["heap_blks_hit"].fillna(0) + frame["heap_blks_read"].fillna(0)
    index_blocks = frame["idx_blks_hit"].fillna(0) + frame["idx_blks_read"].fillna(0)
    low = ((heap_blocks >= min_blocks) & (frame["heap_hit_ratio"] < min_ratio)) | (
        (index_blocks >= min_blocks) & (frame["index_hit_ratio"] < min_ratio)
    )
    columns = [
        "server",
        "as_of",
        *_TABLE_KEY,
        "heap_blks_hit",
        "heap_blks_read",
        "heap_hit_ratio",
        "idx_blks_hit",
        "idx_blks_read",
        "index_hit_ratio",
    ]
    found = frame[low.fillna(False)]
    found = found.assign(_read=found["heap_blks_read"].fillna(0) + found["idx_blks_read"].fillna(0))
    return found.sort_values("_read", ascending=False, kind="stable")[columns].reset_index(drop=True)


# ---------------------------------------------------------------------------------------- sequences, growth

#: Sequences: flag when last_value has used this share of the way to the sequence's limit.
SEQUENCE_MIN_RATIO = 0.90
#: ... and say how long it lasts at the pace of this many days before the snapshot.
SEQUENCE_PACE_DAYS = 30
_TYPE_MAX = {"smallint": 2**15 - 1, "integer": 2**31 - 1, "bigint": 2**63 - 1}


def sequences_near_limit(
    con: duckdb.DuckDBPyConnection,
    server: str | None = None,
    end: Instant | None = None,
    *,
    min_ratio: float = SEQUENCE_MIN_RATIO,
    monitor_role: str | None = None,
) -> pd.DataFrame:
    """Sequences at or above ``min_ratio`` of their limit, and sequences whose last_value is unknown, as of the
    latest snapshot <= end.

    ``used_ratio`` is the share of the sequence's range already used: (last_value - min_value) / (max_value -
    min_value) for an ascending sequence (increment_by > 0), (max_value - last_value) / (max_value - min_value)
    for a descending one. Where min_value was not collected (before schema version 2) it is last_value /
    max_value, or last_value over the type's minimum for a descending sequence. ``type_max`` is the data
    type's maximum. The ``action`` says what lifts the limit: widening the type, or the sequence's own
    MAXVALUE / MINVALUE when it is set inside the type's range. A sequence owned by a column (serial,
    identity, OWNED BY) of a narrower type runs out at the column's maximum (or minimum) first: a bigint
    sequence feeding an integer column fails at 2**31 - 1, so that is its limit, and the action widens the
    column. A NULL last_value means the collector's role may not read the sequence (or it was never used):
    ``status`` "unknown" and ``action`` the GRANT it needs (``monitor_role`` defaults to the role of the last
    PostgreSQL collection).
    """
    frame = _latest(con, "pg_sequences", server, end)
    for column in ("owner_table", "owner_column", "column_type"):  # NULL in rows from before schema 4
        frame[column] = frame[column] if column in frame else pd.Series(None, index=frame.index, dtype="object")
    role = monitor_role or _collector_role(con) or "<monitor role>"
    data_type = frame["data_type"].astype("str").str.lower()
    type_max = data_type.map(_TYPE_MAX).astype("float64")
    last = frame["last_value"].astype("float64")
    descending = frame["increment_by"].fillna(1) < 0
    min_value = frame["min_value"] if "min_value" in frame else pd.Series(np.nan, index=frame.index)
    low, high = min_value.astype("float64"), frame["max_value"].astype("float64")
    column_type = frame["column_type"].astype("str").str.lower()
    column_max = column_type.map(_TYPE_MAX).astype("float64")  # NaN: not owned by a column (or not collected)
    column_bound = pd.Series(np.where(descending, low < -column_max - 1, high > column_max), index=frame.index)
    high = high.mask(column_bound & ~descending, column_max)  # the column's maximum comes first
    low = low.mask(column_bound & descending, -column_max - 1)
    limit = np.where(descending, low.fillna(-type_max - 1), high)
    span = (high - low).where(high > low)
    ranged = np.where(descending, (high - last) / span, (last - low) / span)
    legacy = last / limit
    frame["min_value"] = min_value
    frame["type_max"] = type_max
    frame["limit_value"] = limit
    frame["used_ratio"] = np.clip(np.where(low.notna(), ranged, legacy), 0.0, None)
    frame["remaining_values"] = np.abs(limit - last)
    frame = _sequence_pace(con, frame)
    unknown = frame["last_value"].isna()
    near = (frame["used_ratio"] >= min_ratio).fillna(False)
    frame["status"] = np.where(unknown, "unknown", "near limit")
    names = [f"{_quoted(s)}.{_quoted(q)}" for s, q in zip(frame["schemaname"], frame["sequencename"], strict=True)]
    type_bound = np.where(descending, -type_max - 1, type_max)
    owners = zip(frame["owner_table"], frame["owner_column"], column_type, strict=True)
    frame["action"] = [
        _column_action(owner, name, role if is_unknown else None)
        if bound
        else _sequence_action(name, role, is_unknown, kind, is_down, at_type_bound)
        for name, is_unknown, kind, is_down, at_type_bound, bound, owner in zip(
            names, unknown, data_type, descending, limit == type_bound, column_bound, owners, strict=True
        )
    ]
    found = frame[unknown | near].rename(columns={"taken_at": "as_of"})
    columns = [
        "server",
        "as_of",
        "datname",
        "schemaname",
        "sequencename",
        "data_type",
        "owner_table",
        "owner_column",
        "column_type",
        "last_value",
        "increment_by",
        "min_value",
        "max_value",
        "limit_value",
        "type_max",
        "used_ratio",
        "remaining_values",
        "values_per_day",
        "days_left",
        "status",
        "action",
    ]
    found = found.sort_values(["used_ratio", "sequencename"], ascending=[False, True], na_position="last")
    return found[columns].reset_index(drop=True)


def _sequence_pace(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> pd.DataFrame:
    """``values_per_day`` each sequence moved over the SEQUENCE_PACE_DAYS before its snapshot, and
    ``days_left`` at that pace (NaN when it did not move, or without an earlier snapshot)."""
    if frame.empty:
        return frame.assign(values_per_day=pd.Series(dtype="float64"), days_left=pd.Series(dtype="float64"))
    as_of = pd.Timestamp(frame["taken_at"].max())
    earlier = con.execute(
        """
        SELECT datname, schemaname, sequencename, arg_min(last_value, taken_at) AS first_value,
               min(taken_at) AS first_at
        FROM pg_sequences
        WHERE server = ? AND taken_at >= ? AND taken_at < ? AND last_value IS NOT NULL
        GROUP BY ALL
        """,
        [str(frame["server"].iloc[0]), as_of - timedelta(days=SEQUENCE_PACE_DAYS), as_of],
    ).df()
    merged = frame.merge(earlier, on=["datname", "schemaname", "sequencename"], how="left")
    days = (
        pd.to_datetime(merged["taken_at"], utc=True) - pd.to_datetime(merged["first_at"], utc=True)
    ).dt.total_seconds() / 86_400
    moved = (merged["last_value"].astype("float64") - merged["first_value"].astype("float64")).abs()
    pace = (moved / days).where((days > 0) & (moved > 0))
    return merged.drop(columns=["first_value", "first_at"]).assign(
        values_per_day=pace, days_left=merged["remaining_values"] / pace
    )


def _sequence_action(name: str, role: str, unknown: bool, data_type: str, descending: bool, at_type_bound: bool) -> str:
    """What to do about one flagged sequence."""
    if unknown:
        return f"GRANT SELECT ON SEQUENCE {name} TO {role} (or it has never been used)"
    if not at_type_bound:
        bound = "MINVALUE (lower it)" if descending else "MAXVALUE (raise it)"
        return f"ALTER SEQUENCE {name} {bound}: its own limit, inside the {data_type} range, is near"
    if data_type != "bigint":
        return f"ALTER SEQUENCE {name} AS bigint (and its column to bigint) before it runs out"
    return f"{name} is near the end of bigint: plan a new key (a wider type does not exist)"


def _column_action(owner: tuple[str, str, str], name: str, role: str | None) -> str:
    """What to do about a sequence whose owning column's type runs out before the sequence does; with a
    ``role``, its last value is unknown: first see how far it is (widening a column rewrites the table)."""
    table, column, kind = owner
    if role is not None:
        where = f"{table}.{column}"
        return f"GRANT SELECT ON SEQUENCE {name} TO {role} to see how near its {kind} column {where} is to full"
    widen = f"ALTER TABLE {table} ALTER COLUMN {_quoted(column)} TYPE bigint"
    return f"its column {table}.{column} is {kind} and runs out first: {widen}"


def _collector_role(con: duckdb.DuckDBPyConnection) -> str | None:
    target = scalar(
        con,
        "SELECT target FROM collection_runs WHERE source = 'postgres' AND status = 'ok' "
        "ORDER BY started_at DESC LIMIT 1",
    )
    match = re.search(r"\(([^@()\s]+)@", target or "")
    return match.group(1) if match else None


_WEEK_SECONDS = 7 * 86_400


def _growth(
    con: duckdb.DuckDBPyConnection, table: str, key: tuple[str, ...], value: str, server: str | None,
    start: Instant | None, end: Instant | None,
) -> pd.DataFrame:  # fmt: skip
    server, start_, end_ = _window(con, server, start, end, table)
    keys = ", ".join(key)
    frame = con.execute(
        f"""
        SELECT server, {keys}, count(*) AS snapshots, min(taken_at) AS first_at, max(taken_at) AS last_at,
               arg_min({value}, taken_at) AS first_bytes, arg_max({value}, taken_at) AS last_bytes,
               regr_slope({value}, epoch(taken_at)) * {_WEEK_SECONDS} AS bytes_per_week,
               regr_r2({value}, epoch(taken_at)) AS r2
        FROM {table}
        WHERE server = ? AND (?::TIMESTAMPTZ IS NULL OR taken_at >= ?) AND (?::TIMESTAMPTZ IS NULL OR taken_at <= ?)
          AND {value} IS NOT NULL
        GROUP BY server, {keys}
        ORDER BY bytes_per_week DESC NULLS LAST, {keys}
        """,
        [server, start_, start_, end_, end_],
    ).df()
    return frame


def table_growth(
    con: duckdb.DuckDBPyConnection, server: str | None = None, start: Instant | None = None, end: Instant | None = None
) -> pd.DataFrame:
    """Each table's growth over the snapshots in [start, end]: ``bytes_per_week`` is the least-squares slope
    of total_bytes (table + indexes + TOAST) against time, with its ``r2``; NaN from fewer than 2 snapshots.
    Fastest growing first."""
    return _growth(con, "pg_tables", _TABLE_KEY, "total_bytes", server, start, end)


def database_growth(
    con: duckdb.DuckDBPyConnection, server: str | None = None, start: Instant | None = None, end: Instant | None = None
) -> pd.DataFrame:
    """Each database's growth over the snapshots in [start, end]: least-squares slope of its size, bytes/week."""
    return _growth(con, "pg_databases", ("datname",), "size_bytes", server, start, end)


# ---------------------------------------------------------------------------------------------- connections

#: Connections used as % of max_connections: warning from this (the seed's db_connections band) ...
CONNECTIONS_WARNING_PERCENT = 70.0
#: ... critical above this.
CONNECTIONS_CRITICAL_PERCENT = 85.0


def connection_bands(config: PlatformConfig) -> dict[str, float]:
    """The config's db_connections bands as keyword arguments: ``connection_usage(con, **connection_bands(c))``."""
    band = config.indicators.get("db_connections")
    if band is None:
        return {"warning": CONNECTIONS_WARNING_PERCENT, "critical": CONNECTIONS_CRITICAL_PERCENT}
    return {"warning": band.warning, "critical": band.critical}


def _band(percent: pd.Series, warning: float, critical: float) -> np.ndarray:
    return np.select([percent > critical, percent >= warning], ["critical", "warning"], "healthy")


def connection_usage(
    con: duckdb.DuckDBPyConnection,
    server: str | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    warning: float = CONNECTIONS_WARNING_PERCENT,
    critical: float = CONNECTIONS_CRITICAL_PERCENT,
) -> pd.DataFrame:
    """Per snapshot in [start, end]: client sessions (all states, the collector's own excluded) as
    ``percent_used`` of max_connections, and its ``status``: healthy below ``warning``, warning from
    ``warning`` up to ``critical``, critical above ``critical`` (the health module's rule)."""
    server, start_, end_ = _window(con, server, start, end, "pg_snapshots")
    frame = con.execute(
        """
        SELECT s.server, s.taken_at, coalesce(sum(a.sessions), 0)::BIGINT AS sessions, s.max_connections,
               coalesce(sum(a.sessions) FILTER (WHERE a.state = 'active'), 0)::BIGINT AS active,
               coalesce(sum(a.sessions) FILTER (WHERE a.state LIKE 'idle in transaction%'), 0)::BIGINT
                   AS idle_in_transaction,
               coalesce(sum(a.waiting), 0)::BIGINT AS waiting
        FROM pg_snapshots s LEFT JOIN pg_activity a USING (server, taken_at)
        WHERE s.server = ? AND (?::TIMESTAMPTZ IS NULL OR s.taken_at >= ?)
          AND (?::TIMESTAMPTZ IS NULL OR s.taken_at <= ?)
        GROUP BY s.server, s.taken_at, s.max_connections
        ORDER BY s.taken_at
        """,
        [server, start_, start_, end_, end_],
    ).df()
    frame["percent_used"] = (100.0 * frame["sessions"] / frame["max_connections"]).astype("float64")
    frame["status"] = _band(frame["percent_used"], warning, critical)
    return frame


def connections_by_state(
    con: duckdb.DuckDBPyConnection, server: str | None = None, start: Instant | None = None, end: Instant | None = None
) -> pd.DataFrame:
    """Per snapshot in [start, end] and session state: sessions, those waiting on a lock, and the longest
    running query / open transaction in seconds, over all databases."""
    server, start_, end_ = _window(con, server, start, end, "pg_activity")
    return con.execute(
        """
        SELECT server, taken_at, state, sum(sessions)::BIGINT AS sessions, sum(waiting)::BIGINT AS waiting,
               max(longest_query_seconds) AS longest_query_seconds, max(longest_xact_seconds) AS longest_xact_seconds
        FROM pg_activity
        WHERE server = ? AND (?::TIMESTAMPTZ IS NULL OR taken_at >= ?) AND (?::TIMESTAMPTZ IS NULL OR taken_at <= ?)
        GROUP BY server, taken_at, state ORDER BY taken_at, sessions DESC, state
        """,
        [server, start_, start_, end_, end_],
    ).df()


@dataclass(frozen=True)
class ConnectionSummary:
    """Connections at the latest snapshot of a window, and the window's peak."""

    server: str
    as_of: datetime
    sessions: int
    max_connections: int
    percent_used: float
    status: str
    peak_percent: float
    peak_at: datetime
    peak_status: str
    by_state: tuple[tuple[str, int], ...]

    def describe(self, tz: ZoneInfo | None = None) -> list[str]:
        """The summary as sentences for a report, times in ``tz`` (default UTC)."""

        def when(moment: datetime) -> str:
            return moment.astimezone(tz or UTC).strftime("%Y-%m-%d %H:%M %Z")

        states = ", ".join(f"{state} {count:,}" for state, count in self.by_state)
        return [
            f"{self.sessions:,} of {self.max_connections:,} connections (max_connections) in use at "
            f"{when(self.as_of)}: {self.percent_used:.0f} %, {self.status}" + (f" ({states})." if states else "."),
            f"Busiest moment of the window: {self.peak_percent:.0f} % at {when(self.peak_at)} ({self.peak_status}).",
        ]


def connection_summary(
    con: duckdb.DuckDBPyConnection,
    server: str | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    warning: float = CONNECTIONS_WARNING_PERCENT,
    critical: float = CONNECTIONS_CRITICAL_PERCENT,
) -> ConnectionSummary:
    """The latest snapshot's usage, status and sessions by state, and the peak over [start, end]."""
    usage = connection_usage(con, server, start, end, warning=warning, critical=critical)
    if usage.empty:
        raise DataError(f"pg_snapshots: no snapshot between {start} and {end}")
    last = usage.iloc[-1]
    peak = usage.loc[usage["percent_used"].idxmax()]
    states = connections_by_state(con, str(last["server"]), last["taken_at"], last["taken_at"])
    return ConnectionSummary(
        server=str(last["server"]),
        as_of=pd.Timestamp(last["taken_at"]).to_pydatetime(),
        sessions=int(last["sessions"]),
        max_connections=int(last["max_connections"]),
        percent_used=float(last["percent_used"]),
        status=str(last["status"]),
        peak_percent=float(peak["percent_used"]),
        peak_at=pd.Timestamp(peak["taken_at"]).to_pydatetime(),
        peak_status=str(peak["status"]),
        by_state=tuple((str(s), int(n)) for s, n in zip(states["state"], states["sessions"], strict=True)),
    )


#: Long-running sessions: an active query or an open transaction at least this old.
LONG_SESSION_SECONDS = 60.0


def long_sessions(
    con: duckdb.DuckDBPyConnection,
    server: str | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    min_seconds: float = LONG_SESSION_SECONDS,
) -> pd.DataFrame:
    """Sessions seen in pg_long_sessions in [start, end] running a query, or idle in a transaction, for at
    least ``min_seconds`` (the collector stores those above its own long_session_seconds). One row per session
    (pid and transaction or query start): first/last seen, the longest duration observed, the latest state
    and query (first 1000 characters), and ``idle_in_transaction``. Longest first."""
    server, start_, end_ = _window(con, server, start, end, "pg_long_sessions")
    return con.execute(
        """
        SELECT server, pid, coalesce(xact_start, query_start) AS started_at, any_value(datname) AS datname,
               any_value(username) AS username, any_value(application) AS application,
               arg_max(state, taken_at) AS state, min(taken_at) AS first_seen, max(taken_at) AS last_seen,
               max(duration_seconds) AS duration_seconds, arg_max(query, taken_at) AS query,
               bool_or(state LIKE 'idle in transaction%') AS idle_in_transaction
        FROM pg_long_sessions
        WHERE server = ? AND (?::TIMESTAMPTZ IS NULL OR taken_at >= ?) AND (?::TIMESTAMPTZ IS NULL OR taken_at <= ?)
        GROUP BY server, pid, coalesce(xact_start, query_start)
        HAVING max(duration_seconds) >= ?
        ORDER BY duration_seconds DESC, pid
        """,
        [server, start_, start_, end_, end_, min_seconds],
    ).df()


def idle_in_transaction_sessions(
    con: duckdb.DuckDBPyConnection,
    server: str | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    min_seconds: float = LONG_SESSION_SECONDS,
) -> pd.DataFrame:
    """The ``long_sessions`` that were idle in a transaction (holding locks and snapshots, blocking VACUUM)."""
    sessions = long_sessions(con, server, start, end, min_seconds=min_seconds)
    return sessions[sessions["idle_in_transaction"].fillna(False).astype(bool)].reset_index(drop=True)
