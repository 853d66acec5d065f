"""The DuckDB warehouse: schema, transactional idempotent writes, read-only access that never blocks a writer.

DuckDB lets one process write a file, or many processes read it, never both at once. So:

* Writers serialise on an ``fcntl`` lock file (``<warehouse>.lock``), waiting up to ``lock_timeout`` seconds.
  A collection run is one DuckDB transaction: it lands whole or not at all. Rows are replaced by their
  natural key (see ``schema.sql``), so loading the same window twice leaves the same rows.
* Readers (reports, notebooks) open a read snapshot, a copy of the file in ``<warehouse>.snapshots/``
  named by the ``CURRENT`` pointer. They never touch the writer's file, so a long notebook cannot block a
  collection, and a collection cannot break a reader mid-query: the snapshot a reader opened stays intact
  (old snapshots are unlinked, and POSIX keeps an open file alive).
* Snapshots are published when read, not when written: each run (ok or failed) bumps a generation number
  (``<warehouse>.snapshots/GENERATION``); a reader that finds the current snapshot older takes the write
  lock and publishes a new copy (closed and checkpointed by the last writer, switched in by an atomic
  rename). If a writer keeps the lock longer than ``read_wait`` (10 s), the reader opens the last snapshot
  instead (consistent, older; a warning says when it was made). A collector running every few minutes thus
  costs no copy at all until someone reads. Short reads that must see every finished run (the scheduler's
  job log) use ``read_latest()``: the file itself, read-only, under the lock, without a copy.
* A reader first makes sure the path is a warehouse (a regular file, DuckDB's header, a schema_info table)
  before it creates anything beside it; the lock, the snapshot folder and the copies are no more open to
  group and others than the warehouse file is. A copy is read in full before it is published, so that DuckDB
  checks every block's checksum: a damaged file is never published, and readers keep the last good snapshot.

The price is disk: the warehouse plus up to ``KEEP_SNAPSHOTS`` copies.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import stat
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any, TextIO

import duckdb
import pandas as pd

from sre_lib.config import PROJECT_ROOT
from sre_lib.durations import to_utc
from sre_lib.errors import WarehouseBusyError, WarehouseError
from sre_lib.secrets import environment_secrets, redact

SCHEMA_VERSION = "4"
# How to bring a warehouse of an older schema version to the next one; applied in order, in one transaction,
# by the first writer (or reader) that opens it. Collected history is never rebuilt: pg_stat_statements deltas need it.
MIGRATIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "1": ("2", ("ALTER TABLE pg_sequences ADD COLUMN IF NOT EXISTS min_value BIGINT",)),
    "2": (
        "3",
        (
            "ALTER TABLE pg_tables ADD COLUMN IF NOT EXISTS relid BIGINT",
            "ALTER TABLE pg_indexes ADD COLUMN IF NOT EXISTS indexrelid BIGINT",
            "ALTER TABLE pg_databases ADD COLUMN IF NOT EXISTS stats_reset TIMESTAMPTZ",
            "ALTER TABLE pg_databases ADD COLUMN IF NOT EXISTS objects_collected BOOLEAN",
            "ALTER TABLE pg_replication_slots ADD COLUMN IF NOT EXISTS wal_status VARCHAR",
            "ALTER TABLE pg_replication ADD COLUMN IF NOT EXISTS slot_type VARCHAR",
        ),
    ),
    "3": (
        "4",
        (
            "ALTER TABLE redis_info ADD COLUMN IF NOT EXISTS run_id VARCHAR",
            "ALTER TABLE redis_info ADD COLUMN IF NOT EXISTS uptime_in_seconds BIGINT",
            "ALTER TABLE redis_info ADD COLUMN IF NOT EXISTS total_commands_processed BIGINT",
            "ALTER TABLE redis_info ADD COLUMN IF NOT EXISTS total_connections_received BIGINT",
            "ALTER TABLE pg_tables ADD COLUMN IF NOT EXISTS size_estimated BOOLEAN",
            "ALTER TABLE pg_indexes ADD COLUMN IF NOT EXISTS size_estimated BOOLEAN",
            "ALTER TABLE pg_sequences ADD COLUMN IF NOT EXISTS owner_table VARCHAR",
            "ALTER TABLE pg_sequences ADD COLUMN IF NOT EXISTS owner_column VARCHAR",
            "ALTER TABLE pg_sequences ADD COLUMN IF NOT EXISTS column_type VARCHAR",
        ),
    ),
}
DEFAULT_WAREHOUSE_PATH = PROJECT_ROOT / "data" / "warehouse.duckdb"
WAREHOUSE_ENV_VAR = "SRE_WAREHOUSE"
KEEP_SNAPSHOTS = 2
DEFAULT_LOCK_TIMEOUT_SECONDS = 120.0
DEFAULT_READ_WAIT_SECONDS = 10.0  # a reader waits this long for a running collection, then reads the last copy
_LOCK_POLL_SECONDS = 0.05
_DUCKDB_MAGIC = b"DUCK"  # every DuckDB file: an 8-byte header checksum, then these 4 bytes
_DUCKDB_MAGIC_OFFSET = 8

log = logging.getLogger(__name__)


def resolve_warehouse_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The warehouse file to use: the argument, else $SRE_WAREHOUSE, else data/warehouse.duckdb."""
    if path:
        return Path(path)
    env = os.environ.get(WAREHOUSE_ENV_VAR)
    return Path(env) if env else DEFAULT_WAREHOUSE_PATH


@cache
def schema_sql() -> str:
    """The DDL of every table, with the documentation of every column."""
    return files("sre_lib.warehouse").joinpath("schema.sql").read_text(encoding="utf-8")


@cache
def table_keys() -> dict[str, tuple[str, ...]]:
    """Each table's natural key, read from the 'Key: (...)' of its COMMENT in the schema file."""
    keys: dict[str, tuple[str, ...]] = {}
    for table, key in re.findall(r"COMMENT ON TABLE (\w+) IS '[^']*?Key: \(?([\w, ]+)\)?", schema_sql()):
        keys[table] = tuple(part.strip() for part in key.split(","))
    return keys


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    """The single value a query returns (None for no row), leaving no unfinished result behind."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [row[0] for row in rows]


def series_id(metric: str, labels: Mapping[str, str]) -> int:
    """Stable 63-bit id of a series: the same metric and labels give the same id in every run."""
    digest = hashlib.blake2b((metric + "\x00" + canonical_labels(labels)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def canonical_labels(labels: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(labels.items())), separators=(",", ":"))


def _connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute("SET TimeZone = 'UTC'")
    return con


@dataclass
class WriteRun:
    """One collection run inside a single open transaction. Obtain it from ``Warehouse.write_run``."""

    con: duckdb.DuckDBPyConnection
    run_id: str
    rows_written: int = 0
    _columns: dict[str, list[str]] = field(default_factory=dict)
    _sample_spans: dict[int, tuple[datetime, datetime]] = field(default_factory=dict)  # written per series
    _committed: duckdb.DuckDBPyConnection | None = None  # sees what was committed before this run, not its rows

    def replace_rows(self, table: str, frame: pd.DataFrame) -> int:
        """Insert rows, first deleting any existing row with the same natural key. Returns rows inserted."""
        if frame.empty:
            return 0
        keys = table_keys().get(table)
        if keys is None or table in ("metric_samples", "collection_runs"):
            raise WarehouseError(f"table {table!r} cannot be written with replace_rows")
        columns = self._table_columns(table)
        unknown = sorted(set(frame.columns) - set(columns))
        if unknown:
            raise WarehouseError(f"table {table}: unknown columns {unknown}; expected some of {columns}")
        missing_keys = [k for k in keys if k not in frame.columns]
        if missing_keys:
            raise WarehouseError(f"table {table}: rows lack key columns {missing_keys}")
        with _registered(self.con, "_incoming", frame, table):
            match = " AND ".join(f"{table}.{k} IS NOT DISTINCT FROM _incoming.{k}" for k in keys)
            self.con.execute(f"DELETE FROM {table} USING _incoming WHERE {match}")
            self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _incoming")
        self.rows_written += len(frame)
        return len(frame)

    def upsert_series(self, frame: pd.DataFrame) -> None:
        """Record series identities (series_id, source, metric, component, instance, labels)."""
        if frame.empty:
            return
        with _registered(self.con, "_series", frame.drop_duplicates("series_id"), "metric_series"):
            self.con.execute(
                "DELETE FROM metric_series USING _series WHERE metric_series.series_id = _series.series_id"
            )
            self.con.execute("INSERT INTO metric_series BY NAME SELECT * FROM _series")

    def replace_samples(self, samples: Any, start: datetime, end: datetime) -> int:
        """Replace the samples of the series present in ``samples`` within [start, end] by ``samples``.

        ``samples`` is anything DuckDB can scan (a DataFrame or an Arrow table) with columns
        series_id, ts, value. Non-finite values are dropped; rows outside the window are rejected. Naive
        ``start`` and ``end`` are UTC, as naive sample times are.
        """
        start, end = _utc(start, "start"), _utc(end, "end")
        with _registered(self.con, "_samples", samples, "metric_samples"):
            outside = scalar(self.con, "SELECT count(*) FROM _samples WHERE ts < ? OR ts > ?", [start, end])
            if outside:
                raise WarehouseError(
                    f"metric_samples: {outside} samples fall outside the run's window {start} .. {end}"
                )
            series = self.con.execute("SELECT DISTINCT series_id FROM _samples").fetchnumpy()["series_id"].tolist()
            if self._may_hold_samples(series, start, end):
                self.con.execute(
                    "DELETE FROM metric_samples WHERE ts BETWEEN ? AND ? "
                    "AND series_id IN (SELECT DISTINCT series_id FROM _samples)",
                    [start, end],
                )
            for sid in series:  # the span each series has been written over in this run, from first to last
                first, last = self._sample_spans.get(sid, (start, end))
                self._sample_spans[sid] = (min(first, start), max(last, end))
            inserted = scalar(
                self.con,
                "INSERT INTO metric_samples SELECT series_id, ts, value FROM _samples WHERE isfinite(value)",
            )
        self.rows_written += inserted
        return inserted

    def _may_hold_samples(self, series: list[int], start: datetime, end: datetime) -> bool:
        """Whether metric_samples may hold rows of these series in [start, end]: rows this run wrote, or any
        committed row in that time range. Saves the DELETE when neither can exist, which matters because a
        DELETE scans every row this run has written so far (DuckDB's zonemaps do not prune them)."""
        for sid in series:
            span = self._sample_spans.get(sid)
            if span is not None and span[0] <= end and start <= span[1]:
                return True
        if self._committed is None:
            self._committed = self.con.cursor()
            self._committed.execute("SET TimeZone = 'UTC'")  # a cursor is a new session: it does not inherit it
        return bool(
            scalar(
                self._committed, "SELECT EXISTS (SELECT 1 FROM metric_samples WHERE ts BETWEEN ? AND ?)", [start, end]
            )
        )

    def close(self) -> None:
        """Release what the run holds besides its transaction."""
        if self._committed is not None:
            self._committed.close()
            self._committed = None

    def delete_all(self) -> None:
        """Empty every data table (the demo generator rebuilds from scratch)."""
        for table in table_keys():
            if table not in ("schema_info", "collection_runs", "job_runs"):
                self.con.execute(f"DELETE FROM {table}")

    def _table_columns(self, table: str) -> list[str]:
        if table not in self._columns:
            self._columns[table] = table_columns(self.con, table)
        return self._columns[table]


class Warehouse:
    """A warehouse file: ``write_run()`` for collectors, ``open_read_only()`` for everyone else."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
        read_wait: float = DEFAULT_READ_WAIT_SECONDS,
    ) -> None:
        self.path = resolve_warehouse_path(path)
        self.lock_timeout = lock_timeout
        self.read_wait = read_wait

    def __repr__(self) -> str:
        return f"Warehouse({str(self.path)!r})"

    @property
    def snapshot_dir(self) -> Path:
        return self.path.with_name(self.path.name + ".snapshots")

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    @property
    def wal_path(self) -> Path:
        """DuckDB's write-ahead log: present after a run only if its writer died between COMMIT and CHECKPOINT."""
        return self.path.with_name(self.path.name + ".wal")

    # ------------------------------------------------------------------ writing

    @contextlib.contextmanager
    def write_run(
        self,
        source: str,
        target: str = "",
        window_start: datetime | None = None,
        window_end: datetime | None = None,
        log: bool = True,
        started_at: datetime | None = None,
    ) -> Iterator[WriteRun]:
        """A collection run: one transaction, logged in collection_runs, published to readers when done.

        If the body raises, the transaction rolls back (the data tables stay exactly as they were), the
        failure is logged with its one-line reason, and the exception propagates. ``log=False`` is for
        bookkeeping writes (the job log) that are not collections. ``started_at`` (default now) is when the
        collection began: a collector that fetches before it writes started before its run opened.
        """
        started_at = started_at or datetime.now(UTC)
        run_id = str(uuid.uuid4())

        def record(con: duckdb.DuckDBPyConnection, status: str, rows: int, error: str | None) -> None:
            if log:
                con.execute(
                    "INSERT INTO collection_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [run_id, source, target, window_start, window_end, started_at, datetime.now(UTC), status, rows,
                     error],
                )  # fmt: skip

        with self._write_lock():
            con = self._open_for_write()
            try:
                run = WriteRun(con=con, run_id=run_id)
                con.execute("BEGIN TRANSACTION")
                try:
                    try:
                        yield run
                    finally:
                        run.close()
                except BaseException as exc:
                    con.execute("ROLLBACK")
                    record(con, "failed", 0, _one_line(exc))
                    raise
                record(con, "ok", run.rows_written, None)
                con.execute("COMMIT")
                con.execute("CHECKPOINT")
            finally:
                con.close()
                self._bump_generation()

    def ensure_created(self) -> None:
        """Create the file and its schema if missing, and publish a first read snapshot."""
        with self._write_lock():
            self._open_for_write().close()
            if self._pointer() is None:
                self._publish_snapshot()

    @contextlib.contextmanager
    def _write_lock(self, timeout: float | None = None) -> Iterator[None]:
        if os.path.lexists(self.path):  # a writer, too, adds nothing beside (or into) a file that is no warehouse
            self._refuse_unless_warehouse()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = self._open_lock_file()
        except OSError as exc:
            raise WarehouseError(
                f"warehouse {self.path}: cannot create its lock file {self.lock_path} ({exc.strerror}): the "
                "folder must be writable by whoever collects or reads"
            ) from None
        with handle:
            wait = self.lock_timeout if timeout is None else timeout
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise WarehouseBusyError(
                            f"warehouse {self.path} is busy: another run has held its write lock for over {wait:g} s"
                        ) from None
                    time.sleep(_LOCK_POLL_SECONDS)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _open_lock_file(self) -> TextIO:
        """The lock file, open for flock; one this call creates gets the warehouse file's mode, not the umask's."""
        try:
            descriptor = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            return open(self.lock_path, "a+")  # the caller closes it
        with contextlib.suppress(FileNotFoundError):  # no warehouse yet: the umask's mode, as DuckDB will give it
            os.fchmod(descriptor, _file_mode(self.path))
        return os.fdopen(descriptor, "a+")

    def _open_for_write(self) -> duckdb.DuckDBPyConnection:
        try:
            con = _connect(self.path, read_only=False)
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot open warehouse {self.path} for writing: {_one_line(exc)}") from None
        try:
            version = _schema_version(con)
            if version is None:
                con.execute(schema_sql())
                con.execute(
                    "INSERT INTO schema_info VALUES ('schema_version', ?), ('created_at', ?)",
                    [SCHEMA_VERSION, datetime.now(UTC).isoformat()],
                )
            elif version != SCHEMA_VERSION:
                self._migrate(con, version)
        except BaseException:
            con.close()
            raise
        return con

    def _migrate(self, con: duckdb.DuckDBPyConnection, version: str) -> None:
        """Bring the open warehouse from ``version`` to SCHEMA_VERSION in one transaction, or refuse."""
        steps: list[str] = []
        reached = version
        while reached in MIGRATIONS and reached != SCHEMA_VERSION:
            reached, statements = MIGRATIONS[reached]
            steps += statements
        if reached != SCHEMA_VERSION:
            raise WarehouseError(
                f"warehouse {self.path} has schema version {version}; this sre_lib writes version "
                f"{SCHEMA_VERSION} and can migrate only from {', '.join(sorted(MIGRATIONS))}: "
                "upgrade sre_lib, or collect into a new file"
            )
        con.execute("BEGIN TRANSACTION")
        try:
            for statement in steps:
                con.execute(statement)
            con.execute("UPDATE schema_info SET value = ? WHERE key = 'schema_version'", [SCHEMA_VERSION])
            con.execute("COMMIT")
        except BaseException as exc:
            con.execute("ROLLBACK")
            if isinstance(exc, duckdb.Error):
                raise WarehouseError(
                    f"warehouse {self.path}: migrating schema version {version} to {SCHEMA_VERSION} failed "
                    f"and was rolled back: {_one_line(exc)}"
                ) from None
            raise
        log.info("warehouse %s migrated from schema version %s to %s", self.path, version, SCHEMA_VERSION)

    def _publish_snapshot(self) -> None:
        """Copy the closed warehouse to a new numbered snapshot and point CURRENT at it (under the write lock).

        The copy is read in full before it is switched in (see ``_read_every_block``): a damaged file is never
        published, so it never rotates away the last good snapshot."""
        self._fold_in_wal()
        self._make_snapshot_dir()
        generation = self._generation()
        existing = sorted(self._snapshot_numbers())
        number = (existing[-1] + 1) if existing else 1
        name = f"{number:08d}.duckdb"
        partial = self.snapshot_dir / (name + ".partial")
        try:
            _copy_file(self.path, partial)
            _read_every_block(partial, self.path)
            os.replace(partial, self.snapshot_dir / name)
        except BaseException:
            partial.unlink(missing_ok=True)  # a full disk leaves no half copy behind
            raise
        _write_atomically(self.snapshot_dir / "CURRENT", f"{name} {generation}\n")
        for old in existing[: max(0, len(existing) + 1 - KEEP_SNAPSHOTS)]:
            with contextlib.suppress(FileNotFoundError):
                (self.snapshot_dir / f"{old:08d}.duckdb").unlink()

    def _fold_in_wal(self) -> None:
        """Checkpoint a WAL left by a writer that died after COMMIT (under the write lock): a copy of the main
        file alone would miss that run."""
        if not self.wal_path.exists():
            return
        con = self._open_for_write()  # replays the WAL
        try:
            con.execute("CHECKPOINT")
        finally:
            con.close()
        log.warning("warehouse %s: folded in the log of a writer that stopped after committing", self.path)

    def _snapshot_numbers(self) -> list[int]:
        return [int(p.stem) for p in self.snapshot_dir.glob("*.duckdb") if p.stem.isdigit()]

    def _make_snapshot_dir(self) -> None:
        """The snapshot folder, opened to no group or other the warehouse file is closed to: a new one gets
        exactly that mode (whatever the umask), an existing wider one (an earlier version's 0755) is narrowed."""
        try:
            self.snapshot_dir.mkdir()
            created = True
        except FileExistsError:
            created = False
        try:
            allowed = _folder_mode(_file_mode(self.path))
            current = stat.S_IMODE(self.snapshot_dir.stat().st_mode)
            if created or current & ~allowed:
                self.snapshot_dir.chmod(allowed if created else current & allowed)
        except FileNotFoundError:
            pass  # no warehouse file to take the mode from
        except PermissionError as exc:  # a folder of another owner's, which only that owner can narrow
            log.warning("warehouse %s: cannot narrow %s to the file's permissions: %s", self.path,
                        self.snapshot_dir, exc.strerror)  # fmt: skip

    def _bump_generation(self) -> None:
        """Mark the file as changed since every published snapshot (under the write lock, after a run)."""
        self._make_snapshot_dir()
        _write_atomically(self.snapshot_dir / "GENERATION", f"{self._generation() + 1}\n")

    def _generation(self) -> int:
        try:
            return int((self.snapshot_dir / "GENERATION").read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return 0

    def _pointer(self) -> tuple[str, int] | None:
        """CURRENT: the snapshot's file name and the generation it copies (-1: unknown); None before the first."""
        try:
            name, *generation = (self.snapshot_dir / "CURRENT").read_text(encoding="utf-8").split()
        except (FileNotFoundError, ValueError):
            return None
        return name, int(generation[0]) if generation and generation[0].isdigit() else -1

    # ------------------------------------------------------------------ reading

    def _refuse_unless_warehouse(self) -> None:
        """Refuse a path that is not a warehouse before a reader makes anything beside it (a lock, a snapshot
        folder, a copy): it must be a regular file with DuckDB's header and, on first contact, a schema_info table.

        First contact is a file without a lock file: no sre writer has run there, so opening it read-only cannot
        make one fail. Later, the table is checked on the copy before it is published (``_read_every_block``).
        """
        try:
            mode = self.path.stat().st_mode
        except FileNotFoundError:
            raise WarehouseError(
                f"warehouse {self.path} does not exist: build the demo (sre demo) or collect (sre collect)"
            ) from None
        except OSError as exc:
            raise WarehouseError(f"cannot read warehouse {self.path}: {exc.strerror}") from None
        if not stat.S_ISREG(mode):
            raise _not_a_warehouse(self.path, "not a regular file")
        try:
            with open(self.path, "rb") as handle:
                header = handle.read(_DUCKDB_MAGIC_OFFSET + len(_DUCKDB_MAGIC))
        except OSError as exc:
            raise WarehouseError(f"cannot read warehouse {self.path}: {exc.strerror}") from None
        if header[_DUCKDB_MAGIC_OFFSET:] != _DUCKDB_MAGIC:
            raise _not_a_warehouse(self.path, "not a DuckDB database (its header lacks DuckDB's 'DUCK')")
        if self.lock_path.exists():
            return
        try:
            con = _connect(self.path, read_only=True)
        except duckdb.Error as exc:
            if self.lock_path.exists():
                return  # a writer has just started on it; the copy is checked before it is published
            raise WarehouseError(f"cannot read warehouse {self.path}: {_one_line(exc)}") from None
        try:
            version = _schema_version(con)
        except duckdb.Error as exc:
            raise WarehouseError(f"warehouse {self.path} is damaged: {_one_line(exc)}") from None
        finally:
            con.close()
        if version is None:
            raise _not_a_warehouse(self.path, _NO_SCHEMA_INFO)

    def check_intact(self) -> None:
        """Read every row of every table of the warehouse file itself, under the write lock, so that DuckDB
        verifies the checksum of every block in use; a WarehouseError naming the file and the damaged block if
        one fails, and the last good snapshot if there is one. What ``sre warehouse info`` runs."""
        self._refuse_unless_warehouse()
        try:
            with self._write_lock():
                _read_every_block(self.path, self.path)
        except WarehouseError as exc:
            pointer = self._pointer()
            good = self.snapshot_dir / pointer[0] if pointer else None
            if good is None or not good.exists():
                raise WarehouseError(f"{exc}; there is no snapshot of it to go back to") from None
            try:
                _read_every_block(good, good)
            except WarehouseError as snapshot_exc:
                raise WarehouseError(f"{exc}; its snapshot is damaged too: {snapshot_exc}") from None
            raise WarehouseError(f"{exc}; the last good snapshot is {good}, made {self._made(good.name)}") from None

    def current_snapshot(self) -> Path:
        """The read snapshot to open now; published first if the warehouse changed since the last one.

        While a writer holds the lock a reader waits up to ``read_wait`` seconds for it, then reads the last
        snapshot published (with a warning that says when it was made).
        """
        self._refuse_unless_warehouse()
        pointer = self._pointer()
        if pointer is None or pointer[1] != self._generation():
            pointer = self._refresh_snapshot(pointer)
        elif self.wal_path.exists():
            pointer = self._recover_committed_wal(pointer)
        return self.snapshot_dir / pointer[0]

    def _recover_committed_wal(self, pointer: tuple[str, int]) -> tuple[str, int]:
        """Publish when a writer died between COMMIT and CHECKPOINT: its run is only in the WAL, which
        ``_publish_snapshot`` folds in. Only when the lock is free at once; a live writer publishes nothing but
        bumps the generation when done, and the next reader publishes then."""
        try:
            with self._write_lock(timeout=0):
                if self.wal_path.exists():
                    self._publish_snapshot()
                    pointer = self._pointer() or pointer
        except WarehouseBusyError:
            pass
        except (OSError, WarehouseError, duckdb.Error) as exc:  # e.g. a reader without write access
            log.warning("warehouse %s: cannot fold in a stopped writer's log: %s", self.path, _one_line(exc))
        return pointer

    def _refresh_snapshot(self, pointer: tuple[str, int] | None) -> tuple[str, int]:
        """Publish a snapshot of the current state; or, if a writer keeps the lock, fall back to the last one."""
        try:
            with self._write_lock(timeout=self.read_wait if pointer else None):
                published = self._pointer()
                if published is None or published[1] != self._generation():
                    self._publish_snapshot()
                    published = self._pointer()
                if published is None:
                    raise WarehouseError(f"warehouse {self.path}: the snapshot just published is missing")
                return published
        except WarehouseBusyError:
            if pointer is None:
                raise
            log.warning(
                "warehouse %s: a writer has held the lock for over %g s; reading the snapshot made %s",
                self.path, self.read_wait, self._made(pointer[0]),
            )  # fmt: skip
        except (OSError, WarehouseError, duckdb.Error) as exc:  # e.g. no write access to the snapshot directory
            if pointer is None:
                if isinstance(exc, WarehouseError):
                    raise  # names the warehouse already (a damaged file, say)
                raise WarehouseError(f"cannot publish a read snapshot of {self.path}: {_one_line(exc)}") from None
            log.warning(
                "reading the last good snapshot of %s (%s, made %s): cannot publish a new one: %s",
                self.path, pointer[0], self._made(pointer[0]), _one_line(exc),
            )  # fmt: skip
        return pointer

    def _made(self, name: str) -> str:
        try:
            return f"{datetime.fromtimestamp((self.snapshot_dir / name).stat().st_mtime, UTC):%Y-%m-%d %H:%M} UTC"
        except OSError:
            return "earlier"

    @contextlib.contextmanager
    def read_latest(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The warehouse file itself, read-only, under the write lock: every finished run, and no copy made.

        For short reads that must not see an older state (the scheduler's job log). It waits for a running
        writer (up to ``lock_timeout``) and holds the next one off while open.
        """
        self._refuse_unless_warehouse()
        with self._write_lock():
            try:
                con = _connect(self.path, read_only=True)
            except duckdb.Error as exc:
                raise WarehouseError(f"cannot read warehouse {self.path}: {_one_line(exc)}") from None
            try:
                yield con
            finally:
                con.close()

    def open_read_only(self) -> duckdb.DuckDBPyConnection:
        """A read-only connection to a snapshot (see ``current_snapshot``). Never breaks a writer."""
        for _attempt in range(5):
            snapshot = self.current_snapshot()
            try:
                con = _connect(snapshot, read_only=True)
            except duckdb.IOException as exc:
                if snapshot.exists():
                    raise WarehouseError(f"cannot read warehouse {self.path}: {_one_line(exc)}") from None
                continue  # a writer replaced CURRENT and removed the old file between our two steps
            version = _schema_version(con)
            if version is None or version == SCHEMA_VERSION:
                return con
            con.close()  # written by another sre_lib: migrate the file as a writer would (or refuse), then read
            with self._write_lock():
                self._open_for_write().close()
                self._bump_generation()
        raise WarehouseError(f"warehouse {self.path}: read snapshot keeps disappearing; is a writer looping?")

    def runs(self) -> pd.DataFrame:
        """The collection-run log, newest first."""
        with contextlib.closing(self.open_read_only()) as con:
            return con.execute("SELECT * FROM collection_runs ORDER BY started_at DESC").df()


def open_read_only(path: str | os.PathLike[str] | None = None) -> duckdb.DuckDBPyConnection:
    """Shorthand for notebooks: ``con = open_read_only()``."""
    return Warehouse(path).open_read_only()


@contextlib.contextmanager
def _registered(con: duckdb.DuckDBPyConnection, name: str, rows: Any, table: str) -> Iterator[None]:
    """``rows`` visible as view ``name`` inside the block. A DuckDB error there (a value the column cannot
    hold, say) becomes a WarehouseError naming the table; the run then rolls back, so nothing is half written.
    Unregistering in an aborted transaction fails too, and must not hide the first error."""
    con.register(name, rows)
    try:
        yield
    except duckdb.Error as exc:
        raise WarehouseError(f"table {table}: the rows cannot be stored: {_one_line(exc)}") from None
    finally:
        with contextlib.suppress(duckdb.Error):
            con.unregister(name)


def _utc(moment: datetime, name: str) -> datetime:
    utc = to_utc(moment, f"metric_samples window {name}")
    if utc is None:
        raise WarehouseError(f"metric_samples: the window {name} is missing")
    return utc


def _schema_version(con: duckdb.DuckDBPyConnection) -> str | None:
    if not scalar(con, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_info'"):
        return None
    return scalar(con, "SELECT value FROM schema_info WHERE key = 'schema_version'")


_NO_SCHEMA_INFO = "a DuckDB database but not an sre warehouse (it has no schema_info table)"


def _not_a_warehouse(path: Path, what: str) -> WarehouseError:
    return WarehouseError(f"cannot read warehouse {path}: {what}: expected a warehouse made by sre collect or sre demo")


def _file_mode(path: Path) -> int:
    """The read and write bits of a file, for the files made beside it (its lock, its snapshot copies)."""
    return stat.S_IMODE(path.stat().st_mode) & 0o666


def _folder_mode(file_mode: int) -> int:
    """A folder's mode that opens to group and others no more than ``file_mode`` does (read gives search)."""
    return 0o700 | (file_mode & 0o066) | ((file_mode & 0o044) >> 2)


def _read_every_block(path: Path, warehouse: Path) -> None:
    """Read every row of every table of the DuckDB file at ``path`` (the warehouse ``warehouse`` or a copy of it).

    DuckDB verifies a block's checksum whenever it reads the block, and nothing else does: opening the file,
    count(*), CHECKPOINT, VACUUM and ANALYZE all pass over damaged data blocks. Hashing each row reads every
    column of every row group: about 0.25 s for the 90-day demo warehouse (4.1 M rows, 34 MB).
    """
    try:
        con = _connect(path, read_only=True)
    except duckdb.Error as exc:
        raise WarehouseError(f"warehouse {warehouse} is damaged: {_one_line(exc)}") from None
    try:
        if _schema_version(con) is None:
            raise _not_a_warehouse(warehouse, _NO_SCHEMA_INFO)
        tables = con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_type = 'BASE TABLE'"
        ).fetchall()
        for (table,) in tables:
            con.execute(f'SELECT sum(hash(t)) FROM "{table}" AS t').fetchall()
    except duckdb.Error as exc:
        raise WarehouseError(f"warehouse {warehouse} is damaged: {_one_line(exc)}") from None
    finally:
        con.close()


def _copy_file(source: Path, target: Path) -> None:
    """Copy inside the kernel with copy_file_range, which shares blocks (a reflink) on filesystems that can
    (XFS, Btrfs), so publishing a snapshot of a large warehouse costs little there; else a plain copy. The copy
    has the source's read and write bits (whatever the umask), and never more while it is being written."""
    with open(source, "rb") as src, open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as dst:
        os.fchmod(dst.fileno(), stat.S_IMODE(os.fstat(src.fileno()).st_mode) & 0o666)
        remaining = os.fstat(src.fileno()).st_size
        try:
            while remaining > 0:
                copied = os.copy_file_range(src.fileno(), dst.fileno(), remaining)
                if copied == 0:
                    break
                remaining -= copied
        except OSError:  # not supported across these filesystems: fall back to a user-space copy
            src.seek(0)
            dst.seek(0)
            dst.truncate()
            shutil.copyfileobj(src, dst, 16 * 1024 * 1024)
            return
        if remaining > 0:
            raise WarehouseError(f"copying {source} to {target} stopped {remaining} bytes short")


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def _one_line(exc: BaseException) -> str:
    """An exception as one line for messages and the run log, without the environment's secrets."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return redact(text, environment_secrets())[:500]
