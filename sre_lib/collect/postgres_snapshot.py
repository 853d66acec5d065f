"""PostgreSQL snapshots into the warehouse: pg_stat_statements and the other pg_stat_* views, with psycopg 3.

Least privilege, no harm: it needs only a role with ``pg_monitor``; every session is read-only with a
statement_timeout and a lock_timeout; a snapshot is one REPEATABLE READ transaction per database, so all
its views agree. pg_stat_statements is never reset: raw counters are stored and analyses take deltas.
A failure at any point (missing extension, missing privilege, dropped connection) writes nothing and is
logged as a failed run with a one-line reason that names the server but never its password.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
import psycopg
from psycopg import errors as pg_errors
from psycopg.sql import Identifier

from sre_lib.collect import pgss_columns
from sre_lib.config import PlatformConfig
from sre_lib.errors import CollectionError
from sre_lib.secrets import read_secret_file, redact, redact_statement
from sre_lib.warehouse.store import Warehouse

APPLICATION_NAME = "sre-workbench"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PostgresTarget:
    """Connection settings resolved from the config and the environment. The password never prints."""

    server: str
    host: str
    port: int | str  # a str lists one port per host of a multi-host target ("5432,5433")
    dbname: str
    user: str
    databases: tuple[str, ...]
    password: str | None = field(default=None, repr=False)
    connect_timeout_seconds: int = 10
    statement_timeout_ms: int = 5000
    lock_timeout_ms: int = 1000
    long_session_seconds: float = 60.0
    # Other libpq parameters of SRE_PG_DSN (sslmode, sslrootcert, target_session_attrs, ...), passed on as given
    libpq_params: Mapping[str, str] = field(default_factory=dict, repr=False)

    def describe(self, dbname: str | None = None) -> str:
        return f"{self.server} ({self.user}@{self.host}:{self.port}/{dbname or self.dbname})"

    def connect(self, dbname: str | None = None) -> psycopg.Connection:
        options = (
            "-c default_transaction_read_only=on "
            f"-c statement_timeout={self.statement_timeout_ms} -c lock_timeout={self.lock_timeout_ms}"
        )
        if self.libpq_params.get("options"):  # the DSN's own options first: ours, the safety net, win
            options = f"{self.libpq_params['options']} {options}"
        params: dict[str, Any] = {
            **self.libpq_params,
            "host": self.host,
            "port": self.port,
            "dbname": dbname or self.dbname,
            "user": self.user,
            "connect_timeout": self.connect_timeout_seconds,
            "application_name": APPLICATION_NAME,
            "options": options,
        }
        if self.password is not None:
            params["password"] = self.password
        return psycopg.connect(**params)


def postgres_target(config: PlatformConfig, env: Mapping[str, str] | None = None) -> PostgresTarget:
    """Settings from [sources.postgres], overridden by SRE_PG_DSN, then by libpq's PG* variables."""
    env = os.environ if env is None else env
    source = config.sources.postgres
    settings: dict[str, Any] = {
        "host": source.host,
        "port": source.port,
        "dbname": source.dbname,
        "user": source.user,
        "password": None,
    }
    extra: dict[str, str] = {}
    if env.get("SRE_PG_DSN"):
        try:
            parsed = psycopg.conninfo.conninfo_to_dict(env["SRE_PG_DSN"])
        except psycopg.ProgrammingError:
            raise CollectionError("SRE_PG_DSN is not a valid libpq connection string or URI") from None
        settings.update({k: v for k, v in parsed.items() if k in settings})
        extra = {k: str(v) for k, v in parsed.items() if k not in settings and k != "application_name"}
    for variable, key in (
        ("PGHOST", "host"),
        ("PGPORT", "port"),
        ("PGDATABASE", "dbname"),
        ("PGUSER", "user"),
        ("PGPASSWORD", "password"),
    ):
        if env.get(variable):
            settings[key] = env[variable]
    if settings["password"] is None and source.password_file:
        settings["password"] = read_secret_file(source.password_file, f"{config.source}: sources.postgres")
    return PostgresTarget(
        server=source.server,
        host=str(settings["host"]),
        port=_port(settings["port"]),
        dbname=str(settings["dbname"]),
        user=str(settings["user"]),
        password=settings["password"],
        databases=source.databases or (str(settings["dbname"]),),
        connect_timeout_seconds=source.connect_timeout_seconds,
        statement_timeout_ms=source.statement_timeout_ms,
        lock_timeout_ms=source.lock_timeout_ms,
        long_session_seconds=source.long_session_seconds,
        libpq_params=extra,
    )


def _port(value: Any) -> int | str:
    """A port number, or a comma-separated list of them for a multi-host target."""
    text = str(value).strip()
    if all(part.strip().isdigit() for part in text.split(",")):
        return int(text) if "," not in text else text
    # The value is not shown: in a URI whose password holds an unencoded "/", libpq reads part of it as the port.
    raise CollectionError(
        "PostgreSQL port (from SRE_PG_DSN, PGPORT or sources.postgres.port): expected a number; in an SRE_PG_DSN "
        "URI, percent-encode a password's '/', '?', '#' or '@'"
    )


# ---------------------------------------------------------------------------------------------- the queries
# Each reads one view; {db} is the current database. All run inside one read-only transaction.

_SERVER_FACTS = """
SELECT now() AS taken_at,
       current_setting('server_version_num')::int AS server_version_num,
       (SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements') AS pgss_version,
       current_setting('max_connections')::int AS max_connections
"""
# The extension's views live in the schema it was created in (CREATE EXTENSION ... SCHEMA monitoring), which
# need not be on the role's search_path: every reference is qualified with it ({schema}, quoted).
_PGSS_SCHEMA = """
SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'pg_stat_statements'
"""
_PGSS_INFO = "SELECT dealloc AS pgss_dealloc, stats_reset AS pgss_stats_reset FROM {schema}.pg_stat_statements_info"
_PGSS_INFO_SINCE = (1, 9)  # pg_stat_statements_info came with extension version 1.9 (PostgreSQL 14)
_PGSS_COLUMNS = """
SELECT a.attname FROM pg_attribute a
WHERE a.attrelid = %(view)s::regclass AND a.attnum > 0 AND NOT a.attisdropped
"""
# pg_table_size() and its kin take an AccessShareLock, which waits behind an AccessExclusiveLock held or
# awaited (ALTER TABLE, VACUUM FULL, TRUNCATE, REINDEX, a migration): past lock_timeout the whole snapshot would
# fail. Such relations (a table also when one of its indexes or its TOAST table is locked) are measured from
# pg_class.relpages instead, as of their last VACUUM or ANALYZE, which needs no lock; size_estimated says so.
# pg_get_indexdef() waits for a lock on the index's table too: an index of a locked table has no indexdef then.
_LOCKED = """
locked AS (
    SELECT l.relation AS oid FROM pg_locks l
    WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock'
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
),
locked_tables AS (
    SELECT oid FROM locked
    UNION SELECT i.indrelid FROM pg_index i JOIN locked l ON l.oid = i.indexrelid
    UNION SELECT c.oid FROM pg_class c JOIN locked l ON l.oid = c.reltoastrelid
    UNION SELECT c.oid FROM pg_class c JOIN pg_index i ON i.indrelid = c.reltoastrelid
          JOIN locked l ON l.oid = i.indexrelid  -- an index of its TOAST table
)"""
_TABLES = f"""
WITH {_LOCKED}
SELECT current_database() AS datname, s.schemaname, s.relname, s.seq_scan, s.seq_tup_read, s.idx_scan,
       s.idx_tup_fetch, s.n_tup_ins, s.n_tup_upd, s.n_tup_del, s.n_live_tup, s.n_dead_tup, s.n_mod_since_analyze,
       s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze, s.vacuum_count, s.autovacuum_count,
       s.analyze_count, s.autoanalyze_count, io.heap_blks_read, io.heap_blks_hit, io.idx_blks_read,
       io.idx_blks_hit,
       CASE WHEN estimated THEN table_pages * block_size ELSE pg_table_size(s.relid) END AS table_bytes,
       CASE WHEN estimated THEN (table_pages + index_pages) * block_size
            ELSE pg_total_relation_size(s.relid) END AS total_bytes,
       estimated AS size_estimated, age(c.relfrozenxid)::bigint AS frozen_xid_age, s.relid::bigint AS relid
FROM pg_stat_user_tables s
JOIN pg_statio_user_tables io USING (relid)
JOIN pg_class c ON c.oid = s.relid
CROSS JOIN LATERAL (
    SELECT s.relid IN (SELECT oid FROM locked_tables) AS estimated,
           current_setting('block_size')::bigint AS block_size,
           c.relpages::bigint + coalesce((SELECT t.relpages FROM pg_class t WHERE t.oid = c.reltoastrelid), 0)
               AS table_pages,
           coalesce((SELECT sum(ic.relpages) FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                     WHERE i.indrelid = s.relid), 0)::bigint AS index_pages
) size
"""
_INDEXES = f"""
WITH {_LOCKED}
SELECT current_database() AS datname, s.schemaname, s.relname, s.indexrelname, s.idx_scan, s.idx_tup_read,
       s.idx_tup_fetch,
       CASE WHEN estimated THEN ic.relpages::bigint * current_setting('block_size')::bigint
            ELSE pg_relation_size(s.indexrelid) END AS index_bytes,
       estimated AS size_estimated,
       CASE WHEN estimated THEN NULL ELSE pg_get_indexdef(s.indexrelid) END AS indexdef,
       i.indisunique AS is_unique, i.indisprimary AS is_primary, i.indisvalid AS is_valid,
       s.indexrelid::bigint AS indexrelid
FROM pg_stat_user_indexes s JOIN pg_index i USING (indexrelid)
JOIN pg_class ic ON ic.oid = s.indexrelid
CROSS JOIN LATERAL (
    SELECT s.indexrelid IN (SELECT oid FROM locked) OR s.relid IN (SELECT oid FROM locked_tables) AS estimated
) size
"""
# A sequence owned by a column (serial, identity, OWNED BY) runs out at the column's type too: a bigint sequence
# feeding an integer column (every serial made before PostgreSQL 10) fails at 2**31 - 1, far below its maximum.
_SEQUENCES = """
SELECT current_database() AS datname, s.schemaname, s.sequencename, s.data_type::text AS data_type, s.last_value,
       s.max_value, s.increment_by, s.min_value,
       quote_ident(tn.nspname) || '.' || quote_ident(t.relname) AS owner_table, a.attname::text AS owner_column,
       format_type(a.atttypid, NULL) AS column_type
FROM pg_sequences s
JOIN pg_namespace n ON n.nspname = s.schemaname
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = s.sequencename
LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
     AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
LEFT JOIN pg_class t ON t.oid = d.refobjid
LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
"""
_DATABASES = """
SELECT d.datname, pg_database_size(d.oid) AS size_bytes, age(d.datfrozenxid)::bigint AS xid_age,
       s.numbackends, s.xact_commit, s.xact_rollback, s.blks_read, s.blks_hit, s.temp_bytes, s.deadlocks,
       s.stats_reset
FROM pg_database d JOIN pg_stat_database s ON s.datid = d.oid
WHERE d.datallowconn AND NOT d.datistemplate
"""
_ACTIVITY = """
SELECT coalesce(datname, '') AS datname, coalesce(state, 'unknown') AS state, count(*)::int AS sessions,
       (count(*) FILTER (WHERE wait_event_type = 'Lock'))::int AS waiting,
       (max(extract(epoch FROM now() - query_start)) FILTER (WHERE state = 'active'))::float8
           AS longest_query_seconds,
       max(extract(epoch FROM now() - xact_start))::float8 AS longest_xact_seconds
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
GROUP BY 1, 2
"""
_LONG_SESSIONS = """
SELECT pid, datname, usename AS username, application_name AS application, state, xact_start, query_start,
       state_change,
       extract(epoch FROM now() - CASE WHEN state = 'active' THEN query_start ELSE xact_start END)::float8
           AS duration_seconds,
       left(query, 1000) AS query
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
  AND ((state = 'active' AND now() - query_start > make_interval(secs => %(threshold)s))
       OR (state LIKE 'idle in transaction%%' AND now() - xact_start > make_interval(secs => %(threshold)s)))
"""
_ARCHIVER = """
SELECT current_setting('archive_mode') AS archive_mode, archived_count, last_archived_wal, last_archived_time,
       failed_count, last_failed_wal, last_failed_time, stats_reset
FROM pg_stat_archiver
"""
_REPLICATION = """
SELECT coalesce(application_name, '') AS application_name, coalesce(client_addr::text, '') AS client_addr, state,
       sync_state, sent_lsn::text AS sent_lsn, replay_lsn::text AS replay_lsn,
       pg_wal_lsn_diff(sent_lsn, replay_lsn)::bigint AS replay_lag_bytes,
       extract(epoch FROM write_lag)::float8 AS write_lag_seconds,
       extract(epoch FROM flush_lag)::float8 AS flush_lag_seconds,
       extract(epoch FROM replay_lag)::float8 AS replay_lag_seconds,
       (SELECT s.slot_type FROM pg_replication_slots s WHERE s.active_pid = r.pid) AS slot_type
FROM pg_stat_replication r
"""
_SLOTS = """
SELECT slot_name, slot_type, active,
       CASE WHEN pg_is_in_recovery() THEN NULL
            WHEN restart_lsn IS NULL THEN 0  -- no WAL reserved yet (or the slot lost it): it holds none back
            ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint END AS retained_bytes,
       to_jsonb(s) ->> 'wal_status' AS wal_status  -- PG >= 13: reserved, extended, unreserved, lost
FROM pg_replication_slots s
"""


# int2, int4, int8, oid: kept as exact nullable integers. pandas would make a column with a NULL float64,
# which cannot hold a bigint beyond 2**53 (a sequence near its limit) and overflows the warehouse's BIGINT.
_INTEGER_TYPE_OIDS = frozenset({20, 21, 23, 26})
_NUMERIC_TYPE_OID = 1700  # numeric (pg_stat_statements' wal_bytes): a Decimal per row, stored as a double


def _frame(con: psycopg.Connection, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    cursor = con.execute(sql, params)
    rows = cursor.fetchall()
    columns: dict[str, Any] = {}
    for position, column in enumerate(cursor.description):
        values = [row[position] for row in rows]
        if column.type_code in _INTEGER_TYPE_OIDS:
            columns[column.name] = pd.array(values, dtype="Int64")
        elif column.type_code == _NUMERIC_TYPE_OID:
            columns[column.name] = pd.array([None if v is None else float(v) for v in values], dtype="Float64")
        else:
            columns[column.name] = values
    return pd.DataFrame(columns)


def _statements(con: psycopg.Connection, target: PostgresTarget, schema: str) -> pd.DataFrame:
    view = f"{schema}.pg_stat_statements"
    available = {row[0] for row in con.execute(_PGSS_COLUMNS, {"view": view}).fetchall()}
    try:
        select = pgss_columns.select_list(available)
    except ValueError as exc:
        raise CollectionError(f"PostgreSQL {target.describe()}: {exc}") from None
    frame = _frame(
        con,
        f"SELECT {select}, r.rolname AS username, d.datname FROM {view} s "
        "LEFT JOIN pg_roles r ON r.oid = s.userid LEFT JOIN pg_database d ON d.oid = s.dbid",
    )
    hidden = frame["queryid"].isna() | (frame["query"] == "<insufficient privilege>")
    if hidden.any():
        raise CollectionError(
            f"PostgreSQL {target.describe()}: role {target.user} cannot see other roles' statements "
            f"({int(hidden.sum())} hidden): GRANT pg_monitor (or pg_read_all_stats) TO {target.user}"
        )
    frame["query"] = frame["query"].map(lambda query: _redacted(query, target))
    return pgss_columns.merge_levels(frame)


def _quote_ident(con: psycopg.Connection, name: str) -> str:
    """An identifier quoted as PostgreSQL needs it ("Monitoring", "my schema")."""
    return Identifier(name).as_string(con)


def _version(text: str) -> tuple[int, ...]:
    """An extension version ("1.10") as numbers, which compare as versions do; () if it is not one."""
    try:
        return tuple(int(part) for part in text.split("."))
    except ValueError:
        return ()


def _redacted(query: Any, target: PostgresTarget, every_constant: bool = False) -> Any:
    """A SQL text (a statement, a session's query, an index definition) fit to store: see redact_statement.
    NULL (pg_stat_statements lost its text file, an index of a locked table) stays NULL."""
    return redact_statement(query, [target.password], every_constant) if isinstance(query, str) else query


def _redacted_name(name: Any, target: PostgresTarget) -> Any:
    """A client-chosen name (application_name), which a careless client may fill with a connection string."""
    return redact(name, [target.password]) if isinstance(name, str) else name


def take_snapshot(target: PostgresTarget, progress: Callable[[str], None] | None = None) -> dict[str, pd.DataFrame]:
    """Read every view once, consistently, into frames keyed by warehouse table. Writes nothing."""
    say = progress or (lambda _m: None)
    frames: dict[str, pd.DataFrame] = {}
    with _guard(target, target.dbname), target.connect() as con:
        con.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        facts = _frame(con, _SERVER_FACTS)
        if facts.at[0, "pgss_version"] is None:
            raise CollectionError(
                f"PostgreSQL {target.describe()}: the pg_stat_statements extension is not installed in "
                f"database {target.dbname}: add it to shared_preload_libraries and CREATE EXTENSION pg_stat_statements"
            )
        taken_at = facts.at[0, "taken_at"]
        schema = _quote_ident(con, con.execute(_PGSS_SCHEMA).fetchone()[0])
        if _version(facts.at[0, "pgss_version"]) >= _PGSS_INFO_SINCE:  # by the extension's version, not the server's
            facts = pd.concat([facts, _frame(con, _PGSS_INFO.format(schema=schema))], axis=1)
        frames["pg_snapshots"] = facts
        say("pg_stat_statements")
        frames["pg_stat_statements"] = _statements(con, target, schema)
        say("databases, activity, archiver, replication")
        frames["pg_databases"] = _frame(con, _DATABASES)
        frames["pg_databases"]["objects_collected"] = frames["pg_databases"]["datname"].isin(target.databases)
        frames["pg_activity"] = _frame(con, _ACTIVITY)
        long_sessions = _frame(con, _LONG_SESSIONS, {"threshold": target.long_session_seconds})
        # pg_stat_activity shows the text as sent, constants and all (pg_stat_statements would have normalised them)
        long_sessions["query"] = long_sessions["query"].map(lambda query: _redacted(query, target, every_constant=True))
        long_sessions["application"] = long_sessions["application"].map(lambda name: _redacted_name(name, target))
        frames["pg_long_sessions"] = long_sessions
        frames["pg_archiver"] = _frame(con, _ARCHIVER)
        replication = _frame(con, _REPLICATION)
        replication["application_name"] = replication["application_name"].map(lambda name: _redacted_name(name, target))
        frames["pg_replication"] = replication
        frames["pg_replication_slots"] = _frame(con, _SLOTS)
        con.execute("COMMIT")
    for table in ("pg_tables", "pg_indexes", "pg_sequences"):
        frames[table] = pd.DataFrame()
    missing = missing_databases(target, frames["pg_databases"])
    for dbname in (name for name in target.databases if name not in missing):
        say(f"tables, indexes and sequences of {dbname}")
        with _guard(target, dbname), target.connect(dbname) as con:
            con.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            for table, sql in (("pg_tables", _TABLES), ("pg_indexes", _INDEXES), ("pg_sequences", _SEQUENCES)):
                frames[table] = pd.concat([frames[table], _frame(con, sql)], ignore_index=True)
            con.execute("COMMIT")
    if "indexdef" in frames["pg_indexes"]:  # a partial index's predicate may hold a literal
        frames["pg_indexes"]["indexdef"] = frames["pg_indexes"]["indexdef"].map(lambda text: _redacted(text, target))
    for frame in frames.values():
        frame.insert(0, "server", target.server)
        frame["taken_at"] = taken_at
    return frames


def missing_databases(target: PostgresTarget, databases: pd.DataFrame) -> tuple[str, ...]:
    """The databases of [sources.postgres] databases that do not exist now. One dropped since it was listed
    is skipped (and named in the summary) rather than failing every snapshot of the server until the config
    is edited."""
    existing = set(databases["datname"])
    return tuple(name for name in target.databases if name not in existing)


class _guard:
    """Turn psycopg errors into CollectionErrors that say what failed, where, and what to do."""

    def __init__(self, target: PostgresTarget, dbname: str) -> None:
        self.where = f"PostgreSQL {target.describe(dbname)}"
        self.target = target

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _tb: object) -> bool:
        if exc is None or not isinstance(exc, psycopg.Error):
            return False
        detail = redact(" ".join(str(exc).split()), [self.target.password])
        if isinstance(exc, pg_errors.InsufficientPrivilege):
            message = f"role {self.target.user} lacks a privilege ({detail}): GRANT pg_monitor TO {self.target.user}"
        elif isinstance(exc, pg_errors.UndefinedTable) and "pg_stat_statements" in detail:
            message = "the pg_stat_statements extension is not installed: CREATE EXTENSION pg_stat_statements"
        elif isinstance(exc, pg_errors.ObjectNotInPrerequisiteState):
            message = f"{detail}: add pg_stat_statements to shared_preload_libraries and restart"
        elif isinstance(exc, pg_errors.QueryCanceled):
            message = f"a snapshot query exceeded statement_timeout={self.target.statement_timeout_ms} ms ({detail})"
        elif isinstance(exc, pg_errors.LockNotAvailable):  # an OperationalError too, but the connection is fine
            message = (
                f"a snapshot query waited longer than lock_timeout={self.target.lock_timeout_ms} ms for a lock "
                f"({detail}); the next snapshot will try again"
            )
        elif isinstance(exc, psycopg.OperationalError):
            message = f"connection failed or was lost during the snapshot: {detail}"
        else:
            message = detail
        raise CollectionError(f"{self.where}: {message}") from None


@dataclass(frozen=True)
class SnapshotSummary:
    server: str
    taken_at: datetime
    rows_by_table: dict[str, int]
    missing_databases: tuple[str, ...] = ()  # listed in [sources.postgres] databases, not on the server

    @property
    def total_rows(self) -> int:
        return sum(self.rows_by_table.values())


def collect_postgres(
    warehouse: Warehouse,
    config: PlatformConfig,
    env: Mapping[str, str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> SnapshotSummary:
    """Take one snapshot, then store it in one write run (the warehouse is not locked while the server answers).
    On failure nothing is stored and the run is logged."""
    from sre_lib.collect.by_source import fetch_then_write

    target = postgres_target(config, env)
    frames, rows = fetch_then_write(
        warehouse, "postgres", lambda: take_snapshot(target, progress),
        lambda run, frames: (frames, {table: run.replace_rows(table, frame) for table, frame in frames.items()}),
        target=target.describe(),
    )  # fmt: skip
    taken_at = frames["pg_snapshots"].at[0, "taken_at"]
    missing = missing_databases(target, frames["pg_databases"])
    if missing:
        log.warning(
            "PostgreSQL %s: database %s listed in [sources.postgres] databases does not exist (dropped?): its "
            "tables, indexes and sequences were skipped",
            target.describe(), ", ".join(missing),
        )  # fmt: skip
    return SnapshotSummary(server=target.server, taken_at=taken_at, rows_by_table=rows, missing_databases=missing)
