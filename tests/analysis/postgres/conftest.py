"""Fixtures of the PostgreSQL analysis tests, each built once per session: a server and a collected scenario for
the index, maintenance, cache, sequence, growth and connection checks; a server and a statement history for the
slow-query analyses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pg_checks_scenario import PASSWORD, Scenario, build_scenario
from pg_statement_history import PASSWORD as QUERIES_PASSWORD
from pg_statement_history import History, build_history
from support.servers import PostgresServer, postgres_server


@pytest.fixture(scope="session")
def checks_pg() -> Iterator[PostgresServer]:
    """A PostgreSQL 15 with 2 MB of shared buffers (cache misses show), a database ``app`` with
    pg_stat_statements, and the ``monitor`` role the collector logs in as."""
    with postgres_server({"shared_buffers": "'2MB'"}) as server:
        server.execute("CREATE DATABASE app")
        server.execute("CREATE EXTENSION pg_stat_statements", dbname="app")
        server.execute(f"CREATE ROLE monitor LOGIN PASSWORD '{PASSWORD}' IN ROLE pg_monitor")
        yield server


@pytest.fixture(scope="session")
def scenario(checks_pg: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """The scenario (``pg_checks_scenario``) collected once for every test module of this folder."""
    return build_scenario(checks_pg, tmp_path_factory.mktemp("pgm") / "w.duckdb")


@pytest.fixture(scope="session")
def queries_pg() -> Iterator[PostgresServer]:
    """A PostgreSQL 15 with a database ``app`` (pg_stat_statements, a 20,000-row table ``big_read``) and the
    ``monitor`` role."""
    with postgres_server({"shared_buffers": "'2MB'"}) as server:
        server.execute("CREATE DATABASE app")
        server.execute("CREATE EXTENSION pg_stat_statements", dbname="app")
        server.execute(f"CREATE ROLE monitor LOGIN PASSWORD '{QUERIES_PASSWORD}' IN ROLE pg_monitor")
        server.execute(
            "CREATE TABLE big_read AS SELECT g AS id, repeat('x', 200) AS pad FROM generate_series(1, 20000) g",
            dbname="app",
        )
        yield server


@pytest.fixture(scope="session")
def history(queries_pg: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> History:
    """The statement history (``pg_statement_history``) collected once for the slow-query test modules."""
    return build_history(queries_pg, tmp_path_factory.mktemp("pgq") / "w.duckdb")
