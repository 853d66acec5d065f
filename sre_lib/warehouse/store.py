"""Writing the warehouse: write runs (one transaction each), the write lock, and schema migrations.

DuckDB lets one process write a file, or many processes read it, never both at once. So writers serialise on
an ``fcntl`` lock file (``<warehouse>.lock``), waiting up to ``lock_timeout`` seconds. A collection run is one
DuckDB transaction: it lands whole or not at all. Rows are replaced by their natural key (see ``schema.sql``),
so loading the same window twice leaves the same rows. The lock file is no more open to group and others than
the warehouse file is.

Readers never touch the writer's file: they open read snapshots (see ``readers``). The schema, natural keys and
series ids are in ``schema``; their names are importable from here too, as they were before the split.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import duckdb
import pandas as pd

from sre_lib.config import PROJECT_ROOT
from sre_lib.durations import to_utc
from sre_lib.errors import WarehouseBusyError, WarehouseError
from sre_lib.warehouse.readers import DEFAULT_READ_WAIT_SECONDS, SnapshotReader, file_mode
from sre_lib.warehouse.schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    canonical_labels,
    connect,
    one_line,
    scalar,
    schema_sql,
    schema_version,
    series_id,
    table_columns,
    table_keys,
)

__all__ = [
    "DEFAULT_LOCK_TIMEOUT_SECONDS",
    "DEFAULT_WAREHOUSE_PATH",
    "WAREHOUSE_ENV_VAR",
    "Warehouse",
    "WriteRun",
    "canonical_labels",
    "open_read_only",
    "resolve_warehouse_path",
    "scalar",
    "schema_sql",
    "series_id",
    "table_columns",
    "table_keys",
]

DEFAULT_WAREHOUSE_PATH = PROJECT_ROOT / "data" / "warehouse.duckdb"
WAREHOUSE_ENV_VAR = "SRE_WAREHOUSE"
DEFAULT_LOCK_TIMEOUT_SECONDS = 120.0
_LOCK_POLL_SECONDS = 0.05

log = logging.getLogger(__name__)


def resolve_warehouse_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The warehouse file to use: the argument, else $SRE_WAREHOUSE, else data/warehouse.duckdb."""
    if path:
        return Path(path)
    env = os.environ.get(WAREHOUSE_ENV_VAR)
    return Path(env) if env else DEFAULT_WAREHOUSE_PATH


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


class Warehouse(SnapshotReader):
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
                    record(con, "failed", 0, one_line(exc))
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
            os.fchmod(descriptor, file_mode(self.path))
        return os.fdopen(descriptor, "a+")

    def _open_for_write(self) -> duckdb.DuckDBPyConnection:
        try:
            con = connect(self.path, read_only=False)
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot open warehouse {self.path} for writing: {one_line(exc)}") from None
        try:
            version = schema_version(con)
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
                    f"and was rolled back: {one_line(exc)}"
                ) from None
            raise
        log.info("warehouse %s migrated from schema version %s to %s", self.path, version, SCHEMA_VERSION)


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
        raise WarehouseError(f"table {table}: the rows cannot be stored: {one_line(exc)}") from None
    finally:
        with contextlib.suppress(duckdb.Error):
            con.unregister(name)


def _utc(moment: datetime, name: str) -> datetime:
    utc = to_utc(moment, f"metric_samples window {name}")
    if utc is None:
        raise WarehouseError(f"metric_samples: the window {name} is missing")
    return utc
