"""Read snapshots: published when read, never blocking a writer, and a dead writer's committed run recovered."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from warehouse_rows import END, load_two_hours, query_snapshot, sample_rows

from sre_lib.errors import WarehouseBusyError, WarehouseError
from sre_lib.warehouse.store import Warehouse


def test_reading_a_missing_warehouse_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match=r"does not exist: build the demo \(sre demo\)"):
        Warehouse(tmp_path / "none.duckdb").open_read_only()


def test_old_snapshots_are_pruned(warehouse: Warehouse) -> None:
    for _ in range(5):
        load_two_hours(warehouse, 1)
        warehouse.open_read_only().close()
    assert len(list(warehouse.snapshot_dir.glob("*.duckdb"))) == 2


def test_published_snapshots_are_exact_copies(warehouse: Warehouse) -> None:
    load_two_hours(warehouse, 1)
    assert warehouse.current_snapshot().read_bytes() == warehouse.path.read_bytes()


def test_writes_copy_nothing_until_someone_reads(warehouse: Warehouse) -> None:
    for _ in range(3):
        load_two_hours(warehouse, 1)
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
            run.replace_samples(sample_rows(1, start, 60), start, start + timedelta(hours=1))
            yield

    load_two_hours(warehouse, 1)
    assert query_snapshot(warehouse, "SELECT count(*) AS n FROM metric_samples").n[0] == 120  # published
    for _ in add_hour(1):
        pass  # 180 rows now, not yet published
    reader = Warehouse(warehouse.path, lock_timeout=30, read_wait=0.5)
    for _ in add_hour(2):  # a writer holds the lock
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="sre_lib.warehouse.readers"):
            assert query_snapshot(reader, "SELECT count(*) AS n FROM metric_samples").n[0] == 120
        assert 0.5 <= time.monotonic() - started < 5
        assert "held the lock for over 0.5 s; reading the snapshot made 20" in caplog.text
        with pytest.raises(WarehouseBusyError), Warehouse(warehouse.path, lock_timeout=0.5).read_latest():
            pass  # a reader that must see every finished run waits for the writer, then gives up; no fallback
    assert query_snapshot(reader, "SELECT count(*) AS n FROM metric_samples").n[0] == 240


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
    load_two_hours(warehouse, 1)
    assert query_snapshot(warehouse, "SELECT count(*) AS n FROM metric_samples").n[0] == 120
    died = subprocess.run([sys.executable, "-c", _DIES_AFTER_COMMIT, str(warehouse.path)], timeout=60)
    assert died.returncode == 9 and warehouse.wal_path.exists()
    with warehouse._write_lock():  # a live writer: the reader does not wait, and reads the last snapshot
        started = time.monotonic()
        assert query_snapshot(warehouse, "SELECT count(*) AS n FROM metric_samples").n[0] == 120
        assert time.monotonic() - started < warehouse.read_wait / 2  # it did not wait out read_wait (10 s)
    with caplog.at_level(logging.WARNING, logger="sre_lib.warehouse.readers"):
        assert query_snapshot(warehouse, "SELECT count(*) AS n FROM metric_samples").n[0] == 150
    assert "a writer that stopped after committing" in caplog.text
    assert not warehouse.wal_path.exists()


def test_a_dead_writers_run_is_in_the_next_snapshot_even_after_other_runs(warehouse: Warehouse) -> None:
    load_two_hours(warehouse, 1)
    assert query_snapshot(warehouse, "SELECT count(*) AS n FROM metric_samples").n[0] == 120  # published
    later = END + timedelta(hours=1)
    with warehouse.write_run("test") as run:  # a finished run, not read yet: the generation moves on
        run.replace_samples(sample_rows(1, later, 60), later, later + timedelta(hours=1))
    died = subprocess.run([sys.executable, "-c", _DIES_AFTER_COMMIT, str(warehouse.path)], timeout=60)
    assert died.returncode == 9 and warehouse.wal_path.exists()
    assert query_snapshot(warehouse, "SELECT count(*) AS n FROM metric_samples").n[0] == 210  # 120 + 60 + 30
    assert not warehouse.wal_path.exists()
