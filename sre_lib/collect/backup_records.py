"""What PostgreSQL cannot see, from sources the user controls: backups taken, off-site copies, restore tests.

Two inputs, loaded together in one write run by ``load_backup_records`` (idempotent: rows are replaced by their
natural key, so loading the same files twice leaves the same rows; a malformed file writes nothing and the
run is logged as failed with a message naming the file, the line or field, and what was expected).

1. ``pgbackrest info --output=json`` (pgBackRest 2.x). The output is a list of stanzas::

       [{"name": "main", "status": {"code": 0, "message": "ok"},
         "backup": [{"label": "20261004-030002F", "type": "full",
                     "timestamp": {"start": 1759507202, "stop": 1759509001},
                     "info": {"size": ..., "delta": ..., "repository": {"size": ..., "delta": ...}},
                     "archive": {"start": "0000000100000003000000A0", "stop": "0000000100000003000000A5"},
                     "error": false, ...}, ...],
         "archive": [...], "db": [...], ...}]

   Each backup becomes a ``backups`` row: backup_id = label, kind = type (full, diff, incr), started_at /
   finished_at = timestamp.start / stop (epoch seconds, UTC), size_bytes = info.repository.delta (what the
   backup stored in the repository; equal to its size for a full backup), wal_start / wal_stop = archive.start /
   stop, origin = 'pgbackrest'. pgBackRest lists only completed backups; ``"error": true`` (pgBackRest >= 2.36)
   marks one in which errors such as page checksum failures were found, and is recorded as status 'failed'
   because it cannot be trusted for recovery; otherwise status is 'ok'. The stanza is the one named like the
   server, else the only one, else the one passed as ``stanza``. A stanza whose status code is not 0 (e.g. 2,
   "no valid backups") is reported in the summary's notes.

2. A backup log, CSV with a header row, for off-site copies and restore tests. Columns (any order, all present)::

       kind,server,backup_id,started_at,finished_at,status,destination,notes

   kind          ``offsite`` (a copy of a backup to another site) or ``restore_test`` (a tested restore)
   server        the warehouse server name; empty: the ``server`` argument
   backup_id     which backup was copied or restored (the pgBackRest label); may be empty
   started_at    ISO 8601 time with a UTC offset, e.g. ``2026-10-04T10:00:00+11:00`` or ``...Z``. Times without
                 an offset are read in the ``timezone`` argument (an IANA zone) when given, else rejected.
                 restore_test: required (when the restore began). offsite: optional.
   finished_at   ISO 8601 as above, required. offsite: when the copy was complete (``copied_at``).
                 restore_test: when the restored database was usable; finished_at - started_at is the measured
                 recovery time compared with the RTO.
   status        ``ok`` or ``failed``
   destination   offsite: where the copy went (required, e.g. ``s3://bucket/path``); restore_test: where it
                 was restored to (optional, kept in notes)
   notes         free text; kept for restore tests, ignored for off-site copies

   Blank lines and lines starting with ``#`` are skipped. Example::

       kind,server,backup_id,started_at,finished_at,status,destination,notes
       offsite,postgresql,20261004-030002F,2026-10-04T06:30:00+11:00,2026-10-04T06:52:10+11:00,ok,s3://dr/pg,
       restore_test,,20261004-030002F,2026-10-05T10:00:00+11:00,2026-10-05T12:10:00+11:00,ok,scratch,rows ok

   offsite rows go to ``offsite_copies`` (key: server, copied_at, destination), restore_test rows to
   ``restore_tests`` (key: server, started_at); a key twice in one file is an error naming both lines.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from sre_lib.errors import CollectionError, DataError
from sre_lib.warehouse.store import Warehouse

ORIGIN_PGBACKREST = "pgbackrest"
ORIGIN_LOG = "log"
BACKUP_KINDS = ("full", "diff", "incr")
LOG_COLUMNS = ("kind", "server", "backup_id", "started_at", "finished_at", "status", "destination", "notes")
LOG_KINDS = ("offsite", "restore_test")
STATUSES = ("ok", "failed")

_BACKUP_COLUMNS = (
    "server",
    "backup_id",
    "kind",
    "started_at",
    "finished_at",
    "status",
    "size_bytes",
    "wal_start",
    "wal_stop",
    "origin",
)
_OFFSITE_COLUMNS = ("server", "backup_id", "copied_at", "destination", "status", "origin")
_RESTORE_COLUMNS = ("server", "backup_id", "started_at", "finished_at", "status", "notes", "origin")


@dataclass(frozen=True)
class BackupLoadSummary:
    """What a load wrote, per table, and anything worth telling the user (stanza status, duplicates)."""

    rows_by_table: dict[str, int]
    notes: tuple[str, ...] = ()

    @property
    def total_rows(self) -> int:
        return sum(self.rows_by_table.values())


# ---------------------------------------------------------------------------------------------- pgBackRest


def parse_pgbackrest_info(
    text: str, source: str, server: str, stanza: str | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """``pgbackrest info --output=json`` text -> (backups rows for ``server``, notes). DataError if malformed."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{source}: line {exc.lineno} column {exc.colno}: not valid JSON ({exc.msg}); expected the output "
            "of 'pgbackrest info --output=json'"
        ) from None
    if not isinstance(data, list):
        raise DataError(f"{source}: expected a JSON list of stanzas (pgbackrest info --output=json), got {_kind(data)}")
    stanzas = []
    for index, item in enumerate(data):
        where = f"{source}: [{index}]"
        if not isinstance(item, dict):
            raise DataError(f"{where}: expected a stanza object, got {_kind(item)}")
        stanzas.append((_string(item, "name", where), item, where))
    chosen = _choose_stanza(stanzas, source, server, stanza)
    name, item, where = chosen
    notes: list[str] = []
    status = item.get("status")
    if status is not None:
        if not isinstance(status, dict):
            raise DataError(f"{where}.status: expected an object with code and message, got {_kind(status)}")
        code = status.get("code")
        if not isinstance(code, int) or isinstance(code, bool):
            raise DataError(f"{where}.status.code: expected an integer, got {code!r}")
        if code != 0:
            notes.append(f"pgBackRest stanza {name!r}: status {code} ({status.get('message', 'no message')})")
    backups = item.get("backup", [])
    if not isinstance(backups, list):
        raise DataError(f"{where}.backup: expected a list of backups, got {_kind(backups)}")
    rows: dict[str, dict[str, Any]] = {}
    for index, backup in enumerate(backups):
        row = _backup_row(backup, f"{where}.backup[{index}]", server)
        if row["backup_id"] in rows:
            notes.append(f"pgBackRest stanza {name!r}: backup {row['backup_id']} listed twice (several repositories)")
            if rows[row["backup_id"]]["status"] == "ok":
                continue
        rows[row["backup_id"]] = row
    frame = pd.DataFrame(list(rows.values()), columns=list(_BACKUP_COLUMNS))
    return _with_times(frame, ("started_at", "finished_at")), notes


def _choose_stanza(
    stanzas: list[tuple[str, dict[str, Any], str]], source: str, server: str, stanza: str | None
) -> tuple[str, dict[str, Any], str]:
    names = [name for name, _, _ in stanzas]
    if stanza is not None:
        for entry in stanzas:
            if entry[0] == stanza:
                return entry
        raise DataError(f"{source}: no stanza {stanza!r}; the file holds {_names(names)}")
    for entry in stanzas:
        if entry[0] == server:
            return entry
    if len(stanzas) == 1:
        return stanzas[0]
    raise DataError(
        f"{source}: holds {_names(names)}, none named {server!r}: pass stanza= to say which one backs up {server}"
    )


def _names(names: list[str]) -> str:
    return "no stanza" if not names else "stanzas " + ", ".join(repr(n) for n in names)


def _backup_row(backup: Any, where: str, server: str) -> dict[str, Any]:
    if not isinstance(backup, dict):
        raise DataError(f"{where}: expected a backup object, got {_kind(backup)}")
    label = _string(backup, "label", where)
    where = f"{where} ({label})"
    kind = backup.get("type")
    if kind not in BACKUP_KINDS:
        raise DataError(f"{where}.type: expected one of {', '.join(BACKUP_KINDS)}, got {kind!r}")
    stamps = _object(backup, "timestamp", where, required=True)
    start = _epoch(stamps, "start", f"{where}.timestamp")
    stop = _epoch(stamps, "stop", f"{where}.timestamp")
    if stop < start:
        raise DataError(f"{where}.timestamp: expected stop >= start, got start {start} and stop {stop}")
    error = backup.get("error", False)
    if not isinstance(error, bool):
        raise DataError(f"{where}.error: expected true or false, got {error!r}")
    info = _object(backup, "info", where)
    repository = _object(info, "repository", f"{where}.info") if info else None
    size = _count(repository, "delta", f"{where}.info.repository") if repository else None
    archive = _object(backup, "archive", where)
    return {
        "server": server,
        "backup_id": label,
        "kind": kind,
        "started_at": datetime.fromtimestamp(start, UTC),
        "finished_at": datetime.fromtimestamp(stop, UTC),
        "status": "failed" if error else "ok",
        "size_bytes": size,
        "wal_start": _optional_string(archive, "start", f"{where}.archive") if archive else None,
        "wal_stop": _optional_string(archive, "stop", f"{where}.archive") if archive else None,
        "origin": ORIGIN_PGBACKREST,
    }


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), f"a {type(value).__name__}"
    )


def _string(item: Mapping[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise DataError(f"{where}.{key}: expected a non-empty string, got {value!r}")
    return value


def _optional_string(item: Mapping[str, Any], key: str, where: str) -> str | None:
    value = item.get(key)
    if value is not None and not isinstance(value, str):
        raise DataError(f"{where}.{key}: expected a string or null, got {value!r}")
    return value


def _object(item: Mapping[str, Any], key: str, where: str, required: bool = False) -> dict[str, Any] | None:
    value = item.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, dict):
        raise DataError(f"{where}.{key}: expected an object, got {_kind(value)}")
    return value


def _epoch(item: Mapping[str, Any], key: str, where: str) -> float:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < _EPOCH_LIMIT:
        raise DataError(
            f"{where}.{key}: expected a time in epoch seconds (a number before the year 9999), got {value!r}"
        )
    return float(value)


_EPOCH_LIMIT = 253_402_300_800  # 9999-12-31 24:00 UTC: Python's datetime ends there


def _count(item: Mapping[str, Any], key: str, where: str) -> int | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DataError(f"{where}.{key}: expected a size in bytes (a non-negative integer), got {value!r}")
    return value


# ---------------------------------------------------------------------------------------------- the backup log


def parse_backup_log(
    text: str, source: str, server: str | None = None, timezone: str | None = None
) -> dict[str, pd.DataFrame]:
    """The CSV backup log -> {'offsite_copies': rows, 'restore_tests': rows}. DataError if malformed."""
    zone = _zone(timezone, source)
    reader = csv.reader(_without_comments(text))
    columns: list[str] | None = None
    offsite: list[dict[str, Any]] = []
    restores: list[dict[str, Any]] = []
    seen: dict[tuple[Any, ...], int] = {}
    for fields in reader:
        if not any(field.strip() for field in fields):
            continue
        where = f"{source}: line {reader.line_num}"
        if columns is None:
            columns = _header(fields, where)
            continue
        if len(fields) != len(columns):
            raise DataError(f"{where}: expected {len(columns)} fields ({','.join(columns)}), got {len(fields)}")
        value = {c: f.strip() for c, f in zip(columns, fields, strict=True)}
        row, key = _log_row(value, where, server, zone)
        if key in seen:
            what = "finished_at and destination" if value["kind"] == "offsite" else "started_at"
            raise DataError(
                f"{where}: the same {value['kind']} as line {seen[key]} (same server and {what}); expected each once"
            )
        seen[key] = reader.line_num
        (offsite if value["kind"] == "offsite" else restores).append(row)
    if columns is None:
        raise DataError(f"{source}: empty; expected a header line {','.join(LOG_COLUMNS)} and then one line per event")
    return {
        "offsite_copies": _with_times(pd.DataFrame(offsite, columns=list(_OFFSITE_COLUMNS)), ("copied_at",)),
        "restore_tests": _with_times(
            pd.DataFrame(restores, columns=list(_RESTORE_COLUMNS)), ("started_at", "finished_at")
        ),
    }


def _header(fields: list[str], where: str) -> list[str]:
    columns = [f.strip() for f in fields]
    problems = []
    missing = [c for c in LOG_COLUMNS if c not in columns]
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    unknown = [c for c in columns if c not in LOG_COLUMNS]
    if unknown:
        problems.append(f"unknown {', '.join(repr(c) for c in unknown)}")
    if len(set(columns)) != len(columns):
        problems.append("a column named twice")
    if problems:
        raise DataError(
            f"{where}: header: expected the columns {','.join(LOG_COLUMNS)} in any order ({'; '.join(problems)})"
        )
    return columns


def _log_row(
    value: dict[str, str], where: str, server: str | None, zone: ZoneInfo | None
) -> tuple[dict[str, Any], tuple[Any, ...]]:
    kind = value["kind"]
    if kind not in LOG_KINDS:
        raise DataError(f"{where}: kind: expected one of {', '.join(LOG_KINDS)}, got {kind!r}")
    row_server = value["server"] or server
    if not row_server:
        raise DataError(f"{where}: server: expected a server name (the field is empty and no server was given)")
    status = value["status"]
    if status not in STATUSES:
        raise DataError(f"{where}: status: expected one of {', '.join(STATUSES)}, got {status!r}")
    started = _instant(value["started_at"], "started_at", where, zone) if value["started_at"] else None
    if kind == "restore_test" and started is None:
        raise DataError(f"{where}: started_at: expected when the restore test began ({_EXAMPLE_TIME}), got ''")
    if not value["finished_at"]:
        raise DataError(f"{where}: finished_at: expected when the {kind} finished ({_EXAMPLE_TIME}), got ''")
    finished = _instant(value["finished_at"], "finished_at", where, zone)
    if started is not None and finished < started:
        raise DataError(
            f"{where}: finished_at {value['finished_at']} is before started_at {value['started_at']}; "
            "expected finished_at >= started_at"
        )
    backup_id = value["backup_id"] or None
    if kind == "offsite":
        if not value["destination"]:
            raise DataError(f"{where}: destination: expected where the off-site copy went, got ''")
        row = {
            "server": row_server,
            "backup_id": backup_id,
            "copied_at": finished,
            "destination": value["destination"],
            "status": status,
            "origin": ORIGIN_LOG,
        }
        return row, ("offsite", row_server, finished, value["destination"])
    notes = [value["notes"]] if value["notes"] else []
    if value["destination"]:
        notes.append(f"restored to {value['destination']}")
    row = {
        "server": row_server,
        "backup_id": backup_id,
        "started_at": started,
        "finished_at": finished,
        "status": status,
        "notes": "; ".join(notes) or None,
        "origin": ORIGIN_LOG,
    }
    return row, ("restore_test", row_server, started)


def _without_comments(text: str) -> Iterator[str]:
    """Lines for the csv reader, comments blanked (not dropped) so line numbers stay true."""
    for line in io.StringIO(text.removeprefix("\ufeff"), newline=""):
        yield "\n" if line.lstrip().startswith("#") else line


def _zone(timezone: str | None, source: str) -> ZoneInfo | None:
    if timezone is None:
        return None
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise DataError(
            f"{source}: timezone {timezone!r} is not an IANA time zone such as 'Australia/Sydney'"
        ) from None


_EXAMPLE_TIME = "an ISO 8601 time such as 2026-10-04T10:00:00+11:00"


def _instant(text: str, column: str, where: str, zone: ZoneInfo | None) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise DataError(f"{where}: {column}: expected {_EXAMPLE_TIME}, got {text!r}") from None
    if value.tzinfo is None:
        if zone is None:
            raise DataError(
                f"{where}: {column}: expected a time with a UTC offset (e.g. {text}+11:00 or {text}Z), got {text!r}; "
                "or load with timezone= to read local times"
            )
        value = value.replace(tzinfo=zone)
        if value.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != value.replace(tzinfo=None):
            raise DataError(f"{where}: {column}: {text} does not exist in {zone.key} (skipped by a DST change)")
    return value.astimezone(UTC)


def _with_times(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    for column in columns:
        frame[column] = pd.to_datetime(frame[column], utc=True).astype("datetime64[us, UTC]")
    if "size_bytes" in frame:
        frame["size_bytes"] = frame["size_bytes"].astype("Int64")
    return frame


# ---------------------------------------------------------------------------------------------- loading


def read_input(path: str | os.PathLike[str], what: str) -> str:
    """A file the user pointed at, as text; CollectionError if it cannot be read, DataError if not UTF-8."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CollectionError(f"{path}: {what} not found") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: byte {exc.start}: not UTF-8 text; expected {what}") from None
    except OSError as exc:
        raise CollectionError(f"{path}: cannot read {what} ({exc.strerror})") from None


def load_backup_records(
    warehouse: Warehouse,
    pgbackrest_json: str | os.PathLike[str] | None = None,
    log: str | os.PathLike[str] | None = None,
    *,
    server: str,
    stanza: str | None = None,
    timezone: str | None = None,
) -> BackupLoadSummary:
    """Load a ``pgbackrest info --output=json`` file and/or a backup log (CSV) in one write run.

    ``server`` names the warehouse server the backups belong to (usually [sources.postgres].server) and fills
    log rows with an empty server column. ``stanza`` picks the pgBackRest stanza when the file holds several
    and none is named like the server. ``timezone`` reads log times written without a UTC offset.
    Everything is parsed inside the run: a malformed file raises DataError, writes nothing, and the run is
    logged as failed.
    """
    if pgbackrest_json is None and log is None:
        raise DataError("nothing to load: give a pgbackrest info JSON file, a backup log, or both")
    target = ", ".join(
        f"{label} {path}" for label, path in (("pgbackrest", pgbackrest_json), ("log", log)) if path is not None
    )
    notes: list[str] = []
    rows: dict[str, int] = {}
    with warehouse.write_run("backups", target=target) as run:
        frames: dict[str, pd.DataFrame] = {}
        if pgbackrest_json is not None:
            text = read_input(pgbackrest_json, "pgbackrest info --output=json output")
            frames["backups"], stanza_notes = parse_pgbackrest_info(text, str(pgbackrest_json), server, stanza)
            notes += stanza_notes
        if log is not None:
            frames |= parse_backup_log(read_input(log, "backup log (CSV)"), str(log), server, timezone)
        for table, frame in frames.items():
            rows[table] = run.replace_rows(table, frame)
    return BackupLoadSummary(rows_by_table=rows, notes=tuple(notes))
