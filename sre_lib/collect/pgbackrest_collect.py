"""``sre collect backups``: backups from a live pgBackRest, its restore-test log, and a live ``pgbackrest check``.

One collection, for the stanza of ``[sources.pgbackrest]`` (backing up [sources.postgres].server):

1. ``pgbackrest info --output=json``, read as ``sre backups load`` reads the file (``parse_pgbackrest_info``):
   every backup the repository lists becomes a ``backups`` row, replaced by its label, so collecting again
   adds nothing. A stanza with no backup yet ("no valid backups") is the plain case of a new platform.
2. The restore-test log (``restore_log``, the CSV of ``sre backups load --log``), when configured.
3. ``pgbackrest check``: does WAL reach the archive and does the repository answer, now. Its outcome is a
   ``pgbackrest_checks`` row (when, ok or failed, how long, pgBackRest's one-line reason), as ``barman check``
   proves archiving works now and not only in history. A failed check is a recorded result, not a failed
   collection.

What fails the collection instead (one line, nothing written, the run logged as failed): no pgBackRest to run,
``info`` failing, or a repository pgBackRest cannot read (no stanza there, a remote repository unreachable).
Everything is fetched before the warehouse is locked (``fetch_then_write``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from sre_lib.collect.backup_records import parse_backup_log, parse_pgbackrest_info, read_input
from sre_lib.collect.by_source import fetch_then_write
from sre_lib.collect.pgbackrest_command import CommandResult, run_pgbackrest
from sre_lib.config import PgBackRestSource, PlatformConfig, describe_validation_error
from sre_lib.errors import CollectionError, DataError
from sre_lib.warehouse.store import Warehouse, WriteRun

__all__ = [
    "NOT_CONFIGURED_MESSAGE",
    "READABLE_STANZA_CODES",
    "BackupCollection",
    "collect_backups",
    "pgbackrest_source",
    "with_pgbackrest",
]

#: pgBackRest stanza status codes of a repository it can read: 0 ok, 2 no valid backups (none taken yet).
#: Any other (1 missing stanza path, 3 missing stanza data, 99 other: an unreachable remote) fails the collection.
READABLE_STANZA_CODES = (0, 2)
SOURCE = "backups"
NOT_CONFIGURED_MESSAGE = "pgBackRest is not configured ([sources.pgbackrest]): nothing collected"


@dataclass(frozen=True)
class BackupCollection:
    """What one ``collect backups`` wrote and what the live check found."""

    server: str
    stanza: str
    rows_by_table: dict[str, int]
    check_ok: bool
    check_reason: str | None
    check_seconds: float
    notes: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        counts = ", ".join(
            f"{rows} {table}" for table, rows in self.rows_by_table.items() if table != "pgbackrest_checks"
        )
        check = (
            f"pgbackrest check ok ({self.check_seconds:.1f} s)"
            if self.check_ok
            else f"pgbackrest check FAILED: {self.check_reason}"
        )
        return f"stanza {self.stanza!r} of {self.server}: {counts}; {check}"


@dataclass(frozen=True)
class _Fetched:
    frames: dict[str, pd.DataFrame]
    notes: list[str]
    check: dict[str, Any]


def pgbackrest_source(config: PlatformConfig) -> PgBackRestSource:
    """The configured ``[sources.pgbackrest]``; CollectionError saying how to configure it when absent."""
    source = config.sources.pgbackrest
    if source is None:
        raise CollectionError(
            f"{config.source}: [sources.pgbackrest] is not configured: add the section with at least "
            'stanza = "main" (see the README), or pass --stanza',
            source=SOURCE,
        )
    return source


def with_pgbackrest(
    config: PlatformConfig, stanza: str | None = None, restore_log: str | None = None
) -> PlatformConfig:
    """The config with ``[sources.pgbackrest]`` stanza and restore_log overridden (``--stanza``, ``--log``).

    A stanza given here configures pgBackRest with its defaults when the config has no such section; with neither
    a section nor a stanza, CollectionError says how to configure it.
    """
    if stanza is None and restore_log is None:
        pgbackrest_source(config)  # asked for by name: not configured is an error here
        return config
    current = config.sources.pgbackrest
    if current is None and stanza is None:
        pgbackrest_source(config)  # raises: --log alone does not say which stanza
    changes = {key: value for key, value in (("stanza", stanza), ("restore_log", restore_log)) if value is not None}
    try:
        source = PgBackRestSource.model_validate((current.model_dump() if current else {}) | changes)
    except ValidationError as exc:
        raise CollectionError(describe_validation_error(exc, "--stanza/--log"), source=SOURCE) from None
    return config.model_copy(update={"sources": config.sources.model_copy(update={"pgbackrest": source})})


def collect_backups(warehouse: Warehouse, config: PlatformConfig) -> BackupCollection:
    """Collect backups, the restore-test log and a live ``pgbackrest check`` into the warehouse, in one run."""
    source = pgbackrest_source(config)
    server = config.sources.postgres.server

    def fetch() -> _Fetched:
        return _fetch(source, server, config.platform.timezone)

    def write(run: WriteRun, fetched: _Fetched) -> BackupCollection:
        rows = {table: run.replace_rows(table, frame) for table, frame in fetched.frames.items()}
        rows["pgbackrest_checks"] = run.replace_rows("pgbackrest_checks", pd.DataFrame([fetched.check]))
        return BackupCollection(
            server=server,
            stanza=source.stanza,
            rows_by_table=rows,
            check_ok=fetched.check["status"] == "ok",
            check_reason=fetched.check["reason"],
            check_seconds=fetched.check["duration_seconds"],
            notes=tuple(fetched.notes),
        )

    return fetch_then_write(warehouse, SOURCE, fetch, write, target=f"pgbackrest stanza {source.stanza}")


def _fetch(source: PgBackRestSource, server: str, timezone: str) -> _Fetched:
    where = f"pgbackrest stanza {source.stanza!r}"
    info = run_pgbackrest(source, "info", "--output=json")
    if not info.ok:
        raise CollectionError(f"{where}: pgbackrest info failed: {info.reason()}", source=SOURCE)
    _require_readable(info.stdout, where, source)
    backups, notes = parse_pgbackrest_info(info.stdout, f"{where}: pgbackrest info", server, source.stanza)
    frames = {"backups": backups}
    if source.restore_log:
        text = read_input(Path(source.restore_log), "restore-test log (CSV)")
        frames |= parse_backup_log(text, source.restore_log, server, timezone)
    checked_at = datetime.now(UTC)
    check = run_pgbackrest(source, "check")
    return _Fetched(frames, notes, _check_row(server, source.stanza, checked_at, check))


def _require_readable(text: str, where: str, source: PgBackRestSource) -> None:
    """CollectionError unless pgBackRest could read the stanza in its repository (status 0 or 2)."""
    try:
        stanzas = json.loads(text)
        status = next(s for s in stanzas if s.get("name") == source.stanza)["status"]
        code, message = status["code"], status.get("message", "no message")
    except (ValueError, TypeError, KeyError, StopIteration, AttributeError):
        raise DataError(f"{where}: pgbackrest info: expected a JSON list holding the stanza and its status") from None
    if code not in READABLE_STANZA_CODES:
        config = f" ({source.config})" if source.config else ""
        raise CollectionError(
            f"{where}: the repository cannot be read: {message} (pgBackRest status {code}); check the stanza name "
            f"and repo1-path or repo1-host in pgbackrest.conf{config}",
            source=SOURCE,
        )


def _check_row(server: str, stanza: str, checked_at: datetime, check: CommandResult) -> dict[str, Any]:
    return {
        "server": server,
        "stanza": stanza,
        "checked_at": pd.Timestamp(checked_at),
        "status": "ok" if check.ok else "failed",
        "duration_seconds": round(check.seconds, 3),
        "reason": None if check.ok else check.reason(),
    }
