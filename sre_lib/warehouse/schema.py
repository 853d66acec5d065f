"""The warehouse's schema and keys: its DDL (``schema.sql``) and migrations, each table's natural key, stable
series ids, and the DuckDB basics that writers and readers share (a UTC session, the schema version a file
holds, a DuckDB error as one line).

``schema.sql`` is the one source of every table and column; the natural key of each table is read from its
COMMENT, so a writer replaces rows by the same key the documentation states.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import duckdb

from sre_lib.secrets import environment_secrets, redact

SCHEMA_VERSION = "5"
# Version 5 added a table (as schema.sql declares it): live `pgbackrest check` results.
PGBACKREST_CHECKS_DDL = (
    "CREATE TABLE IF NOT EXISTS pgbackrest_checks (server VARCHAR, stanza VARCHAR, checked_at TIMESTAMPTZ, "
    "status VARCHAR, duration_seconds DOUBLE, reason VARCHAR)"
)
# How to bring a warehouse of an older schema version to the next one; applied in order, in one transaction,
# by the first writer (or reader) that opens it. Collected history is never rebuilt: pg_stat_statements deltas need it.
MIGRATIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "1": ("2", ("ALTER TABLE pg_sequences ADD COLUMN IF NOT EXISTS min_value BIGINT",)),
    "2": (
        "3",
        (
            "ALTER TABLE pg_tables ADD COLUMN IF NOT EXISTS relid BIGINT",
            "ALTER TABLE pg_indexes ADD COLUMN IF NOT EXISTS indexrelid BIGINT",
            "ALTER TABLE pg_databases ADD COLUMN IF NOT EXISTS stats_reset TIMESTAMPTZ",
            "ALTER TABLE pg_databases ADD COLUMN IF NOT EXISTS objects_collected BOOLEAN",
            "ALTER TABLE pg_replication_slots ADD COLUMN IF NOT EXISTS wal_status VARCHAR",
            "ALTER TABLE pg_replication ADD COLUMN IF NOT EXISTS slot_type VARCHAR",
        ),
    ),
    "3": (
        "4",
        (
            "ALTER TABLE redis_info ADD COLUMN IF NOT EXISTS run_id VARCHAR",
            "ALTER TABLE redis_info ADD COLUMN IF NOT EXISTS uptime_in_seconds BIGINT",
            "ALTER TABLE redis_info ADD COLUMN IF NOT EXISTS total_commands_processed BIGINT",
            "ALTER TABLE redis_info ADD COLUMN IF NOT EXISTS total_connections_received BIGINT",
            "ALTER TABLE pg_tables ADD COLUMN IF NOT EXISTS size_estimated BOOLEAN",
            "ALTER TABLE pg_indexes ADD COLUMN IF NOT EXISTS size_estimated BOOLEAN",
            "ALTER TABLE pg_sequences ADD COLUMN IF NOT EXISTS owner_table VARCHAR",
            "ALTER TABLE pg_sequences ADD COLUMN IF NOT EXISTS owner_column VARCHAR",
            "ALTER TABLE pg_sequences ADD COLUMN IF NOT EXISTS column_type VARCHAR",
        ),
    ),
    "4": ("5", (PGBACKREST_CHECKS_DDL,)),
}


@cache
def schema_sql() -> str:
    """The DDL of every table, with the documentation of every column."""
    return files("sre_lib.warehouse").joinpath("schema.sql").read_text(encoding="utf-8")


@cache
def table_keys() -> dict[str, tuple[str, ...]]:
    """Each table's natural key, read from the 'Key: (...)' of its COMMENT in the schema file."""
    keys: dict[str, tuple[str, ...]] = {}
    for table, key in re.findall(r"COMMENT ON TABLE (\w+) IS '[^']*?Key: \(?([\w, ]+)\)?", schema_sql()):
        keys[table] = tuple(part.strip() for part in key.split(","))
    return keys


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    """The single value a query returns (None for no row), leaving no unfinished result behind."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The column names of ``table``, in their order in the table."""
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [row[0] for row in rows]


def series_id(metric: str, labels: Mapping[str, str]) -> int:
    """Stable 63-bit id of a series: the same metric and labels give the same id in every run."""
    digest = hashlib.blake2b((metric + "\x00" + canonical_labels(labels)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def canonical_labels(labels: Mapping[str, str]) -> str:
    """Labels as one canonical JSON text (sorted keys, no spaces): the form stored and hashed into a series id."""
    return json.dumps(dict(sorted(labels.items())), separators=(",", ":"))


def connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """A connection to the DuckDB file at ``path`` whose session reads and writes times in UTC."""
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute("SET TimeZone = 'UTC'")
    return con


def schema_version(con: duckdb.DuckDBPyConnection) -> str | None:
    """The schema version recorded in the file; None for a database that is no warehouse (no schema_info)."""
    if not scalar(con, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_info'"):
        return None
    return scalar(con, "SELECT value FROM schema_info WHERE key = 'schema_version'")


def one_line(exc: BaseException) -> str:
    """An exception as one line for messages and the run log, without the environment's secrets."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return redact(text, environment_secrets())[:500]
