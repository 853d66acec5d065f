"""The schema: every table documents its natural key; series ids are stable."""

from __future__ import annotations

import re

import duckdb

from sre_lib.warehouse.schema import schema_sql, series_id, table_keys


def test_every_table_documents_its_natural_key() -> None:
    tables = set(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", schema_sql()))
    assert tables - {"schema_info"} == set(table_keys())
    con = duckdb.connect()
    con.execute(schema_sql())
    for table, keys in table_keys().items():
        columns = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
        assert set(keys) <= columns, table


def test_series_id_is_stable_and_label_order_free() -> None:
    a = series_id("cpu", {"component": "app", "instance": "app-1"})
    assert a == series_id("cpu", {"instance": "app-1", "component": "app"})
    assert a != series_id("cpu", {"component": "app", "instance": "app-2"})
    assert 0 <= a < 2**63
