"""The whole demo build: deterministic, every table filled, and never over collected data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sre_lib.demo.build import build_demo, is_demo
from sre_lib.demo.spec import DemoSpec
from sre_lib.errors import WarehouseError
from sre_lib.warehouse.store import Warehouse, table_keys


def _tables(path: Path) -> dict[str, pd.DataFrame]:
    con = Warehouse(path).open_read_only()
    try:
        out = {}
        for table in table_keys():
            if table in ("collection_runs", "job_runs"):
                continue
            out[table] = con.execute(f"SELECT * FROM {table} ORDER BY ALL").df()
        return out
    finally:
        con.close()


def test_same_spec_same_warehouse(tmp_path: Path) -> None:
    spec = DemoSpec(days=14)
    build_demo(tmp_path / "a.duckdb", spec)
    build_demo(tmp_path / "b.duckdb", spec)
    build_demo(tmp_path / "b.duckdb", spec)  # rebuilding in place replaces, never adds
    a, b = _tables(tmp_path / "a.duckdb"), _tables(tmp_path / "b.duckdb")
    for table in a:
        pd.testing.assert_frame_equal(a[table], b[table], obj=table)


def test_the_default_demo_fills_every_table_but_replication(demo_warehouse: Path) -> None:
    tables = _tables(demo_warehouse)
    empty = {name for name, frame in tables.items() if frame.empty}
    assert empty == {"pg_replication", "pg_replication_slots"}  # the Community Hub has no replica


def test_demo_refuses_a_warehouse_holding_collected_data(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with warehouse.write_run("postgres", target="prod") as run:
        run.replace_rows("pg_snapshots", pd.DataFrame({"server": ["pg"], "taken_at": [pd.Timestamp.now(tz="UTC")]}))
    with pytest.raises(WarehouseError, match=r"holds 1 collection runs of real data"):
        build_demo(warehouse.path, DemoSpec(days=2))


def test_only_a_warehouse_of_demo_data_alone_is_called_a_demo(demo_warehouse: Path, tmp_path: Path) -> None:
    con = Warehouse(demo_warehouse).open_read_only()
    try:
        assert is_demo(con)
    finally:
        con.close()
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with warehouse.write_run("postgres", target="prod") as run:
        run.replace_rows("pg_snapshots", pd.DataFrame({"server": ["pg"], "taken_at": [pd.Timestamp.now(tz="UTC")]}))
    con = warehouse.open_read_only()
    try:
        assert not is_demo(con)  # collected data, and no demo run
    finally:
        con.close()
    empty = Warehouse(tmp_path / "empty.duckdb")
    empty.ensure_created()
    con = empty.open_read_only()
    try:
        assert not is_demo(con)
    finally:
        con.close()


def test_the_two_views_of_postgres_connections_agree(demo_warehouse: Path) -> None:
    """Prometheus's db_connections (% of max_connections) and pg_stat_activity's session count, as the
    capacity and slow-query reports show them, describe the same server."""
    con = Warehouse(demo_warehouse).open_read_only()
    try:
        joined = con.execute(
            """
            WITH sessions AS (
                SELECT a.taken_at, sum(a.sessions) * 100.0 / any_value(s.max_connections) AS percent
                FROM pg_activity a JOIN pg_snapshots s USING (server, taken_at) GROUP BY a.taken_at
            )
            SELECT sessions.percent, m.value
            FROM sessions JOIN metric_samples m ON m.ts = sessions.taken_at
            JOIN metric_series USING (series_id)
            WHERE metric_series.metric = 'db_connections'
            """
        ).df()
    finally:
        con.close()
    assert len(joined) > 1000
    gap = (joined["percent"] - joined["value"]).abs()
    assert gap.quantile(0.99) <= 1.0 and gap.max() <= 3.0  # rounding to whole sessions; a long session adds one
