"""The warehouse's pg_stat_statements columns have one source (sre_lib.warehouse.statement_columns): schema.sql,
the collector's mapping and the statement deltas all agree with it."""

from __future__ import annotations

import duckdb

from sre_lib.analysis.postgres.statement_deltas import COUNTERS, ENTRY_KEY
from sre_lib.collect.pgss_columns import NORMALISED_SOURCES
from sre_lib.warehouse.statement_columns import STATEMENT_COLUMNS, STATEMENT_COUNTERS, STATEMENT_KEY
from sre_lib.warehouse.store import schema_sql

NUMERIC = {"BIGINT", "DOUBLE"}


def _schema_columns() -> dict[str, str]:
    con = duckdb.connect()
    con.execute(schema_sql())
    return {name: kind for name, kind, *_ in con.execute("DESCRIBE pg_stat_statements").fetchall()}


def test_schema_sql_declares_exactly_the_listed_columns() -> None:
    columns = _schema_columns()
    assert set(columns) == {"server", "taken_at", "username", "datname", *STATEMENT_COLUMNS}
    assert len(set(STATEMENT_COLUMNS)) == len(STATEMENT_COLUMNS)


def test_counters_and_key_are_columns_and_counters_are_numbers() -> None:
    columns = _schema_columns()
    assert set(STATEMENT_KEY) <= set(STATEMENT_COLUMNS)
    assert set(STATEMENT_COUNTERS) <= set(STATEMENT_COLUMNS)
    assert {columns[c] for c in STATEMENT_COUNTERS} <= NUMERIC


def test_the_collector_and_the_deltas_read_the_same_list() -> None:
    assert tuple(NORMALISED_SOURCES) == STATEMENT_COLUMNS
    assert COUNTERS == STATEMENT_COUNTERS
    assert ("server", *STATEMENT_KEY) == ENTRY_KEY
