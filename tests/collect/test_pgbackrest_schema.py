"""Schema version 5: the pgbackrest_checks table, in a new warehouse and in one migrated from version 4."""

from __future__ import annotations

from pathlib import Path

import duckdb

from sre_lib.warehouse import schema
from sre_lib.warehouse.store import Warehouse

CHECK_COLUMNS = ["server", "stanza", "checked_at", "status", "duration_seconds", "reason"]


def _columns(path: Path) -> list[tuple[str, str]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'pgbackrest_checks' "
            "ORDER BY ordinal_position"
        ).fetchall()


def test_a_new_warehouse_has_the_table_with_its_key(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with warehouse.write_run("test"):
        pass
    assert [name for name, _ in _columns(warehouse.path)] == CHECK_COLUMNS
    assert schema.table_keys()["pgbackrest_checks"] == ("server", "checked_at")


def test_a_schema_4_warehouse_gains_the_same_table_and_keeps_its_rows(tmp_path: Path) -> None:
    fresh = Warehouse(tmp_path / "fresh.duckdb")
    with fresh.write_run("test"):
        pass
    old = Warehouse(tmp_path / "old.duckdb")
    with old.write_run("test"):
        pass
    with duckdb.connect(str(old.path)) as con:
        con.execute("DROP TABLE pgbackrest_checks")  # the shape schema version 4 had
        con.execute("UPDATE schema_info SET value = '4' WHERE key = 'schema_version'")
        con.execute("INSERT INTO backups (server, backup_id, status) VALUES ('postgresql', '20261004-030002F', 'ok')")
    with old.write_run("test"):
        pass
    assert _columns(old.path) == _columns(fresh.path)  # the migration's DDL matches schema.sql
    with duckdb.connect(str(old.path), read_only=True) as con:
        assert con.execute("SELECT value FROM schema_info WHERE key = 'schema_version'").fetchone() == ("5",)
        assert con.execute("SELECT backup_id FROM backups").fetchall() == [("20261004-030002F",)]
