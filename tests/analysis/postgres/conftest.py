"""Fixtures of the PostgreSQL check tests: one PostgreSQL 15 server and one collected scenario per session,
shared by the index, maintenance, cache, sequence, growth and connection test modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pg_checks_scenario import PASSWORD, Scenario, build_scenario
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
