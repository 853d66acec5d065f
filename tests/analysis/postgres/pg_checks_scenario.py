"""The PostgreSQL checks' test scenario and warehouse helpers, shared by the test modules of this folder: a real
PostgreSQL 15 made to show each finding (indexes unused, duplicate and invalid; dead tuples; sequential scans
and cache misses; sequences near their limit; growth; long and idle-in-transaction sessions), collected with
the real collector between actions; and an empty warehouse to fill by hand."""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import psycopg
import pytest
from support.servers import PostgresServer

from sre_lib.collect.postgres_snapshot import collect_postgres
from sre_lib.config import DEFAULT_CONFIG_PATH, PlatformConfig, load_config
from sre_lib.warehouse.store import Warehouse, schema_sql

PASSWORD = "Maintenance-Test-Pw-2"
BASE_CONFIG = load_config(DEFAULT_CONFIG_PATH)
LONG_SESSION_SECONDS = 0.5


def _config(long_session_seconds: float) -> PlatformConfig:
    postgres = BASE_CONFIG.sources.postgres.model_copy(update={"long_session_seconds": long_session_seconds})
    sources = BASE_CONFIG.sources.model_copy(update={"postgres": postgres})
    return BASE_CONFIG.model_copy(update={"sources": sources})


CONFIG = _config(LONG_SESSION_SECONDS)

FLUSH = "SELECT pg_stat_force_next_flush()"
SETUP = [
    # indexes: one used, one never used, one left invalid by a failed CREATE UNIQUE INDEX CONCURRENTLY
    "CREATE TABLE users (id serial PRIMARY KEY, email text, legacy_email text)",
    "INSERT INTO users (email, legacy_email) SELECT 'u' || g || '@x.org', 'old' || (g % 100) "
    "FROM generate_series(1, 2000) g",
    "CREATE INDEX idx_users_email ON users (email)",
    "CREATE INDEX idx_users_legacy_email ON users (legacy_email)",
    # duplicates and near misses
    "CREATE TABLE posts (id serial PRIMARY KEY, author_id int, created_at timestamptz, title text)",
    "INSERT INTO posts (author_id, created_at, title) SELECT g % 50, now(), 't' || g FROM generate_series(1, 500) g",
    "CREATE INDEX idx_posts_author ON posts (author_id)",
    "CREATE INDEX idx_posts_author_created ON posts (author_id, created_at)",
    "CREATE INDEX idx_posts_author_hash ON posts USING hash (author_id)",
    "CREATE INDEX idx_posts_author_recent ON posts (author_id) WHERE created_at > '2020-01-01'",
    "CREATE INDEX idx_posts_title_lower ON posts (lower(title))",
    "CREATE INDEX idx_posts_title_lower_id ON posts (lower(title), id)",
    "CREATE INDEX idx_posts_twin_a ON posts (created_at)",
    "CREATE INDEX idx_posts_twin_b ON posts (created_at)",
    "CREATE UNIQUE INDEX posts_title_key ON posts (title)",
    "CREATE INDEX idx_posts_title_created ON posts (title, created_at)",
    # dead tuples, never vacuumed
    "CREATE TABLE events_log (id bigint, payload text) WITH (autovacuum_enabled = off)",
    "INSERT INTO events_log SELECT g, 'p' FROM generate_series(1, 30000) g",
    "DELETE FROM events_log WHERE id <= 20000",
    # maintained: a few dead tuples, vacuumed and analysed
    "CREATE TABLE clean (id int)",
    "INSERT INTO clean SELECT generate_series(1, 1000)",
    "DELETE FROM clean WHERE id <= 10",
    FLUSH,  # VACUUM sets n_live_tup: the session's pending insert counts must land before, not after
    "VACUUM ANALYZE clean",
    # sequential scans over many rows (and, with 2 MB of shared buffers, cache misses)
    "CREATE TABLE comments (id serial PRIMARY KEY, body text)",
    "INSERT INTO comments (body) SELECT repeat('c', 100) || g FROM generate_series(1, 30000) g",
    "CREATE TABLE lookup (id int PRIMARY KEY, v text)",
    "INSERT INTO lookup SELECT g, 'v' FROM generate_series(1, 15000) g",
    FLUSH,
    "VACUUM ANALYZE comments, lookup",
    "CREATE TABLE growing (id serial, pad text)",
    # sequences: near the limit (readable), unreadable, low
    "CREATE SEQUENCE audit_log_id_seq AS integer",
    "SELECT setval('audit_log_id_seq', 2000000000)",
    "GRANT SELECT ON SEQUENCE audit_log_id_seq TO monitor",
    "CREATE SEQUENCE secret_seq",
    "SELECT nextval('secret_seq')",
    "CREATE SEQUENCE low_seq",
    "SELECT nextval('low_seq')",
    "GRANT SELECT ON SEQUENCE low_seq TO monitor",
]
ACTIONS = [
    "SELECT count(*) FROM comments WHERE body LIKE '%999%'",
    "SELECT count(*) FROM comments WHERE body LIKE '%998%'",
    "SELECT count(*) FROM comments WHERE body LIKE '%997%'",
    "SELECT count(*) FROM comments WHERE body LIKE '%996%'",
    "SELECT count(*) FROM comments WHERE body LIKE '%995%'",
    *[f"SELECT v FROM lookup WHERE id = {i}" for i in range(1, 11)],
    "SELECT count(*) FROM lookup",
    "INSERT INTO growing (pad) SELECT repeat('g', 200) FROM generate_series(1, 3000)",
    "SET enable_seqscan = off",
    "SELECT id FROM users WHERE email = 'u5@x.org'",
]
PHASES = 3
CLIENTS = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"


def env_for(pg: PostgresServer) -> dict[str, str]:
    return {"PGHOST": "127.0.0.1", "PGPORT": str(pg.port), "PGUSER": "monitor", "PGDATABASE": "app",
            "PGPASSWORD": PASSWORD}  # fmt: skip


def run(pg: PostgresServer, *statements: str) -> None:
    """Run statements in one session, then flush its table statistics so the next snapshot sees them."""
    with psycopg.connect(pg.dsn(dbname="app"), autocommit=True) as con:
        for statement in statements:
            con.execute(statement)
        con.execute(FLUSH)


@dataclass(frozen=True)
class Scenario:
    """The scenario's warehouse, its snapshot times and the pids of the idle and the active session."""

    warehouse: Warehouse
    snaps: tuple[datetime, ...]
    idle_pid: int
    active_pid: int

    def con(self) -> duckdb.DuckDBPyConnection:
        return self.warehouse.open_read_only()


def build_scenario(pg: PostgresServer, warehouse_path: Path) -> Scenario:
    """Create the scenario's objects on ``pg`` and collect PHASES + 1 snapshots of it into a new warehouse."""
    run(pg, *SETUP)
    with psycopg.connect(pg.dsn(dbname="app"), autocommit=True) as con, pytest.raises(psycopg.errors.UniqueViolation):
        con.execute("CREATE UNIQUE INDEX CONCURRENTLY idx_users_legacy_tmp ON users (legacy_email)")
    warehouse = Warehouse(warehouse_path)
    snaps = [collect_postgres(warehouse, CONFIG, env=env_for(pg)).taken_at]
    for _ in range(PHASES - 1):
        run(pg, *ACTIONS)
        snaps.append(collect_postgres(warehouse, CONFIG, env=env_for(pg)).taken_at)
    run(pg, *ACTIONS)
    with psycopg.connect(pg.dsn(dbname="app")) as idle, psycopg.connect(pg.dsn(dbname="app")) as busy:
        idle.execute("SELECT 1")  # psycopg opened a transaction: the session now sits idle in it
        idle_pid = idle.info.backend_pid
        active_pid = busy.info.backend_pid

        def sleep() -> None:
            with contextlib.suppress(psycopg.errors.QueryCanceled):
                busy.execute("SELECT pg_sleep(60)")  # cancelled once seen: still active however slow the snapshot

        sleeper = threading.Thread(target=sleep)
        sleeper.start()
        time.sleep(LONG_SESSION_SECONDS + 0.3)
        snaps.append(collect_postgres(warehouse, CONFIG, env=env_for(pg)).taken_at)
        busy.cancel()
        sleeper.join(timeout=30)
        busy.rollback()
    return Scenario(warehouse=warehouse, snaps=tuple(snaps), idle_pid=idle_pid, active_pid=active_pid)


def names_in(frame: pd.DataFrame, column: str) -> set[str]:
    """The distinct values of a column."""
    return set(frame[column])


def empty_warehouse() -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse with the schema and no rows, in UTC."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(schema_sql())
    return con


T0 = datetime(2026, 1, 1, tzinfo=UTC)


def insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> None:
    """Insert ``rows`` into ``table`` by column name (columns not given stay NULL)."""
    frame = pd.DataFrame(rows)
    con.register("_rows", frame)
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _rows")
    con.unregister("_rows")
