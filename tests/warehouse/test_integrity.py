"""Readers and their snapshots against hostile files: a file that is not a warehouse of ours is refused before
anything is created beside it, copies keep the owner's permissions, and a damaged file never replaces a good
snapshot (issue 13, items 5 and 6)."""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from sre_lib.errors import WarehouseError
from sre_lib.warehouse.store import Warehouse

SRE = str(Path(sys.executable).with_name("sre"))
START = datetime(2026, 1, 1, tzinfo=UTC)


def _load(warehouse: Warehouse) -> None:
    with warehouse.write_run("test", window_start=START, window_end=START + timedelta(hours=1)) as run:
        ts = pd.date_range(START, periods=60, freq="1min")
        run.replace_samples(pd.DataFrame({"series_id": 1, "ts": ts, "value": 1.0}), START, ts[-1])


def _beside(path: Path) -> set[str]:
    """What lies in the warehouse's folder besides the file itself."""
    return {p.name for p in path.parent.iterdir()} - {path.name}


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ---------------------------------------------------------------- item 5: only a warehouse of ours is read


def test_a_file_that_is_not_a_duckdb_database_is_refused_and_nothing_is_created(tmp_path: Path) -> None:
    passwd = tmp_path / "etc" / "passwd"
    passwd.parent.mkdir()
    passwd.write_text("root:x:0:0:root:/root:/bin/bash\n")
    warehouse = Warehouse(passwd)
    expected = rf"^cannot read warehouse {passwd}: not a DuckDB database \(its header lacks DuckDB's 'DUCK'\): expected"
    with pytest.raises(WarehouseError, match=expected):
        warehouse.open_read_only()
    with pytest.raises(WarehouseError, match=expected), warehouse.read_latest():
        pass
    assert _beside(passwd) == set(), "no lock file, no snapshot folder, no copy"


def test_an_empty_file_is_refused_and_nothing_is_created(tmp_path: Path) -> None:
    empty = tmp_path / "w.duckdb"
    empty.touch()
    with pytest.raises(WarehouseError, match=r"w\.duckdb: not a DuckDB database"):
        Warehouse(empty).open_read_only()
    assert _beside(empty) == set()


def test_a_duckdb_database_that_is_not_a_warehouse_is_refused_and_nothing_is_created(tmp_path: Path) -> None:
    other = tmp_path / "analytics.duckdb"
    with closing(duckdb.connect(str(other))) as con:
        con.execute("CREATE TABLE sales AS SELECT 1 AS amount")
    expected = rf"^cannot read warehouse {other}: a DuckDB database but not an sre warehouse \(it has no schema_info"
    with pytest.raises(WarehouseError, match=expected):
        Warehouse(other).open_read_only()
    with pytest.raises(WarehouseError, match=expected), Warehouse(other).read_latest():
        pass
    assert _beside(other) == set()


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_a_path_that_is_not_a_regular_file_is_refused_at_once(tmp_path: Path, kind: str) -> None:
    """A FIFO would block the copy for ever, waiting for a writer that never comes."""
    path = tmp_path / "w.duckdb"
    path.mkdir() if kind == "folder" else os.mkfifo(path)
    with pytest.raises(WarehouseError, match=rf"^cannot read warehouse {path}: not a regular file: expected"):
        Warehouse(path).open_read_only()
    assert _beside(path) == set()


@pytest.mark.parametrize(
    ("file_mode", "folder_mode"), [(0o600, 0o700), (0o640, 0o750), (0o660, 0o770)], ids=["0600", "0640", "0660"]
)
def test_copies_the_lock_and_the_snapshot_folder_keep_the_owners_permissions(
    tmp_path: Path, file_mode: int, folder_mode: int
) -> None:
    built = Warehouse(tmp_path / "built" / "w.duckdb")
    _load(built)
    moved = tmp_path / "moved" / "w.duckdb"  # the file alone, as a restore from backup leaves it
    moved.parent.mkdir()
    shutil.copyfile(built.path, moved)
    moved.chmod(file_mode)
    warehouse = Warehouse(moved)
    with _umask(0o022):  # a reader's usual umask would make 0644 copies and a 0755 folder
        with closing(warehouse.open_read_only()) as con:
            assert con.execute("SELECT count(*) FROM metric_samples").fetchone() == (60,)
        _load(warehouse)
        with closing(warehouse.open_read_only()):
            pass
    assert _mode(warehouse.lock_path) == file_mode
    assert _mode(warehouse.snapshot_dir) == folder_mode
    snapshots = sorted(warehouse.snapshot_dir.glob("*.duckdb"))
    assert len(snapshots) == 2 and {_mode(s) for s in snapshots} == {file_mode}


def test_a_snapshot_folder_wider_than_the_file_is_narrowed(tmp_path: Path) -> None:
    """Folders left by an earlier version (0755 beside a 0600 file) stop exposing the copies."""
    warehouse = Warehouse(tmp_path / "w.duckdb")
    _load(warehouse)
    warehouse.path.chmod(0o600)
    warehouse.snapshot_dir.chmod(0o755)
    with closing(warehouse.open_read_only()):
        pass
    assert _mode(warehouse.snapshot_dir) == 0o700
    assert {_mode(s) for s in warehouse.snapshot_dir.glob("*.duckdb")} == {0o600}


# ---------------------------------------------------------------- item 6: damage never spreads to the snapshots


def _damage(path: Path) -> None:
    """Overwrite a few 4 KB pieces in the middle of the file, as failing disk blocks would."""
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        for fraction in (0.4, 0.5, 0.6):
            handle.seek(int(size * fraction))
            handle.write(b"\xa5" * 4096)


@pytest.fixture
def demo_copy(demo_warehouse: Path, tmp_path: Path) -> Path:
    """A private copy of the demo warehouse file (no snapshots yet): these tests damage it."""
    path = tmp_path / "w.duckdb"
    shutil.copyfile(demo_warehouse, path)
    return path


def _samples(warehouse: Warehouse) -> int:
    with closing(warehouse.open_read_only()) as con:
        return con.execute("SELECT count(*) FROM metric_samples WHERE value IS NOT NULL").fetchone()[0]


def test_a_damaged_file_never_replaces_the_last_good_snapshot(
    demo_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    warehouse = Warehouse(demo_copy)
    before = _samples(warehouse)
    good = warehouse.current_snapshot()
    _damage(warehouse.path)
    for _ in range(3):  # runs go on (a failed one still writes its log row); readers keep coming
        with pytest.raises(WarehouseError, match="source down"), warehouse.write_run("test"):
            raise WarehouseError("source down")
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="sre_lib.warehouse.store"):
            assert _samples(warehouse) == before
        assert f"warehouse {warehouse.path} is damaged: Corrupt database file" in caplog.text
        assert f"reading the last good snapshot of {warehouse.path} ({good.name}, made 20" in caplog.text
    assert warehouse.current_snapshot() == good
    assert sorted(p.name for p in warehouse.snapshot_dir.iterdir() if p.suffix != "") == [good.name]


def test_a_file_damaged_before_its_first_snapshot_is_refused_and_nothing_is_published(demo_copy: Path) -> None:
    _damage(demo_copy)
    warehouse = Warehouse(demo_copy)
    with pytest.raises(WarehouseError, match=rf"^warehouse {demo_copy} is damaged: Corrupt database file: .*block"):
        warehouse.open_read_only()
    assert not list(warehouse.snapshot_dir.glob("*.duckdb*")), "no copy, no half copy"


def _sre(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SRE, *args], capture_output=True, text=True, timeout=300)


def test_warehouse_info_checks_every_block_and_exits_1_on_damage(demo_copy: Path) -> None:
    healthy = _sre("warehouse", "info", "--warehouse", str(demo_copy))
    assert healthy.returncode == 0, healthy.stderr
    assert "check: every row of every table read, block checksums match" in healthy.stdout
    good = Warehouse(demo_copy).current_snapshot()
    _damage(demo_copy)
    damaged = _sre("warehouse", "info", "--warehouse", str(demo_copy))
    assert damaged.returncode == 1
    assert damaged.stdout == ""
    lines = damaged.stderr.strip().splitlines()
    assert len(lines) == 1, damaged.stderr
    assert lines[0].startswith(f"sre: error: warehouse {demo_copy} is damaged: Corrupt database file: ")
    assert f"the last good snapshot is {good}" in lines[0]


@pytest.mark.parametrize("content", [b"root:x:0:0:root:/root:/bin/bash\n", b""])
def test_a_writer_pointed_at_a_file_that_is_no_warehouse_adds_nothing_beside_it(tmp_path: Path, content: bytes) -> None:
    target = tmp_path / "passwd"
    target.write_bytes(content)
    with pytest.raises(WarehouseError, match=r"passwd: not a DuckDB database"), Warehouse(target).write_run("test"):
        pass
    assert target.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["passwd"]


def test_a_writer_pointed_at_another_duckdb_database_adds_no_table_to_it(tmp_path: Path) -> None:
    target = tmp_path / "theirs.duckdb"
    con = duckdb.connect(str(target))
    con.execute("CREATE TABLE orders AS SELECT 1 AS id")
    con.close()
    with pytest.raises(WarehouseError, match="not an sre warehouse"):
        Warehouse(target).ensure_created()
    con = duckdb.connect(str(target), read_only=True)
    try:
        assert [row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()] == [
            "orders"
        ]
    finally:
        con.close()
    assert not (tmp_path / "theirs.duckdb.lock").exists()


def test_a_failed_run_logs_its_error_without_the_environments_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPASSWORD", "s3cr3t-pw")
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with pytest.raises(RuntimeError), warehouse.write_run("test"):
        raise RuntimeError("connection to postgresql://app:s3cr3t-pw@db/app failed")
    error = warehouse.runs().iloc[0].error
    assert "s3cr3t-pw" not in error and error == "connection to postgresql://app:***@db/app failed"
