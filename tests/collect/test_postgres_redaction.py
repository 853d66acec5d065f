"""No password a statement carried reaches the warehouse: every SQL text the PostgreSQL collector stores
(pg_stat_statements' queries, long-running and idle-in-transaction sessions' queries, index definitions) and the
client-chosen names it stores, collected from a real PostgreSQL 15 after real statements ran there."""

from __future__ import annotations

import contextlib
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import tomli_w
from support.servers import PostgresServer, postgres_server

from sre_lib.analysis.postgres import maintenance as pg_maintenance
from sre_lib.analysis.postgres import queries as pg_queries
from sre_lib.collect.postgres_snapshot import collect_postgres
from sre_lib.config import DEFAULT_CONFIG_PATH, PlatformConfig, config_to_toml, load_config, parse_config
from sre_lib.warehouse.store import Warehouse

pytestmark = pytest.mark.servers

MONITOR_PASSWORD = "Fake-Monitor-Pw-0815"

# Each statement runs on the server as written; the value after "pw-" must appear in no warehouse row.
STATEMENTS = {
    "pw-doubled-1": "DO $$ BEGIN EXECUTE 'ALTER ROLE app PASSWORD ''pw-doubled-1'''; END $$",
    "pw-comment-2": "ALTER ROLE app PASSWORD /* rotated */ 'pw-comment-2'",
    "pw-subscription-3": (
        "CREATE SUBSCRIPTION sub CONNECTION 'host=192.0.2.1 password=''pw-subscription-3''' PUBLICATION pub "
        "WITH (connect = false)"
    ),
    "pw-escaped-4": "DO $outer$ BEGIN EXECUTE E'ALTER ROLE app \\x50ASSWORD ''pw-escaped-4'''; END $outer$",
    "pw-nested-5": (
        "DO $a$ BEGIN EXECUTE 'DO $b$ BEGIN EXECUTE ''ALTER ROLE app PASSWORD ''''pw-nested-5''''''; END $b$'; END $a$"
    ),
    "pw-mapping-6": "CREATE USER MAPPING FOR app SERVER files OPTIONS (user 'app', password 'pw-mapping-6')",
    "pw-dollar-7": "ALTER ROLE app PASSWORD $secret$pw-dollar-7$secret$",
    "pw-unicode-8": "ALTER ROLE app PASSWORD U&'pw\\002dunicode-8'",  # stored as typed: pw\002dunicode-8
}
SESSION_SECRETS = ("pw-idle-9", "pw-active-10", "pw-app-11")
INDEX_SECRET = "tok-index-12"
CUSTOMER_DATA = "customer-ssn-13"


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        server.execute(f"CREATE ROLE monitor LOGIN PASSWORD '{MONITOR_PASSWORD}' IN ROLE pg_monitor")
        server.execute("CREATE ROLE app LOGIN")
        server.execute("CREATE FOREIGN DATA WRAPPER plain_files")  # no validator: any option is accepted
        server.execute("CREATE SERVER files FOREIGN DATA WRAPPER plain_files")
        server.execute("CREATE TABLE api_keys (id int, token text)")
        server.execute(f"CREATE INDEX api_keys_live ON api_keys (id) WHERE token <> '{INDEX_SECRET}'")
        yield server


def config_with(**postgres: object) -> PlatformConfig:
    raw = tomllib.loads(config_to_toml(load_config(DEFAULT_CONFIG_PATH)))
    raw["sources"]["postgres"].update(postgres)
    return parse_config(tomli_w.dumps(raw), source="test.toml")


def env_for(pg: PostgresServer) -> dict[str, str]:
    return {
        "PGHOST": "127.0.0.1",
        "PGPORT": str(pg.port),
        "PGUSER": "monitor",
        "PGDATABASE": "postgres",
        "PGPASSWORD": MONITOR_PASSWORD,
    }


def warehouse_text(warehouse: Warehouse) -> str:
    """Every row of every table, as text."""
    con = warehouse.open_read_only()
    try:
        tables = [row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        return "\n".join(con.execute(f"SELECT * FROM {table}").df().to_csv() for table in tables)
    finally:
        con.close()


def stored_queries(warehouse: Warehouse, table: str) -> list[str]:
    con = warehouse.open_read_only()
    try:
        return [row[0] for row in con.execute(f"SELECT query FROM {table} WHERE query IS NOT NULL").fetchall()]
    finally:
        con.close()


def test_no_password_of_any_statement_or_session_reaches_the_warehouse_or_the_review(
    pg: PostgresServer, tmp_path: Path
) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    config = config_with(long_session_seconds=1)
    collect_postgres(warehouse, config, env=env_for(pg))  # the baseline the review compares with
    for statement in STATEMENTS.values():
        pg.execute(statement)
    pg.execute("SELECT relname FROM pg_class WHERE relname = 'pg_am'")  # normalised: its constant becomes $1
    idle = psycopg.connect(pg.dsn(), application_name="host=db password=pw-app-11")
    idle.execute("ALTER ROLE app PASSWORD /* rotated */ 'pw-idle-9'")  # then idle in transaction, uncommitted
    customer = psycopg.connect(pg.dsn())
    customer.execute(f"SELECT '{CUSTOMER_DATA}' AS note")  # names no secret, but a raw text's constant all the same
    active = psycopg.connect(pg.dsn(), autocommit=True)
    active_pid = active.info.backend_pid
    sleeper = threading.Thread(
        target=lambda: _suppress_cancel(
            active, "DO $$ BEGIN PERFORM pg_sleep(60); EXECUTE 'ALTER ROLE app PASSWORD ''pw-active-10'''; END $$"
        )
    )
    sleeper.start()
    try:
        time.sleep(1.5)  # both sessions older than long_session_seconds
        collect_postgres(warehouse, config, env=env_for(pg))
    finally:
        pg.execute(f"SELECT pg_cancel_backend({active_pid})")
        sleeper.join(30)
        active.close()
        idle.rollback()
        idle.close()
        customer.close()
    text = warehouse_text(warehouse)
    secrets = (*STATEMENTS, *SESSION_SECRETS, INDEX_SECRET, CUSTOMER_DATA, MONITOR_PASSWORD)
    leaked = [secret for secret in secrets if secret in text]
    assert leaked == []
    assert "pw\\002dunicode-8" not in text and "pw\\\\002dunicode-8" not in text

    statements = stored_queries(warehouse, "pg_stat_statements")
    assert "ALTER ROLE app PASSWORD /* *** */ '***'" in statements  # the statement stays readable
    assert "SELECT relname FROM pg_class WHERE relname = $1" in statements  # ordinary text is left as it was
    assert any(query.startswith("CREATE USER MAPPING FOR app SERVER files OPTIONS") for query in statements)
    sessions = stored_queries(warehouse, "pg_long_sessions")
    assert "ALTER ROLE app PASSWORD /* *** */ '***'" in sessions and "DO '***'" in sessions
    assert "SELECT '***' AS note" in sessions
    con = warehouse.open_read_only()
    try:
        applications = {row[0] for row in con.execute("SELECT application FROM pg_long_sessions").fetchall()}
        indexdef = con.execute("SELECT indexdef FROM pg_indexes WHERE indexrelname = 'api_keys_live'").fetchone()[0]
    finally:
        con.close()
    assert "host=db password=***" in applications
    assert indexdef.endswith("WHERE (token <> '***'::text)")

    con = warehouse.open_read_only()
    try:  # the slow-queries report's statement and session tables, over the collected span
        frames = [
            pg_queries.top_statements(con, by="total_time", limit=100),
            pg_queries.top_statements(con, by="mean_time", limit=100),
            pg_maintenance.long_sessions(con),
        ]
    finally:
        con.close()
    shown = "\n".join(frame.to_csv() for frame in frames)
    assert "DO '***'" in shown and "ALTER ROLE app PASSWORD /* *** */ '***'" in shown
    assert [secret for secret in secrets if secret in shown] == []


def _suppress_cancel(connection: psycopg.Connection, statement: str) -> None:
    """Run a statement that the test cancels once it has been collected."""
    with contextlib.suppress(psycopg.errors.QueryCanceled):
        connection.execute(statement)
