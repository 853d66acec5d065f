"""Reading the warehouse: read snapshots, their publishing, and the checks that a file is a whole warehouse.

DuckDB lets one process write a file, or many processes read it, never both at once. So readers (reports,
notebooks) open a read snapshot, a copy of the file in ``<warehouse>.snapshots/`` named by the ``CURRENT``
pointer. They never touch the writer's file, so a long notebook cannot block a collection, and a collection
cannot break a reader mid-query: the snapshot a reader opened stays intact (old snapshots are unlinked, and
POSIX keeps an open file alive).

* Snapshots are published when read, not when written: each run (ok or failed) bumps a generation number
  (``<warehouse>.snapshots/GENERATION``); a reader that finds the current snapshot older takes the write
  lock and publishes a new copy (closed and checkpointed by the last writer, switched in by an atomic
  rename). If a writer keeps the lock longer than ``read_wait`` (10 s), the reader opens the last snapshot
  instead (consistent, older; a warning says when it was made). A collector running every few minutes thus
  costs no copy at all until someone reads. Short reads that must see every finished run (the scheduler's
  job log) use ``read_latest()``: the file itself, read-only, under the lock, without a copy.
* A reader first makes sure the path is a warehouse (a regular file, DuckDB's header, a schema_info table)
  before it creates anything beside it; the snapshot folder and the copies are no more open to group and
  others than the warehouse file is. A copy is read in full before it is published, so that DuckDB checks
  every block's checksum: a damaged file is never published, and readers keep the last good snapshot.

The price is disk: the warehouse plus up to ``KEEP_SNAPSHOTS`` copies. The writer (``store.Warehouse``) is a
``SnapshotReader`` that adds write runs, the write lock and migrations.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from sre_lib.errors import WarehouseBusyError, WarehouseError
from sre_lib.warehouse.schema import SCHEMA_VERSION, connect, one_line, schema_version

KEEP_SNAPSHOTS = 2
DEFAULT_READ_WAIT_SECONDS = 10.0  # a reader waits this long for a running collection, then reads the last copy
_DUCKDB_MAGIC = b"DUCK"  # every DuckDB file: an 8-byte header checksum, then these 4 bytes
_DUCKDB_MAGIC_OFFSET = 8
_NO_SCHEMA_INFO = "a DuckDB database but not an sre warehouse (it has no schema_info table)"

log = logging.getLogger(__name__)


class SnapshotReader:
    """The read side of a warehouse file: read snapshots, publishing them, and integrity checks.

    ``store.Warehouse`` is the class to use; it provides the write lock and the writer's connection that
    publishing and migrating on read need (``_write_lock``, ``_open_for_write``).
    """

    path: Path
    lock_timeout: float
    read_wait: float

    @property
    def snapshot_dir(self) -> Path:
        """The folder of read snapshots, beside the warehouse file."""
        return self.path.with_name(self.path.name + ".snapshots")

    @property
    def lock_path(self) -> Path:
        """The file writers lock (``fcntl.flock``), beside the warehouse file."""
        return self.path.with_name(self.path.name + ".lock")

    @property
    def wal_path(self) -> Path:
        """DuckDB's write-ahead log: present after a run only if its writer died between COMMIT and CHECKPOINT."""
        return self.path.with_name(self.path.name + ".wal")

    def _write_lock(self, timeout: float | None = None) -> contextlib.AbstractContextManager[None]:
        """The warehouse's write lock, waited for up to ``timeout`` (default ``lock_timeout``) seconds."""
        raise NotImplementedError

    def _open_for_write(self) -> duckdb.DuckDBPyConnection:
        """The warehouse file open for writing, created or migrated to SCHEMA_VERSION first."""
        raise NotImplementedError

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
            con = connect(self.path, read_only=True)
        except duckdb.Error as exc:
            if self.lock_path.exists():
                return  # a writer has just started on it; the copy is checked before it is published
            raise WarehouseError(f"cannot read warehouse {self.path}: {one_line(exc)}") from None
        try:
            version = schema_version(con)
        except duckdb.Error as exc:
            raise WarehouseError(f"warehouse {self.path} is damaged: {one_line(exc)}") from None
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
            log.warning("warehouse %s: cannot fold in a stopped writer's log: %s", self.path, one_line(exc))
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
                raise WarehouseError(f"cannot publish a read snapshot of {self.path}: {one_line(exc)}") from None
            log.warning(
                "reading the last good snapshot of %s (%s, made %s): cannot publish a new one: %s",
                self.path, pointer[0], self._made(pointer[0]), one_line(exc),
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
                con = connect(self.path, read_only=True)
            except duckdb.Error as exc:
                raise WarehouseError(f"cannot read warehouse {self.path}: {one_line(exc)}") from None
            try:
                yield con
            finally:
                con.close()

    def open_read_only(self) -> duckdb.DuckDBPyConnection:
        """A read-only connection to a snapshot (see ``current_snapshot``). Never breaks a writer."""
        for _attempt in range(5):
            snapshot = self.current_snapshot()
            try:
                con = connect(snapshot, read_only=True)
            except duckdb.IOException as exc:
                if snapshot.exists():
                    raise WarehouseError(f"cannot read warehouse {self.path}: {one_line(exc)}") from None
                continue  # a writer replaced CURRENT and removed the old file between our two steps
            version = schema_version(con)
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

    # ------------------------------------------------------------------ publishing

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
            allowed = _folder_mode(file_mode(self.path))
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


def _not_a_warehouse(path: Path, what: str) -> WarehouseError:
    return WarehouseError(f"cannot read warehouse {path}: {what}: expected a warehouse made by sre collect or sre demo")


def file_mode(path: Path) -> int:
    """The read and write bits of a file, for the files made beside it (its lock, its snapshot copies)."""
    return stat.S_IMODE(path.stat().st_mode) & 0o666


def _folder_mode(files_mode: int) -> int:
    """A folder's mode that opens to group and others no more than ``files_mode`` does (read gives search)."""
    return 0o700 | (files_mode & 0o066) | ((files_mode & 0o044) >> 2)


def _read_every_block(path: Path, warehouse: Path) -> None:
    """Read every row of every table of the DuckDB file at ``path`` (the warehouse ``warehouse`` or a copy of it).

    DuckDB verifies a block's checksum whenever it reads the block, and nothing else does: opening the file,
    count(*), CHECKPOINT, VACUUM and ANALYZE all pass over damaged data blocks. Hashing each row reads every
    column of every row group: about 0.25 s for the 90-day demo warehouse (4.1 M rows, 34 MB).
    """
    try:
        con = connect(path, read_only=True)
    except duckdb.Error as exc:
        raise WarehouseError(f"warehouse {warehouse} is damaged: {one_line(exc)}") from None
    try:
        if schema_version(con) is None:
            raise _not_a_warehouse(warehouse, _NO_SCHEMA_INFO)
        tables = con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_type = 'BASE TABLE'"
        ).fetchall()
        for (table,) in tables:
            con.execute(f'SELECT sum(hash(t)) FROM "{table}" AS t').fetchall()
    except duckdb.Error as exc:
        raise WarehouseError(f"warehouse {warehouse} is damaged: {one_line(exc)}") from None
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
