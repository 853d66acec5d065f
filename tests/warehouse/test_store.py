"""The warehouse: transactional, idempotent runs; readers that neither block nor break a writer."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from sre_lib.errors import WarehouseBusyError, WarehouseError
from sre_lib.warehouse import store as warehouse_module
from sre_lib.warehouse.store import Warehouse, schema_sql, series_id, table_keys

START = datetime(2026, 1, 1, tzinfo=UTC)
END = START + timedelta(hours=2)


def _samples(sid: int, start: datetime = START, minutes: int = 120, offset: float = 0.0) -> pd.DataFrame:
    ts = pd.date_range(start, periods=minutes, freq="1min")
    return pd.DataFrame({"series_id": sid, "ts": ts, "value": np.arange(minutes, dtype=float) + offset})


def _backup(backup_id: str, status: str = "ok") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "server": ["pg"],
            "backup_id": [backup_id],
            "kind": ["full"],
            "status": [status],
            "started_at": [pd.Timestamp(START)],
            "finished_at": [pd.Timestamp(START + timedelta(minutes=30))],
        }
    )


def _load(warehouse: Warehouse, sid: int) -> None:
    with warehouse.write_run("test", window_start=START, window_end=END) as run:
        run.replace_samples(_samples(sid), START, END)
        run.replace_rows("backups", _backup("b1"))


def _table(warehouse: Warehouse, query: str) -> pd.DataFrame:
    con = warehouse.open_read_only()
    try:
        return con.execute(query).df()
    finally:
        con.close()


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    return Warehouse(tmp_path / "w.duckdb", lock_timeout=0.5)


def test_every_table_documents_its_natural_key() -> None:
    tables = set(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", schema_sql()))
    assert tables - {"schema_info"} == set(table_keys())
    con = duckdb.connect()
    con.execute(schema_sql())
    for table, keys in table_keys().items():
        columns = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
        assert set(keys) <= columns, table


def test_same_window_twice_leaves_the_same_rows(warehouse: Warehouse) -> None:
    sid = series_id("cpu", {"instance": "app-1"})
    _load(warehouse, sid)
    first = _table(warehouse, "SELECT * FROM metric_samples ORDER BY ts")
    _load(warehouse, sid)
    second = _table(warehouse, "SELECT * FROM metric_samples ORDER BY ts")
    pd.testing.assert_frame_equal(first, second)
    assert len(second) == 120
    assert len(_table(warehouse, "SELECT * FROM backups")) == 1
    runs = warehouse.runs()
    assert list(runs.status) == ["ok", "ok"]
    assert list(runs.rows_written) == [121, 121]


def test_replacing_a_window_updates_values_and_keeps_other_windows(warehouse: Warehouse) -> None:
    sid = series_id("cpu", {"instance": "app-1"})
    _load(warehouse, sid)
    later_start, later_end = END + timedelta(minutes=1), END + timedelta(hours=1)
    with warehouse.write_run("test") as run:
        run.replace_samples(_samples(sid, later_start, 60), later_start, later_end)
    with warehouse.write_run("test") as run:
        run.replace_samples(_samples(sid, START, 120, offset=1000.0), START, END)
    rows = _table(warehouse, "SELECT ts, value FROM metric_samples ORDER BY ts")
    assert len(rows) == 180
    assert rows.value.iloc[0] == 1000.0 and rows.value.iloc[-1] == 59.0


def test_a_run_replaces_what_it_wrote_itself_and_only_that_series(warehouse: Warehouse) -> None:
    half = START + timedelta(minutes=59)
    with warehouse.write_run("test") as run:
        run.replace_samples(_samples(1, START, 60), START, half)
        run.replace_samples(_samples(2, START, 60, offset=100.0), START, half)  # same range, another series
        run.replace_samples(_samples(1, START + timedelta(minutes=60), 60), half + timedelta(minutes=1), END)
        run.replace_samples(_samples(1, START, 30, offset=500.0), START, half)  # overlaps its own first write
    rows = _table(
        warehouse, "SELECT series_id, count(*) AS n, max(value) AS top FROM metric_samples GROUP BY 1 ORDER BY 1"
    )
    assert rows.values.tolist() == [[1, 90, 529.0], [2, 60, 159.0]]


def test_series_id_is_stable_and_label_order_free() -> None:
    a = series_id("cpu", {"component": "app", "instance": "app-1"})
    assert a == series_id("cpu", {"instance": "app-1", "component": "app"})
    assert a != series_id("cpu", {"component": "app", "instance": "app-2"})
    assert 0 <= a < 2**63


def test_non_finite_values_are_not_stored(warehouse: Warehouse) -> None:
    samples = _samples(7, minutes=4)
    samples.loc[1, "value"] = np.nan
    samples.loc[2, "value"] = np.inf
    with warehouse.write_run("test") as run:
        assert run.replace_samples(samples, START, END) == 2
    assert list(_table(warehouse, "SELECT value FROM metric_samples ORDER BY ts").value) == [0.0, 3.0]


def test_a_run_that_fails_half_way_leaves_the_warehouse_unchanged(warehouse: Warehouse) -> None:
    _load(warehouse, 1)
    before = _table(warehouse, "SELECT * FROM metric_samples ORDER BY ts")
    with pytest.raises(RuntimeError, match="source went away"), warehouse.write_run("test") as run:
        run.replace_samples(_samples(1, offset=500.0), START, END)
        run.replace_rows("backups", _backup("b1", status="failed"))
        raise RuntimeError("source went away")
    pd.testing.assert_frame_equal(before, _table(warehouse, "SELECT * FROM metric_samples ORDER BY ts"))
    assert list(_table(warehouse, "SELECT status FROM backups").status) == ["ok"]
    last = warehouse.runs().iloc[0]
    assert (last.status, last.rows_written, last.error) == ("failed", 0, "source went away")


def test_samples_outside_the_declared_window_are_refused(warehouse: Warehouse) -> None:
    with pytest.raises(WarehouseError, match=r"59 samples fall outside"), warehouse.write_run("test") as run:
        run.replace_samples(_samples(1, minutes=180), START, END)
    assert warehouse.runs().iloc[0].status == "failed"


def test_unknown_columns_are_named(warehouse: Warehouse) -> None:
    frame = _backup("b1").assign(colour="red")
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
    _load(warehouse, 1)
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
                run.replace_samples(_samples(1, start, 60), start, start + timedelta(hours=1))
        out, _ = reader.communicate("go\n", timeout=30)
    finally:
        reader.kill()
    assert out.strip() == "120", "the reader keeps the consistent view it opened"
    assert reader.returncode == 0
    assert _table(warehouse, "SELECT count(*) AS n FROM metric_samples").n[0] == 240


def test_a_second_writer_waits_then_fails_clearly(warehouse: Warehouse) -> None:
    warehouse.ensure_created()
    other = Warehouse(warehouse.path, lock_timeout=0.2)
    with (
        warehouse.write_run("test"),
        pytest.raises(WarehouseBusyError, match=r"w\.duckdb is busy"),
        other.write_run("test"),
    ):
        pass


def test_reading_a_missing_warehouse_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match=r"does not exist: build the demo \(sre demo\)"):
        Warehouse(tmp_path / "none.duckdb").open_read_only()


def test_a_warehouse_of_another_schema_version_is_refused(warehouse: Warehouse) -> None:
    warehouse.ensure_created()
    con = duckdb.connect(str(warehouse.path))
    con.execute("UPDATE schema_info SET value = '99' WHERE key = 'schema_version'")
    con.close()
    expected = r"has schema version 99; this sre_lib writes version 4 and can migrate only from 1, 2, 3"
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
    _load(warehouse, 1)
    con = duckdb.connect(str(warehouse.path))
    for table, column in [("pg_sequences", "min_value"), *SCHEMA_3_COLUMNS, *SCHEMA_4_COLUMNS]:
        con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")  # the shape schema version 1 had
    con.execute("UPDATE schema_info SET value = '1' WHERE key = 'schema_version'")
    con.execute("INSERT INTO pg_sequences VALUES ('db', ?, 'd', 'public', 'old_seq', 'integer', 5, 100, 1)", [START])
    con.execute("INSERT INTO pg_databases (server, taken_at, datname, size_bytes) VALUES ('db', ?, 'd', 7)", [START])
    con.close()
    assert warehouse_module.SCHEMA_VERSION == "4"
    with warehouse.write_run("test") as run:
        run.replace_rows("backups", _backup("b2"))
    sequences = _table(warehouse, "SELECT sequencename, last_value, min_value IS NULL AS unknown FROM pg_sequences")
    assert sequences.values.tolist() == [["old_seq", 5, True]]
    databases = _table(warehouse, "SELECT datname, size_bytes, stats_reset IS NULL AS unknown FROM pg_databases")
    assert databases.values.tolist() == [["d", 7, True]]
    for table, column in [("pg_tables", "relid"), ("pg_indexes", "indexrelid")]:
        assert column in _table(warehouse, f"SELECT * FROM {table}").columns
    assert len(_table(warehouse, "SELECT * FROM metric_samples")) == 120
    version = _table(warehouse, "SELECT value FROM schema_info WHERE key = 'schema_version'")
    assert version.value.tolist() == ["4"]


def test_a_schema_3_warehouse_keeps_its_redis_snapshots_and_gains_run_id(warehouse: Warehouse) -> None:
    _load(warehouse, 1)
    con = duckdb.connect(str(warehouse.path))
    for table, column in SCHEMA_4_COLUMNS:
        con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")  # the shape schema version 3 had
    con.execute("UPDATE schema_info SET value = '3' WHERE key = 'schema_version'")
    con.execute("INSERT INTO redis_info (server, taken_at, keyspace_hits) VALUES ('redis', ?, 41)", [START])
    con.close()
    with warehouse.write_run("test") as run:
        run.replace_rows("backups", _backup("b2"))
    rows = _table(warehouse, "SELECT keyspace_hits, run_id IS NULL AS unknown FROM redis_info")
    assert rows.values.tolist() == [[41, True]]


def test_a_reader_of_an_older_schema_migrates_it_first(warehouse: Warehouse) -> None:
    """After an upgrade, the first report may come before the first collection: it must not fail on it."""
    _load(warehouse, 1)
    con = duckdb.connect(str(warehouse.path))
    for table, column in [*SCHEMA_3_COLUMNS, *SCHEMA_4_COLUMNS]:
        con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")  # the shape schema version 2 had
    con.execute("UPDATE schema_info SET value = '2' WHERE key = 'schema_version'")
    con.close()
    warehouse._bump_generation()  # as the older sre_lib's last run left it
    reader = warehouse.open_read_only()
    try:
        assert reader.execute("SELECT value FROM schema_info WHERE key = 'schema_version'").fetchone() == ("4",)
        assert "run_id" in reader.execute("SELECT * FROM redis_info").df().columns
        assert "relid" in reader.execute("SELECT * FROM pg_tables").df().columns
        assert reader.execute("SELECT count(*) FROM metric_samples").fetchone() == (120,)
    finally:
        reader.close()


def test_old_snapshots_are_pruned(warehouse: Warehouse) -> None:
    for _ in range(5):
        _load(warehouse, 1)
        warehouse.open_read_only().close()
    assert len(list(warehouse.snapshot_dir.glob("*.duckdb"))) == 2


def test_published_snapshots_are_exact_copies(warehouse: Warehouse) -> None:
    _load(warehouse, 1)
    assert warehouse.current_snapshot().read_bytes() == warehouse.path.read_bytes()


def test_writes_copy_nothing_until_someone_reads(warehouse: Warehouse) -> None:
    for _ in range(3):
        _load(warehouse, 1)
    assert not list(warehouse.snapshot_dir.glob("*.duckdb")), "a run alone publishes no copy"
    first = warehouse.current_snapshot()
    assert warehouse.current_snapshot() == first, "no write since: the same snapshot, no new copy"
    assert len(list(warehouse.snapshot_dir.glob("*.duckdb"))) == 1
    with pytest.raises(WarehouseError), warehouse.write_run("test"):
        raise WarehouseError("a failed run changes the file too (its failure is logged)")
    assert warehouse.current_snapshot() != first
    assert warehouse.runs().status.tolist() == ["failed", "ok", "ok", "ok"]


def test_a_reader_waits_briefly_for_a_writer_then_reads_the_last_snapshot(
    warehouse: Warehouse, caplog: pytest.LogCaptureFixture
) -> None:
    def add_hour(offset: int) -> Iterator[None]:
        start = END + timedelta(hours=offset)
        with warehouse.write_run("test") as run:
            run.replace_samples(_samples(1, start, 60), start, start + timedelta(hours=1))
            yield

    _load(warehouse, 1)
    assert _table(warehouse, "SELECT count(*) AS n FROM metric_samples").n[0] == 120  # published
    for _ in add_hour(1):
        pass  # 180 rows now, not yet published
    reader = Warehouse(warehouse.path, lock_timeout=30, read_wait=0.5)
    for _ in add_hour(2):  # a writer holds the lock
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="sre_lib.warehouse.store"):
            assert _table(reader, "SELECT count(*) AS n FROM metric_samples").n[0] == 120
        assert 0.5 <= time.monotonic() - started < 5
        assert "held the lock for over 0.5 s; reading the snapshot made 20" in caplog.text
        with pytest.raises(WarehouseBusyError), Warehouse(warehouse.path, lock_timeout=0.5).read_latest():
            pass  # a reader that must see every finished run waits for the writer, then gives up; no fallback
    assert _table(reader, "SELECT count(*) AS n FROM metric_samples").n[0] == 240


_DIES_AFTER_COMMIT = textwrap.dedent(
    """
    import os, sys
    from datetime import datetime, timedelta, UTC
    import pandas as pd
    from sre_lib.warehouse.store import Warehouse
    start = datetime(2026, 3, 1, tzinfo=UTC)
    with Warehouse(sys.argv[1]).write_run("test") as run:
        ts = pd.date_range(start, periods=30, freq="1min")
        run.replace_samples(pd.DataFrame({"series_id": 9, "ts": ts, "value": 1.0}), start, ts[-1])
        run.con.execute("COMMIT")
        os._exit(9)  # killed after COMMIT, before CHECKPOINT: the run lives only in the WAL
    """
)


def test_readers_see_a_run_whose_writer_died_after_committing(
    warehouse: Warehouse, caplog: pytest.LogCaptureFixture
) -> None:
    _load(warehouse, 1)
    assert _table(warehouse, "SELECT count(*) AS n FROM metric_samples").n[0] == 120
    died = subprocess.run([sys.executable, "-c", _DIES_AFTER_COMMIT, str(warehouse.path)], timeout=60)
    assert died.returncode == 9 and warehouse.wal_path.exists()
    with warehouse._write_lock():  # a live writer: the reader does not wait, and reads the last snapshot
        started = time.monotonic()
        assert _table(warehouse, "SELECT count(*) AS n FROM metric_samples").n[0] == 120
        assert time.monotonic() - started < 0.4
    with caplog.at_level(logging.WARNING, logger="sre_lib.warehouse.store"):
        assert _table(warehouse, "SELECT count(*) AS n FROM metric_samples").n[0] == 150
    assert "a writer that stopped after committing" in caplog.text
    assert not warehouse.wal_path.exists()


def test_a_dead_writers_run_is_in_the_next_snapshot_even_after_other_runs(warehouse: Warehouse) -> None:
    _load(warehouse, 1)
    assert _table(warehouse, "SELECT count(*) AS n FROM metric_samples").n[0] == 120  # published
    later = END + timedelta(hours=1)
    with warehouse.write_run("test") as run:  # a finished run, not read yet: the generation moves on
        run.replace_samples(_samples(1, later, 60), later, later + timedelta(hours=1))
    died = subprocess.run([sys.executable, "-c", _DIES_AFTER_COMMIT, str(warehouse.path)], timeout=60)
    assert died.returncode == 9 and warehouse.wal_path.exists()
    assert _table(warehouse, "SELECT count(*) AS n FROM metric_samples").n[0] == 210  # 120 + 60 + 30
    assert not warehouse.wal_path.exists()


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

    _load(warehouse, 1)
    with monkeypatch.context() as patch:
        patch.setattr(warehouse_module, "_copy_file", disk_full)
        with pytest.raises(WarehouseError, match=r"cannot publish a read snapshot of .*No space left on device"):
            warehouse.open_read_only()
    assert not list(warehouse.snapshot_dir.glob("*.partial"))
    assert _table(warehouse, "SELECT count(*) AS n FROM metric_samples").n[0] == 120  # published now
    _load(warehouse, 2)
    with monkeypatch.context() as patch, caplog.at_level(logging.WARNING, logger="sre_lib.warehouse.store"):
        patch.setattr(warehouse_module, "_copy_file", disk_full)
        assert _table(warehouse, "SELECT count(*) AS n FROM metric_samples").n[0] == 120  # the last copy
    assert "cannot publish a new one" in caplog.text and not list(warehouse.snapshot_dir.glob("*.partial"))


def test_rows_a_column_cannot_hold_fail_naming_the_table_and_nothing_is_written(warehouse: Warehouse) -> None:
    _load(warehouse, 1)
    rows = pd.DataFrame({"server": ["db"], "taken_at": [pd.Timestamp(START)], "datname": ["d"], "schemaname": ["s"],
                         "sequencename": ["huge"], "last_value": [float(2**64)]})  # fmt: skip
    expected = r"^table pg_sequences: the rows cannot be stored: Conversion Error"
    with pytest.raises(WarehouseError, match=expected), warehouse.write_run("test") as run:
        run.replace_rows("backups", _backup("b3"))
        run.replace_rows("pg_sequences", rows)
    assert _table(warehouse, "SELECT backup_id FROM backups").backup_id.tolist() == ["b1"]
    assert warehouse.runs().status.tolist()[0] == "failed"
