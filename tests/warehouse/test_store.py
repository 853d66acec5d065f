"""The warehouse: transactional, idempotent runs; readers that neither block nor break a writer."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from warehouse_rows import END, START, backup_rows, load_two_hours, query_snapshot, sample_rows

from sre_lib.errors import WarehouseBusyError, WarehouseError
from sre_lib.warehouse import readers, schema
from sre_lib.warehouse.store import Warehouse, series_id


def test_same_window_twice_leaves_the_same_rows(warehouse: Warehouse) -> None:
    sid = series_id("cpu", {"instance": "app-1"})
    load_two_hours(warehouse, sid)
    first = query_snapshot(warehouse, "SELECT * FROM metric_samples ORDER BY ts")
    load_two_hours(warehouse, sid)
    second = query_snapshot(warehouse, "SELECT * FROM metric_samples ORDER BY ts")
    pd.testing.assert_frame_equal(first, second)
    assert len(second) == 120
    assert len(query_snapshot(warehouse, "SELECT * FROM backups")) == 1
    runs = warehouse.runs()
    assert list(runs.status) == ["ok", "ok"]
    assert list(runs.rows_written) == [121, 121]


def test_replacing_a_window_updates_values_and_keeps_other_windows(warehouse: Warehouse) -> None:
    sid = series_id("cpu", {"instance": "app-1"})
    load_two_hours(warehouse, sid)
    later_start, later_end = END + timedelta(minutes=1), END + timedelta(hours=1)
    with warehouse.write_run("test") as run:
        run.replace_samples(sample_rows(sid, later_start, 60), later_start, later_end)
    with warehouse.write_run("test") as run:
        run.replace_samples(sample_rows(sid, START, 120, offset=1000.0), START, END)
    rows = query_snapshot(warehouse, "SELECT ts, value FROM metric_samples ORDER BY ts")
    assert len(rows) == 180
    assert rows.value.iloc[0] == 1000.0 and rows.value.iloc[-1] == 59.0


def test_a_run_replaces_what_it_wrote_itself_and_only_that_series(warehouse: Warehouse) -> None:
    half = START + timedelta(minutes=59)
    with warehouse.write_run("test") as run:
        run.replace_samples(sample_rows(1, START, 60), START, half)
        run.replace_samples(sample_rows(2, START, 60, offset=100.0), START, half)  # same range, another series
        run.replace_samples(sample_rows(1, START + timedelta(minutes=60), 60), half + timedelta(minutes=1), END)
        run.replace_samples(sample_rows(1, START, 30, offset=500.0), START, half)  # overlaps its own first write
    rows = query_snapshot(
        warehouse, "SELECT series_id, count(*) AS n, max(value) AS top FROM metric_samples GROUP BY 1 ORDER BY 1"
    )
    assert rows.values.tolist() == [[1, 90, 529.0], [2, 60, 159.0]]


def test_non_finite_values_are_not_stored(warehouse: Warehouse) -> None:
    samples = sample_rows(7, minutes=4)
    samples.loc[1, "value"] = np.nan
    samples.loc[2, "value"] = np.inf
    with warehouse.write_run("test") as run:
        assert run.replace_samples(samples, START, END) == 2
    assert list(query_snapshot(warehouse, "SELECT value FROM metric_samples ORDER BY ts").value) == [0.0, 3.0]


def test_a_run_that_fails_half_way_leaves_the_warehouse_unchanged(warehouse: Warehouse) -> None:
    load_two_hours(warehouse, 1)
    before = query_snapshot(warehouse, "SELECT * FROM metric_samples ORDER BY ts")
    with pytest.raises(RuntimeError, match="source went away"), warehouse.write_run("test") as run:
        run.replace_samples(sample_rows(1, offset=500.0), START, END)
        run.replace_rows("backups", backup_rows("b1", status="failed"))
        raise RuntimeError("source went away")
    pd.testing.assert_frame_equal(before, query_snapshot(warehouse, "SELECT * FROM metric_samples ORDER BY ts"))
    assert list(query_snapshot(warehouse, "SELECT status FROM backups").status) == ["ok"]
    last = warehouse.runs().iloc[0]
    assert (last.status, last.rows_written, last.error) == ("failed", 0, "source went away")


def test_samples_outside_the_declared_window_are_refused(warehouse: Warehouse) -> None:
    with pytest.raises(WarehouseError, match=r"59 samples fall outside"), warehouse.write_run("test") as run:
        run.replace_samples(sample_rows(1, minutes=180), START, END)
    assert warehouse.runs().iloc[0].status == "failed"


def test_unknown_columns_are_named(warehouse: Warehouse) -> None:
    frame = backup_rows("b1").assign(colour="red")
    with (
        pytest.raises(WarehouseError, match=r"table backups: unknown columns \['colour'\]"),
        warehouse.write_run("test") as run,
    ):
        run.replace_rows("backups", frame)


_READER = textwrap.dedent(
    """
    import sys, time
    from sre_lib.warehouse.store import Warehouse
    con = Warehouse(sys.argv[1]).open_read_only()
    print(con.execute("SELECT count(*) FROM metric_samples").fetchall()[0][0], flush=True)
    sys.stdin.readline()  # hold the connection open until the test says go on
    print(con.execute("SELECT count(*) FROM metric_samples").fetchall()[0][0], flush=True)
    """
)


def test_a_reader_neither_blocks_nor_breaks_a_writer(warehouse: Warehouse) -> None:
    load_two_hours(warehouse, 1)
    reader = subprocess.Popen(
        [sys.executable, "-c", _READER, str(warehouse.path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "120"
        # Two writes while the reader holds its connection: neither waits for it (lock_timeout is 0.5 s).
        for offset in (1, 2):
            start = END + timedelta(hours=offset)
            with warehouse.write_run("test") as run:
                run.replace_samples(sample_rows(1, start, 60), start, start + timedelta(hours=1))
        out, _ = reader.communicate("go\n", timeout=30)
    finally:
        reader.kill()
    assert out.strip() == "120", "the reader keeps the consistent view it opened"
    assert reader.returncode == 0
    assert query_snapshot(warehouse, "SELECT count(*) AS n FROM metric_samples").n[0] == 240


def test_a_second_writer_waits_then_fails_clearly(warehouse: Warehouse) -> None:
    warehouse.ensure_created()
    other = Warehouse(warehouse.path, lock_timeout=0.2)
    with (
        warehouse.write_run("test"),
        pytest.raises(WarehouseBusyError, match=r"w\.duckdb is busy"),
        other.write_run("test"),
    ):
        pass


def test_a_warehouse_of_another_schema_version_is_refused(warehouse: Warehouse) -> None:
    warehouse.ensure_created()
    con = duckdb.connect(str(warehouse.path))
    con.execute("UPDATE schema_info SET value = '99' WHERE key = 'schema_version'")
    con.close()
    expected = r"has schema version 99; this sre_lib writes version 5 and can migrate only from 1, 2, 3, 4"
    with pytest.raises(WarehouseError, match=expected), warehouse.write_run("test"):
        pass


#: The columns schema version 3 added (MIGRATIONS["2"]).
SCHEMA_3_COLUMNS = [
    ("pg_tables", "relid"), ("pg_indexes", "indexrelid"), ("pg_databases", "stats_reset"),
    ("pg_databases", "objects_collected"), ("pg_replication_slots", "wal_status"), ("pg_replication", "slot_type"),
]  # fmt: skip


#: The columns schema version 4 added (MIGRATIONS["3"]).
SCHEMA_4_COLUMNS = [
    ("redis_info", "run_id"), ("redis_info", "uptime_in_seconds"), ("redis_info", "total_commands_processed"),
    ("redis_info", "total_connections_received"), ("pg_tables", "size_estimated"), ("pg_indexes", "size_estimated"),
    ("pg_sequences", "owner_table"), ("pg_sequences", "owner_column"), ("pg_sequences", "column_type"),
]  # fmt: skip


def test_a_schema_1_warehouse_is_migrated_in_place_keeping_its_rows(warehouse: Warehouse) -> None:
    load_two_hours(warehouse, 1)
    con = duckdb.connect(str(warehouse.path))
    for table, column in [("pg_sequences", "min_value"), *SCHEMA_3_COLUMNS, *SCHEMA_4_COLUMNS]:
        con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")  # the shape schema version 1 had
    con.execute("UPDATE schema_info SET value = '1' WHERE key = 'schema_version'")
    con.execute("INSERT INTO pg_sequences VALUES ('db', ?, 'd', 'public', 'old_seq', 'integer', 5, 100, 1)", [START])
    con.execute("INSERT INTO pg_databases (server, taken_at, datname, size_bytes) VALUES ('db', ?, 'd', 7)", [START])
    con.close()
    assert schema.SCHEMA_VERSION == "5"
    with warehouse.write_run("test") as run:
        run.replace_rows("backups", backup_rows("b2"))
    sequences = query_snapshot(
        warehouse, "SELECT sequencename, last_value, min_value IS NULL AS unknown FROM pg_sequences"
    )
    assert sequences.values.tolist() == [["old_seq", 5, True]]
    databases = query_snapshot(
        warehouse, "SELECT datname, size_bytes, stats_reset IS NULL AS unknown FROM pg_databases"
    )
    assert databases.values.tolist() == [["d", 7, True]]
    for table, column in [("pg_tables", "relid"), ("pg_indexes", "indexrelid")]:
        assert column in query_snapshot(warehouse, f"SELECT * FROM {table}").columns
    assert len(query_snapshot(warehouse, "SELECT * FROM metric_samples")) == 120
    version = query_snapshot(warehouse, "SELECT value FROM schema_info WHERE key = 'schema_version'")
    assert version.value.tolist() == ["5"]


def test_a_schema_3_warehouse_keeps_its_redis_snapshots_and_gains_run_id(warehouse: Warehouse) -> None:
    load_two_hours(warehouse, 1)
    con = duckdb.connect(str(warehouse.path))
    for table, column in SCHEMA_4_COLUMNS:
        con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")  # the shape schema version 3 had
    con.execute("UPDATE schema_info SET value = '3' WHERE key = 'schema_version'")
    con.execute("INSERT INTO redis_info (server, taken_at, keyspace_hits) VALUES ('redis', ?, 41)", [START])
    con.close()
    with warehouse.write_run("test") as run:
        run.replace_rows("backups", backup_rows("b2"))
    rows = query_snapshot(warehouse, "SELECT keyspace_hits, run_id IS NULL AS unknown FROM redis_info")
    assert rows.values.tolist() == [[41, True]]


def test_a_reader_of_an_older_schema_migrates_it_first(warehouse: Warehouse) -> None:
    """After an upgrade, the first report may come before the first collection: it must not fail on it."""
    load_two_hours(warehouse, 1)
    con = duckdb.connect(str(warehouse.path))
    for table, column in [*SCHEMA_3_COLUMNS, *SCHEMA_4_COLUMNS]:
        con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")  # the shape schema version 2 had
    con.execute("UPDATE schema_info SET value = '2' WHERE key = 'schema_version'")
    con.close()
    warehouse._bump_generation()  # as the older sre_lib's last run left it
    reader = warehouse.open_read_only()
    try:
        assert reader.execute("SELECT value FROM schema_info WHERE key = 'schema_version'").fetchone() == ("5",)
        assert "run_id" in reader.execute("SELECT * FROM redis_info").df().columns
        assert "relid" in reader.execute("SELECT * FROM pg_tables").df().columns
        assert reader.execute("SELECT count(*) FROM metric_samples").fetchone() == (120,)
    finally:
        reader.close()


_NAIVE_WINDOW_TWICE = textwrap.dedent(
    """
    import sys
    from datetime import datetime
    import pandas as pd
    from sre_lib.warehouse.store import Warehouse
    start, end = datetime(2024, 1, 1, 10, 0), datetime(2024, 1, 1, 12, 0)  # naive: UTC
    frame = pd.DataFrame({"series_id": 5, "ts": pd.date_range(start, periods=3, freq="1h"), "value": 1.0})
    warehouse = Warehouse(sys.argv[1])
    for _ in range(2):
        with warehouse.write_run("test") as run:
            run.replace_samples(frame, start, end)
    with warehouse.read_latest() as con:
        print(con.execute("SELECT count(*), count(DISTINCT ts) FROM metric_samples").fetchall()[0])
    """
)


def test_a_naive_window_is_utc_whatever_the_machines_time_zone(warehouse: Warehouse) -> None:
    env = {**os.environ, "TZ": "America/New_York"}
    out = subprocess.run(
        [sys.executable, "-c", _NAIVE_WINDOW_TWICE, str(warehouse.path)], env=env, capture_output=True, text=True,
        timeout=60, check=True,
    ).stdout  # fmt: skip
    assert out.strip() == "(3, 3)"  # the second run replaced the first: no duplicates


def test_a_snapshot_that_cannot_be_written_leaves_no_half_copy(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def disk_full(source: Path, target: Path) -> None:
        target.write_bytes(source.read_bytes()[:4096])
        raise OSError(28, "No space left on device")

    load_two_hours(warehouse, 1)
    with monkeypatch.context() as patch:
        patch.setattr(readers, "_copy_file", disk_full)
        with pytest.raises(WarehouseError, match=r"cannot publish a read snapshot of .*No space left on device"):
            warehouse.open_read_only()
    assert not list(warehouse.snapshot_dir.glob("*.partial"))
    assert query_snapshot(warehouse, "SELECT count(*) AS n FROM metric_samples").n[0] == 120  # published now
    load_two_hours(warehouse, 2)
    with monkeypatch.context() as patch, caplog.at_level(logging.WARNING, logger="sre_lib.warehouse.readers"):
        patch.setattr(readers, "_copy_file", disk_full)
        assert query_snapshot(warehouse, "SELECT count(*) AS n FROM metric_samples").n[0] == 120  # the last copy
    assert "cannot publish a new one" in caplog.text and not list(warehouse.snapshot_dir.glob("*.partial"))


def test_rows_a_column_cannot_hold_fail_naming_the_table_and_nothing_is_written(warehouse: Warehouse) -> None:
    load_two_hours(warehouse, 1)
    rows = pd.DataFrame({"server": ["db"], "taken_at": [pd.Timestamp(START)], "datname": ["d"], "schemaname": ["s"],
                         "sequencename": ["huge"], "last_value": [float(2**64)]})  # fmt: skip
    expected = r"^table pg_sequences: the rows cannot be stored: Conversion Error"
    with pytest.raises(WarehouseError, match=expected), warehouse.write_run("test") as run:
        run.replace_rows("backups", backup_rows("b3"))
        run.replace_rows("pg_sequences", rows)
    assert query_snapshot(warehouse, "SELECT backup_id FROM backups").backup_id.tolist() == ["b1"]
    assert warehouse.runs().status.tolist()[0] == "failed"
