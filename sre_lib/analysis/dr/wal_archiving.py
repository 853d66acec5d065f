"""Disaster-recovery readiness: the platform scored against its backup policy and recovery objectives.

Seven checks, each ``pass`` / ``warn`` / ``fail`` with its evidence (timestamps, ages as text and as numbers)
and what to do, read from the warehouse (``pg_archiver``, ``pg_replication``, ``pg_replication_slots``,
``backups``, ``offsite_copies``, ``restore_tests``):

==================  ============================================================================================
wal_archiving       archive_mode on and no failure since the last success, judged as ``barman check`` does
                    (a failed ``.history`` file of an older timeline does not count); nothing ever archived
                    fails; failures in the last ARCHIVE_RECENT_FAILURE_WINDOW that have since recovered warn.
wal_age             age of the last archived WAL: warn above WAL_AGE_WARN_INTERVALS x the archive interval
                    (3 x 5 min), fail above the RPO (1 h).
full_backups        age of the last successful full backup: warn > FULL_BACKUP_WARN_AGE (26 h), fail >
                    FULL_BACKUP_FAIL_AGE (50 h); local days (platform.timezone, DST-correct) of the retention
                    window without a successful full backup warn.
offsite_copies      last off-site copy: warn > interval + OFFSITE_GRACE (7 d + 1 d), fail > OFFSITE_FAIL_FACTOR x
                    interval (14 d).
restore_tests       last successful tested restore: warn > interval (30 d), fail > RESTORE_TEST_FAIL_FACTOR x
                    interval (60 d); its measured duration (finished_at - started_at): warn above
                    RESTORE_DURATION_WARN_FRACTION (75 %) of the RTO, fail above the RTO; a failed latest attempt
                    fails.
retention           can we restore to any point of the last retention_days (30)? Needs a successful full backup
                    at least that old, and WAL continuous since: an archiving stall longer than the RPO inside the
                    window warns (PostgreSQL keeps unarchived WAL, so it is normally a breach of the RPO rather
                    than a hole, but the statistics cannot prove the backlog reached the archive); coverage short
                    by up to RETENTION_SHORTFALL_TOLERANCE (1 d) warns, more fails.
replicas            a streaming replica and its replay lag: none warns (recovery relies on backups), lag above
                    the wal_age warning threshold warns, above the RPO fails; inactive replication slots warn.
==================  ============================================================================================

The overall verdict is the worst status. Everything is judged *as of* a time, by default the latest snapshot
or backup record of the server in the warehouse (never the wall clock), so old and demo data read as they did
when collected; rows after ``as_of`` are ignored, so any past moment can be judged too.

    >>> from sre_lib.analysis.dr import dr_readiness
    >>> report = dr_readiness(con, config)          # con: Warehouse.open_read_only()
    >>> report.verdict, report.summary
    >>> report.to_frame()
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any, Literal
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd

from sre_lib.config import PlatformConfig
from sre_lib.durations import human_duration
from sre_lib.errors import DataError
from sre_lib.units import human_bytes

Status = Literal["pass", "warn", "fail"]
PASS: Status = "pass"
WARN: Status = "warn"
FAIL: Status = "fail"
_RANK = {PASS: 0, WARN: 1, FAIL: 2}

# ---------------------------------------------------------------------------------------------- thresholds
WAL_AGE_WARN_INTERVALS = 3  # warn once the last archived WAL is older than 3 archive intervals (15 min)
ARCHIVE_RECENT_FAILURE_WINDOW = timedelta(hours=24)  # recovered archive failures this recent still warn
FULL_BACKUP_WARN_AGE = timedelta(hours=26)  # daily schedule + 2 h for the backup to run
FULL_BACKUP_FAIL_AGE = timedelta(hours=50)  # two scheduled backups missed
FULL_BACKUP_DUE_GRACE = FULL_BACKUP_WARN_AGE - timedelta(days=1)  # a day's backup is due 2 h after its slot
OFFSITE_GRACE = timedelta(days=1)  # warn after the weekly interval + 1 day
OFFSITE_FAIL_FACTOR = 2  # fail after two intervals (14 days)
RESTORE_TEST_FAIL_FACTOR = 2  # warn after one interval (30 days), fail after two (60 days)
RESTORE_DURATION_WARN_FRACTION = 0.75  # a tested restore taking over 75 % of the RTO leaves too little margin
RETENTION_SHORTFALL_TOLERANCE = timedelta(days=1)  # coverage short of the window by up to a day warns, more fails
RESTORE_HISTORY = 5  # restore-test durations shown as the trend

_NO_ACTION = "No action needed: meets the policy."


# ---------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class DrCheck:
    """One check's result. ``evidence`` holds numbers and UTC timestamps; ``finding`` says it in words."""

    name: str
    title: str
    status: Status
    headline: str  # a few words for the manager summary, e.g. "restore test overdue (33 d old)"
    finding: str  # what was found, with times (local) and ages as text
    action: str  # what to do
    evidence: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __repr__(self) -> str:
        return f"[{self.status.upper()}] {self.title}: {self.finding}"


@dataclass(frozen=True, repr=False)
class DrReport:
    """All checks for one server as of one time, with the overall verdict and a sentence for managers."""

    server: str
    as_of: datetime
    timezone: str
    checks: tuple[DrCheck, ...]

    @property
    def verdict(self) -> Status:
        return _worst(c.status for c in self.checks)

    @property
    def summary(self) -> str:
        when = _local(self.as_of, ZoneInfo(self.timezone))
        # two checks judged from one missing view give one headline: say it once
        failing = list(dict.fromkeys(c.headline for c in self.checks if c.status == FAIL))
        warning = list(dict.fromkeys(c.headline for c in self.checks if c.status == WARN))
        if not failing and not warning:
            return (
                f"Disaster recovery for {self.server} is ready as of {when}: WAL archiving, backups, off-site "
                "copies, restore tests and retention all meet the policy."
            )
        if failing:
            also = f" (also needing attention: {'; '.join(warning)})" if warning else ""
            return f"Disaster recovery for {self.server} is at risk as of {when}: {'; '.join(failing)}{also}."
        return f"Disaster recovery for {self.server} works but needs attention as of {when}: {'; '.join(warning)}."

    @property
    def score(self) -> str:
        """'3 of 7 checks pass, 4 warn, 0 fail': the readiness score in one line."""
        counts = {status: sum(c.status == status for c in self.checks) for status in (PASS, WARN, FAIL)}
        return f"{counts[PASS]} of {len(self.checks)} checks pass, {counts[WARN]} warn, {counts[FAIL]} fail"

    def check(self, name: str) -> DrCheck:
        for item in self.checks:
            if item.name == name:
                return item
        raise KeyError(f"no DR check named {name!r}; checks: {', '.join(c.name for c in self.checks)}")

    __getitem__ = check

    def to_frame(self) -> pd.DataFrame:
        """One row per check: name, title, status, finding, action, evidence (a dict)."""
        return pd.DataFrame(
            [
                {
                    "check": c.name,
                    "title": c.title,
                    "status": c.status,
                    "finding": c.finding,
                    "action": c.action,
                    "evidence": dict(c.evidence),
                }
                for c in self.checks
            ]
        )

    def __repr__(self) -> str:
        when = _local(self.as_of, ZoneInfo(self.timezone))
        lines = [f"DrReport({self.server} as of {when}): {self.verdict.upper()}", f"  {self.summary}"]
        lines += [f"  {check!r}" for check in self.checks]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- formatting


def _local(ts: datetime, tz: ZoneInfo) -> str:
    return ts.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def _hours(value: float) -> str:
    return f"{value:g} h"


# ---------------------------------------------------------------------------------------------- context


@dataclass(frozen=True)
class _Context:
    con: duckdb.DuckDBPyConnection
    config: PlatformConfig
    as_of: datetime
    server: str

    @property
    def tz(self) -> ZoneInfo:
        return self.config.tz

    @property
    def rpo(self) -> timedelta:
        return timedelta(hours=self.config.recovery.rpo_hours)

    @property
    def rto(self) -> timedelta:
        return timedelta(hours=self.config.recovery.rto_hours)

    @property
    def wal_interval(self) -> timedelta:
        return timedelta(minutes=self.config.backup.wal_archive_interval_minutes)

    @property
    def wal_warn_age(self) -> timedelta:
        return WAL_AGE_WARN_INTERVALS * self.wal_interval

    @property
    def window_start(self) -> datetime:
        return self.as_of - timedelta(days=self.config.backup.retention_days)

    def local(self, ts: datetime) -> str:
        return _local(ts, self.tz)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = self.con.execute(sql, list(params))
        names = [d[0] for d in cursor.description]
        return [{n: _utc(v) for n, v in zip(names, row, strict=True)} for row in cursor.fetchall()]


def _scalar(value: Any) -> Any:
    """NaN / NaT -> None and pandas Timestamps -> UTC datetimes, so rows read from a DataFrame work too."""
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else _utc(value.to_pydatetime())
    if isinstance(value, float) and value != value:
        return None
    return _utc(value)


def _utc(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def latest_snapshot_time(con: duckdb.DuckDBPyConnection, server: str) -> datetime | None:
    """The newest time the warehouse knows about for a server: PostgreSQL snapshots and backup records."""
    return _record_time(con, server, "max")


def _record_time(con: duckdb.DuckDBPyConnection, server: str, edge: str) -> datetime | None:
    """The oldest (``edge`` 'min') or newest ('max') record of a server: snapshots, backups, copies, tests."""
    rows = con.execute(
        f"""
        SELECT {edge}(t) FROM (
            SELECT {edge}(taken_at) AS t FROM pg_snapshots WHERE server = $1
            UNION ALL SELECT {edge}(taken_at) FROM pg_archiver WHERE server = $1
            UNION ALL SELECT {edge}(taken_at) FROM pg_replication WHERE server = $1
            UNION ALL SELECT {edge}(finished_at) FROM backups WHERE server = $1
            UNION ALL SELECT {edge}(copied_at) FROM offsite_copies WHERE server = $1
            UNION ALL SELECT {edge}(finished_at) FROM restore_tests WHERE server = $1
        )
        """,
        [server],
    ).fetchall()
    return _utc(rows[0][0]) if rows and rows[0][0] is not None else None


def _context(
    con: duckdb.DuckDBPyConnection, config: PlatformConfig, as_of: datetime | None, server: str | None
) -> _Context:
    server = server or config.sources.postgres.server
    if as_of is None:
        as_of = latest_snapshot_time(con, server)
        if as_of is None:
            raise DataError(
                f"the warehouse holds no PostgreSQL snapshot and no backup record for server {server!r}: collect "
                "(sre collect postgres), load backup records, or pass as_of"
            )
    else:
        as_of = as_of if as_of.tzinfo is not None else as_of.replace(tzinfo=UTC)
        first = _record_time(con, server, "min")
        if first is None or first > as_of:  # nothing known yet: no check can say anything
            since = f"its records start {_local(first, config.tz)}" if first else "it has no records at all"
            raise DataError(
                f"the warehouse holds no PostgreSQL snapshot or backup record of server {server!r} at or before "
                f"{_local(as_of, config.tz)} (as_of): {since}"
            )
    return _Context(con=con, config=config, as_of=as_of.astimezone(UTC), server=server)


def _worst(statuses: Any) -> Status:
    worst = PASS
    for status in statuses:
        if _RANK[status] > _RANK[worst]:
            worst = status
    return worst


# ---------------------------------------------------------------------------------------------- WAL archiving

_ARCHIVER_COLUMNS = (
    "taken_at, archive_mode, archived_count, last_archived_wal, last_archived_time, failed_count, "
    "last_failed_wal, last_failed_time, stats_reset"
)


def _latest_archiver(ctx: _Context) -> dict[str, Any] | None:
    rows = ctx.rows(
        f"SELECT {_ARCHIVER_COLUMNS} FROM pg_archiver WHERE server = ? AND taken_at <= ? "
        "ORDER BY taken_at DESC LIMIT 1",
        [ctx.server, ctx.as_of],
    )
    return rows[0] if rows else None


def archiving_healthy(row: Mapping[str, Any]) -> bool:
    """barman's ``is_archiving``: archive_mode on/always and no failure since the last success.

    A failed ``.history`` file does not count when its timeline is not newer than the last archived WAL's
    (barman's exception for a timeline history file left over from an old promotion).
    """
    if row.get("archive_mode") not in ("on", "always"):
        return False
    if row.get("last_failed_wal") is None or _stale_history_failure(row):
        return True
    archived_at, failed_at = row.get("last_archived_time"), row.get("last_failed_time")
    return archived_at is not None and failed_at is not None and failed_at <= archived_at


def _stale_history_failure(row: Mapping[str, Any]) -> bool:
    """The last failure was a timeline .history file not newer than the last archived WAL's timeline."""
    failed_wal, archived_wal = row.get("last_failed_wal") or "", row.get("last_archived_wal")
    return failed_wal.endswith(".history") and bool(archived_wal) and failed_wal[:8] <= archived_wal[:8]


def _archiver_evidence(row: Mapping[str, Any]) -> dict[str, Any]:
    return {key: row[key] for key in _ARCHIVER_COLUMNS.split(", ")}


def _no_archiver(ctx: _Context, name: str, title: str) -> DrCheck:
    return DrCheck(
        name=name,
        title=title,
        status=FAIL,
        headline="WAL archiving not observed",
        finding=f"no pg_stat_archiver snapshot of {ctx.server} at or before {ctx.local(ctx.as_of)}",
        action="Collect a PostgreSQL snapshot (sre collect postgres) so archiving can be judged.",
        evidence={"as_of": ctx.as_of},
    )


def _failures_since(ctx: _Context, row: Mapping[str, Any], since: datetime) -> int | None:
    """Archive failures between ``since`` and the snapshot ``row``, from failed_count; None across a reset."""
    before = ctx.rows(
        "SELECT failed_count, stats_reset FROM pg_archiver WHERE server = ? AND taken_at <= ? "
        "ORDER BY taken_at DESC LIMIT 1",
        [ctx.server, since],
    )
    if not before or before[0]["stats_reset"] != row["stats_reset"] or before[0]["failed_count"] is None:
        return None
    delta = int(row["failed_count"] or 0) - int(before[0]["failed_count"])
    return delta if delta >= 0 else None


def _check_wal_archiving(ctx: _Context) -> DrCheck:
    name, title = "wal_archiving", "WAL archiving"
    row = _latest_archiver(ctx)
    if row is None:
        return _no_archiver(ctx, name, title)
    evidence = _archiver_evidence(row)
    snapshot_age = ctx.as_of - row["taken_at"]
    evidence |= {"snapshot_age_seconds": snapshot_age.total_seconds(), "snapshot_age": human_duration(snapshot_age)}
    seen = f"(pg_stat_archiver at {ctx.local(row['taken_at'])})"
    if row["archive_mode"] not in ("on", "always"):
        return DrCheck(
            name,
            title,
            FAIL,
            "WAL archiving is off",
            f"archive_mode is {row['archive_mode']!r} {seen}: no WAL reaches the archive, so no point-in-time "
            "recovery is possible and anything after the last full backup would be lost",
            "Set archive_mode = on and archive_command (e.g. 'pgbackrest --stanza=main archive-push %p'), restart "
            "PostgreSQL, then check that pg_stat_archiver.last_archived_time advances.",
            evidence,
        )
    if not archiving_healthy(row):
        since_success = (
            f"after the last success at {ctx.local(row['last_archived_time'])} (WAL {row['last_archived_wal']})"
            if row["last_archived_time"] is not None
            else "and no WAL has ever been archived successfully"
        )
        return DrCheck(
            name,
            title,
            FAIL,
            f"WAL archiving is failing (WAL {row['last_failed_wal']})",
            f"archiving is failing {seen}: the last attempt, on WAL {row['last_failed_wal']}, failed at "
            f"{ctx.local(row['last_failed_time'])} {since_success}; {_count(row['failed_count'])} failed attempts "
            "counted by pg_stat_archiver",
            "Read the PostgreSQL log for the archive_command error ('archive command failed with exit code ...'), "
            "fix the command or the archive storage (space, permissions, credentials), then confirm "
            "last_archived_time advances (SELECT * FROM pg_stat_archiver). Unarchived WAL piles up in pg_wal "
            "until then: watch the disk.",
            evidence,
        )
    if row["last_archived_time"] is None:
        return DrCheck(
            name,
            title,
            FAIL,
            "no WAL has ever been archived",
            f"archive_mode is {row['archive_mode']} but no WAL segment has been archived {seen}: "
            f"{_count(row['archived_count'])} segments archived since "
            f"{ctx.local(row['stats_reset']) if row['stats_reset'] else 'the server started'}",
            "Force a segment switch (SELECT pg_switch_wal()) and check that archive_command copies it to the "
            "archive; set archive_timeout so a quiet server still archives.",
            evidence,
        )
    last_failed = row["last_failed_time"]
    recent_from = ctx.as_of - ARCHIVE_RECENT_FAILURE_WINDOW
    if last_failed is not None and last_failed >= recent_from and not _stale_history_failure(row):
        failures = _failures_since(ctx, row, recent_from)
        evidence |= {"failures_in_window": failures}
        count = f"{failures} attempts" if failures is not None else "attempts"
        return DrCheck(
            name,
            title,
            WARN,
            "WAL archiving failed recently",
            f"archiving works again (last success {ctx.local(row['last_archived_time'])}, WAL "
            f"{row['last_archived_wal']}) but {count} failed in the last "
            f"{human_duration(ARCHIVE_RECENT_FAILURE_WINDOW)}, the latest at {ctx.local(last_failed)} on WAL "
            f"{row['last_failed_wal']} {seen}",
            "Find the cause in the PostgreSQL log around the failure (archive storage, network, credentials) "
            "before it recurs and stays.",
            evidence,
        )
    if snapshot_age > ctx.rpo:
        return DrCheck(
            name,
            title,
            WARN,
            f"archiver status {human_duration(snapshot_age)} old",
            f"archiving was healthy {seen}, but that snapshot is {human_duration(snapshot_age)} older than "
            f"{ctx.local(ctx.as_of)}: it may have changed since",
            "Collect PostgreSQL snapshots at least as often as the RPO (sre collect postgres --every 15m).",
            evidence,
        )
    failures = (
        f"last failure {ctx.local(last_failed)} (WAL {row['last_failed_wal']}), before the last success"
        if last_failed is not None
        else "no failure"
    )
    return DrCheck(
        name,
        title,
        PASS,
        "WAL archiving healthy",
        f"archive_mode {row['archive_mode']}; last success {ctx.local(row['last_archived_time'])} (WAL "
        f"{row['last_archived_wal']}); {failures}; {_count(row['archived_count'])} WAL segments archived and "
        f"{_count(row['failed_count'])} attempts failed in all {seen}",
        _NO_ACTION,
        evidence,
    )


def _check_wal_age(ctx: _Context) -> DrCheck:
    name, title = "wal_age", "Last archived WAL vs RPO"
    row = _latest_archiver(ctx)
    if row is None:
        return _no_archiver(ctx, name, title)
    rpo, warn_age = ctx.rpo, ctx.wal_warn_age
    policy = (
        f"policy: a segment every {human_duration(ctx.wal_interval)} (warn above {human_duration(warn_age)}), "
        f"RPO {_hours(ctx.config.recovery.rpo_hours)}"
    )
    evidence: dict[str, Any] = {
        "taken_at": row["taken_at"],
        "last_archived_wal": row["last_archived_wal"],
        "last_archived_time": row["last_archived_time"],
        "warn_above_seconds": warn_age.total_seconds(),
        "fail_above_seconds": rpo.total_seconds(),
    }
    if row["last_archived_time"] is None:
        return DrCheck(
            name,
            title,
            FAIL,
            "no archived WAL",
            f"no WAL segment has ever been archived (pg_stat_archiver at {ctx.local(row['taken_at'])}); {policy}",
            "Make WAL archiving work (see the WAL archiving check) and set archive_timeout to the policy interval.",
            evidence,
        )
    age = ctx.as_of - row["last_archived_time"]
    evidence |= {"age_seconds": age.total_seconds(), "age": human_duration(age)}
    status = FAIL if age > rpo else WARN if age > warn_age else PASS
    finding = (
        f"the last WAL segment ({row['last_archived_wal']}) was archived at {ctx.local(row['last_archived_time'])}, "
        f"{human_duration(age)} before {ctx.local(ctx.as_of)}; {policy}"
    )
    quiet = status != PASS and archiving_healthy(row)
    evidence["quiet_server_suspected"] = quiet
    if quiet:
        finding += (
            "; there was no archive failure since, so the server may simply be quiet: PostgreSQL archives a segment "
            "only when it fills (16 MB) or archive_timeout expires, and with archive_timeout unset (0) a quiet "
            "server archives rarely"
        )
    if status == PASS:
        action = _NO_ACTION
    elif quiet:
        action = (
            f"Set archive_timeout = '{ctx.config.backup.wal_archive_interval_minutes}min' so even a quiet server "
            "archives on schedule: the WAL not yet archived is what losing the server would lose."
        )
    else:
        action = (
            "Archiving is behind or failing: fix it (see the WAL archiving check) and set archive_timeout to the "
            "policy interval; until then changes since the last archived segment exist only on the primary."
        )
    headline = {
        PASS: "WAL archived on schedule",
        WARN: f"last WAL archived {human_duration(age)} ago",
        FAIL: f"last WAL archived {human_duration(age)} ago, beyond the RPO",
    }[status]
    return DrCheck(name, title, status, headline, finding, action, evidence)


# ---------------------------------------------------------------------------------------------- full backups


def _ok_full_backups(ctx: _Context, since: datetime | None = None) -> list[dict[str, Any]]:
    sql = (
        "SELECT backup_id, started_at, finished_at, size_bytes, wal_start, wal_stop FROM backups "
        "WHERE server = ? AND kind = 'full' AND status = 'ok' AND finished_at <= ?"
    )
    params: list[Any] = [ctx.server, ctx.as_of]
    if since is not None:
        sql += " AND started_at >= ?"
        params.append(since)
    return ctx.rows(sql + " ORDER BY finished_at", params)


def missed_backup_dates(
    con: duckdb.DuckDBPyConnection, config: PlatformConfig, as_of: datetime | None = None, server: str | None = None
) -> list[date]:
    """Local dates (platform.timezone) of the retention window whose daily full backup is missing.

    A date counts once its scheduled time (full_backup_local_time, DST-correct) lies inside the window and is
    at least FULL_BACKUP_DUE_GRACE before ``as_of``; it is missed when no successful full backup started on
    that local date. Dates before the first recorded backup are not counted: the record starts there.
    """
    return _missed_dates(_context(con, config, as_of, server))


def _missed_dates(ctx: _Context) -> list[date]:
    first = ctx.rows("SELECT min(started_at) AS first FROM backups WHERE server = ?", [ctx.server])[0]["first"]
    if first is None:
        return []
    done = {
        row["started_at"].astimezone(ctx.tz).date()
        for row in _ok_full_backups(ctx, since=ctx.window_start - timedelta(days=2))
    }
    slot = ctx.config.backup.full_backup_time
    day = max(ctx.window_start.astimezone(ctx.tz).date(), first.astimezone(ctx.tz).date())
    last_day = ctx.as_of.astimezone(ctx.tz).date()
    missed = []
    while day <= last_day:
        scheduled = datetime.combine(day, slot, tzinfo=ctx.tz).astimezone(UTC)
        if scheduled >= ctx.window_start and scheduled + FULL_BACKUP_DUE_GRACE <= ctx.as_of and day not in done:
            missed.append(day)
        day += timedelta(days=1)
    return missed


def _check_full_backups(ctx: _Context) -> DrCheck:
    name, title = "full_backups", "Daily full backup"
    schedule = f"daily at {ctx.config.backup.full_backup_local_time} {ctx.config.platform.timezone}"
    backups = _ok_full_backups(ctx)
    evidence: dict[str, Any] = {
        "schedule": schedule,
        "warn_above_seconds": FULL_BACKUP_WARN_AGE.total_seconds(),
        "fail_above_seconds": FULL_BACKUP_FAIL_AGE.total_seconds(),
    }
    if not backups:
        return DrCheck(
            name,
            title,
            FAIL,
            "no successful full backup",
            f"no successful full backup of {ctx.server} is recorded up to {ctx.local(ctx.as_of)} ({schedule})",
            "Take a full backup now (pgbackrest --stanza=main --type=full backup), schedule it daily, and load "
            "'pgbackrest info --output=json' into the warehouse (sre_lib.collect.backup_records).",
            evidence,
        )
    last = backups[-1]
    age = ctx.as_of - last["finished_at"]
    missed = _missed_dates(ctx)
    failed_days = {
        row["started_at"].astimezone(ctx.tz).date()
        for row in ctx.rows(
            "SELECT started_at FROM backups WHERE server = ? AND kind = 'full' AND status <> 'ok' "
            "AND started_at BETWEEN ? AND ?",
            [ctx.server, ctx.window_start - timedelta(days=1), ctx.as_of],
        )
    }
    evidence |= {
        "last_backup_id": last["backup_id"],
        "last_started_at": last["started_at"],
        "last_finished_at": last["finished_at"],
        "age_seconds": age.total_seconds(),
        "age": human_duration(age),
        "missed_dates": missed,
        "failed_attempt_dates": sorted(d for d in failed_days if d in missed),
    }
    age_status = FAIL if age > FULL_BACKUP_FAIL_AGE else WARN if age > FULL_BACKUP_WARN_AGE else PASS
    status = _worst([age_status, WARN if missed else PASS])
    finding = (
        f"last successful full backup {last['backup_id']} finished at {ctx.local(last['finished_at'])}, "
        f"{human_duration(age)} before {ctx.local(ctx.as_of)} ({schedule}; warn above "
        f"{human_duration(FULL_BACKUP_WARN_AGE)}, fail above {human_duration(FULL_BACKUP_FAIL_AGE)})"
    )
    if missed:
        dates = ", ".join(_missed_label(d, failed_days) for d in missed)
        finding += f"; {len(missed)} day(s) of the last {ctx.config.backup.retention_days} without one: {dates}"
    else:
        finding += f"; every day of the last {ctx.config.backup.retention_days} has one"
    actions = []
    if age_status != PASS:
        actions.append(
            "Run a full backup now and find why the scheduled one did not run or failed (cron / systemd timer, "
            "pgBackRest log, repository space)."
        )
    if missed:
        actions.append(
            "Check the scheduler and the pgBackRest log for the missed dates, and alert on a missing daily backup."
        )
    if age_status == FAIL:
        headline = f"last full backup {human_duration(age)} old"
    elif missed:
        headline = f"full backup missed on {', '.join(d.isoformat() for d in missed)}"
        if age_status == WARN:
            headline += f" and the last one is {human_duration(age)} old"
    elif age_status == WARN:
        headline = f"last full backup {human_duration(age)} old"
    else:
        headline = "daily full backups on schedule"
    return DrCheck(name, title, status, headline, finding, " ".join(actions) or _NO_ACTION, evidence)


def _missed_label(day: date, failed_days: set[date]) -> str:
    return f"{day.isoformat()} (failed)" if day in failed_days else day.isoformat()


# ---------------------------------------------------------------------------------------------- off-site copies


def _check_offsite(ctx: _Context) -> DrCheck:
    name, title = "offsite_copies", "Weekly off-site copy"
    interval = timedelta(days=ctx.config.backup.offsite_copy_interval_days)
    warn_age, fail_age = interval + OFFSITE_GRACE, OFFSITE_FAIL_FACTOR * interval
    evidence: dict[str, Any] = {
        "interval_days": ctx.config.backup.offsite_copy_interval_days,
        "warn_above_seconds": warn_age.total_seconds(),
        "fail_above_seconds": fail_age.total_seconds(),
    }
    policy = f"policy: every {human_duration(interval)}; warn above {human_duration(warn_age)}, fail above " + (
        human_duration(fail_age)
    )
    copies = ctx.rows(
        "SELECT backup_id, copied_at, destination FROM offsite_copies WHERE server = ? AND status = 'ok' "
        "AND copied_at <= ? ORDER BY copied_at DESC LIMIT 1",
        [ctx.server, ctx.as_of],
    )
    if not copies:
        return DrCheck(
            name,
            title,
            FAIL,
            "no off-site copy",
            f"no successful off-site copy of {ctx.server}'s backups is recorded up to {ctx.local(ctx.as_of)} "
            f"({policy})",
            "Copy the latest backup off site (a second pgBackRest repository, or object storage in another "
            "region) weekly, and record each copy in the backup log.",
            evidence,
        )
    last = copies[0]
    age = ctx.as_of - last["copied_at"]
    failed = ctx.rows(
        "SELECT count(*) AS n FROM offsite_copies WHERE server = ? AND status <> 'ok' AND copied_at > ? "
        "AND copied_at <= ?",
        [ctx.server, last["copied_at"], ctx.as_of],
    )[0]["n"]
    evidence |= {
        "last_copied_at": last["copied_at"],
        "last_backup_id": last["backup_id"],
        "destination": last["destination"],
        "age_seconds": age.total_seconds(),
        "age": human_duration(age),
        "failed_since": int(failed),
    }
    status = FAIL if age > fail_age else WARN if age > warn_age else PASS
    finding = (
        f"last off-site copy (backup {last['backup_id'] or 'unknown'} to {last['destination']}) at "
        f"{ctx.local(last['copied_at'])}, {human_duration(age)} before {ctx.local(ctx.as_of)}; {policy}"
    )
    if failed:
        finding += f"; {failed} failed attempt(s) since"
    action = (
        _NO_ACTION
        if status == PASS
        else "Copy the latest full backup off site now and check the weekly copy job (its log, credentials, the "
        "destination's space); a site loss today would fall back to that old copy."
    )
    headline = "off-site copy current" if status == PASS else f"last off-site copy {human_duration(age)} old"
    return DrCheck(name, title, status, headline, finding, action, evidence)


# ---------------------------------------------------------------------------------------------- restore tests


def _check_restore_tests(ctx: _Context) -> DrCheck:
    name, title = "restore_tests", "Monthly tested restore"
    interval = timedelta(days=ctx.config.backup.restore_test_interval_days)
    fail_age = RESTORE_TEST_FAIL_FACTOR * interval
    rto, warn_duration = ctx.rto, RESTORE_DURATION_WARN_FRACTION * ctx.rto
    evidence: dict[str, Any] = {
        "interval_days": ctx.config.backup.restore_test_interval_days,
        "warn_above_seconds": interval.total_seconds(),
        "fail_above_seconds": fail_age.total_seconds(),
        "rto_hours": ctx.config.recovery.rto_hours,
        "duration_warn_above_seconds": warn_duration.total_seconds(),
    }
    tests = ctx.rows(
        "SELECT backup_id, started_at, finished_at, status, notes FROM restore_tests WHERE server = ? "
        "AND finished_at <= ? ORDER BY finished_at",
        [ctx.server, ctx.as_of],
    )
    ok = [t for t in tests if t["status"] == "ok"]
    if not ok:
        failed_note = f" ({len(tests)} attempt(s), none successful)" if tests else ""
        return DrCheck(
            name,
            title,
            FAIL,
            "restores never tested",
            f"no successful restore test of {ctx.server} is recorded up to {ctx.local(ctx.as_of)}{failed_note}: "
            "the backups have never been proven restorable, nor the RTO measured",
            "Restore the latest backup to a scratch server (pgbackrest restore), time it from start to a usable "
            "database, check the data, and record it in the backup log; repeat monthly.",
            evidence,
        )
    last = ok[-1]
    age = ctx.as_of - last["finished_at"]
    duration = last["finished_at"] - last["started_at"]
    latest_attempt = tests[-1]
    history = [(t["started_at"], (t["finished_at"] - t["started_at"]).total_seconds()) for t in ok[-RESTORE_HISTORY:]]
    evidence |= {
        "last_backup_id": last["backup_id"],
        "last_started_at": last["started_at"],
        "last_finished_at": last["finished_at"],
        "age_seconds": age.total_seconds(),
        "age": human_duration(age),
        "duration_seconds": duration.total_seconds(),
        "duration": human_duration(duration),
        "fraction_of_rto": duration / rto,
        "history": history,
        "latest_attempt_failed": latest_attempt["status"] != "ok",
    }
    age_status = FAIL if age > fail_age else WARN if age > interval else PASS
    duration_status = FAIL if duration > rto else WARN if duration > warn_duration else PASS
    attempt_status = FAIL if latest_attempt["status"] != "ok" else PASS
    status = _worst([age_status, duration_status, attempt_status])
    finding = (
        f"last successful restore test (backup {last['backup_id'] or 'unknown'}) finished at "
        f"{ctx.local(last['finished_at'])}, {human_duration(age)} before {ctx.local(ctx.as_of)} (monthly: warn above "
        f"{human_duration(interval)}, fail above {human_duration(fail_age)}); it took {human_duration(duration)}, "
        f"{duration / rto:.0%} of the {_hours(ctx.config.recovery.rto_hours)} RTO (warn above "
        f"{RESTORE_DURATION_WARN_FRACTION:.0%})"
    )
    if len(history) > 1:
        finding += "; durations of the last tests: " + ", ".join(human_duration(s) for _, s in history)
        if all(b > a for (_, a), (_, b) in pairwise(history)):
            finding += " (rising)"
    if attempt_status == FAIL:
        finding += f"; the latest attempt, started {ctx.local(latest_attempt['started_at'])}, failed"
        if latest_attempt["notes"]:
            finding += f" ({latest_attempt['notes']})"
    actions, headlines = [], []
    if attempt_status == FAIL:
        actions.append("Find why the latest restore test failed, fix it and rerun it: recovery is unproven.")
        headlines.append("latest restore test failed")
    if age_status != PASS:
        actions.append("Run the overdue restore test now and put the monthly test in the calendar.")
        headlines.append(f"restore test overdue ({human_duration(age)} old)")
    if duration_status != PASS:
        actions.append(
            f"Restore takes {human_duration(duration)} against a {_hours(ctx.config.recovery.rto_hours)} RTO: "
            "speed it up (parallel restore, delta restore, a standby ready to promote, a bigger restore "
            "server) or agree a longer RTO."
        )
        headlines.append(f"restore took {human_duration(duration)} ({duration / rto:.0%} of the RTO)")
    headline = "; ".join(headlines) or "restore tested within the month and the RTO"
    return DrCheck(name, title, status, headline, finding, " ".join(actions) or _NO_ACTION, evidence)


# ---------------------------------------------------------------------------------------------- retention


@dataclass(frozen=True)
class ArchiveStall:
    """A run of snapshots in which archiving was failing: from the last success before to the last failure seen."""

    last_success: datetime | None  # None: nothing had ever been archived
    last_failure: datetime
    last_failed_wal: str | None
    resumed_at: datetime | None  # last_archived_time at the first healthy snapshot after; None: still failing

    @property
    def duration(self) -> timedelta | None:
        """How long no WAL was archived, at least (None when nothing had ever been archived)."""
        return None if self.last_success is None else self.last_failure - self.last_success


def _failing(row: Mapping[str, Any]) -> bool:
    """A failure since the last success (barman's rule without the archive_mode part)."""
    failed_at = row["last_failed_time"]
    if failed_at is None or _stale_history_failure(row):
        return False
    archived_at = row["last_archived_time"]
    return archived_at is None or failed_at > archived_at


def archive_stalls(rows: Sequence[Mapping[str, Any]]) -> list[ArchiveStall]:
    """Failure episodes in a time-ordered pg_archiver history.

    An episode is a run of consecutive snapshots that each saw a failure after the last success (barman's
    failing state). It lasted at least from that last success to the last failure the run recorded. Failures
    that began and cleared between two snapshots leave no failing snapshot and are not episodes: with
    snapshots every 15 minutes they are far shorter than an RPO.
    """
    stalls: list[ArchiveStall] = []
    episode: list[Mapping[str, Any]] = []
    clean = [{key: _scalar(value) for key, value in row.items()} for row in rows]  # DataFrame records welcome
    for row in [*clean, None]:
        if row is not None and _failing(row):
            episode.append(row)
            continue
        if episode:
            last = max(episode, key=lambda r: r["last_failed_time"])
            stalls.append(
                ArchiveStall(
                    last_success=episode[0]["last_archived_time"],
                    last_failure=last["last_failed_time"],
                    last_failed_wal=last["last_failed_wal"],
                    resumed_at=row["last_archived_time"] if row is not None else None,
                )
            )
            episode = []
    return stalls


def _check_retention(ctx: _Context) -> DrCheck:
    name, title = "retention", "Retention coverage"
    days = ctx.config.backup.retention_days
    window = timedelta(days=days)
    evidence: dict[str, Any] = {"retention_days": days, "window_start": ctx.window_start}
    backups = _ok_full_backups(ctx)
    if not backups:
        return DrCheck(
            name,
            title,
            FAIL,
            "nothing to restore from",
            f"no successful full backup of {ctx.server} is recorded: no point of the last {days} days can be restored",
            "Take a daily full backup with WAL archiving, and keep them for the retention window "
            f"(pgBackRest: repo1-retention-full-type=time, repo1-retention-full={days}).",
            evidence,
        )
    oldest = backups[0]
    nominal = ctx.as_of - oldest["finished_at"]
    history = ctx.rows(
        f"SELECT {_ARCHIVER_COLUMNS} FROM pg_archiver WHERE server = ? AND taken_at BETWEEN ? AND ? ORDER BY taken_at",
        [ctx.server, min(oldest["started_at"], ctx.window_start) - timedelta(days=1), ctx.as_of],
    )
    # A stall longer than the RPO after the oldest backup: restores through it are unproven, so the proven
    # span starts at the first full backup after it. Only stalls whose next backup lands inside the window matter.
    proven_from = oldest["finished_at"]
    gaps = []
    for stall in archive_stalls(history):
        if stall.last_failure < oldest["started_at"] or (stall.duration is not None and stall.duration <= ctx.rpo):
            continue
        later = [b["finished_at"] for b in backups if b["started_at"] > stall.last_failure]
        restart = later[0] if later else ctx.as_of
        if restart > ctx.window_start:
            gaps.append(stall)
        proven_from = max(proven_from, restart)
    proven = ctx.as_of - proven_from
    old_backups = sum(1 for b in backups if b["finished_at"] < ctx.window_start - timedelta(days=1))
    observed_from = history[0]["taken_at"] if history else None
    evidence |= {
        "oldest_backup_id": oldest["backup_id"],
        "oldest_finished_at": oldest["finished_at"],
        "coverage_seconds": nominal.total_seconds(),
        "coverage": human_duration(nominal),
        "proven_coverage_seconds": proven.total_seconds(),
        "proven_coverage": human_duration(proven),
        "archive_gaps": [
            {
                "last_success": g.last_success,
                "last_failure": g.last_failure,
                "last_failed_wal": g.last_failed_wal,
                "duration_seconds": g.duration.total_seconds() if g.duration is not None else None,
                "resumed_at": g.resumed_at,
            }
            for g in gaps
        ],
        "archiver_history_from": observed_from,
        "backups_older_than_window": old_backups,
    }
    if nominal >= window:
        status: Status = WARN if proven < window else PASS
    else:
        status = WARN if nominal >= window - RETENTION_SHORTFALL_TOLERANCE else FAIL
    finding = (
        f"oldest successful full backup {oldest['backup_id']} finished at {ctx.local(oldest['finished_at'])}: "
        f"restores can reach back {human_duration(nominal)}; the policy asks for {days} days"
    )
    if old_backups:
        finding += (
            f"; {old_backups} backup{'s are' if old_backups > 1 else ' is'} kept beyond that "
            "(allowed, but storage the policy does not need)"
        )
    for gap in gaps:
        length = human_duration(gap.duration) if gap.duration is not None else "an unknown time"
        finding += (
            f"; WAL archiving stalled for at least {length} (longer than the "
            f"{_hours(ctx.config.recovery.rpo_hours)} RPO), from the last success at "
            f"{ctx.local(gap.last_success) if gap.last_success else 'unknown'} to a failure at "
            f"{ctx.local(gap.last_failure)} (WAL {gap.last_failed_wal})"
        )
        finding += (
            f", resuming by {ctx.local(gap.resumed_at)}" if gap.resumed_at is not None else ", and is still failing"
        )
    if gaps and proven > timedelta(0):
        first_gap = gaps[0]
        hole_from = ctx.local(first_gap.last_success) if first_gap.last_success else "the stall"
        finding += (
            f"; continuity through the stall is unproven, so points from {hole_from} to "
            f"{ctx.local(proven_from)} (the first full backup after it) may not be restorable; earlier points "
            f"restore from earlier backups, and the last {human_duration(proven)} from that backup on"
        )
    elif gaps:
        finding += (
            "; continuity through the stall is unproven and no full backup has completed since: points after the "
            "stall may not be restorable"
        )
    elif history:
        finding += f"; no archive stall longer than the RPO since {ctx.local(max(observed_from, oldest['started_at']))}"
    if observed_from is not None and observed_from > max(oldest["started_at"], ctx.window_start):
        finding += f"; archiver history only starts at {ctx.local(observed_from)}"
    actions = []
    if nominal < window:
        actions.append(
            f"Keep backups and WAL for {days} days: pgBackRest repo1-retention-full-type=time with "
            f"repo1-retention-full={days} keeps the newest backup older than the window, so every point in it "
            "stays restorable."
        )
    if gaps:
        actions.append(
            "Verify the WAL archive is continuous across the stall (pgbackrest verify, or check that every segment "
            "between the last success and the resumption is in the archive); if it is not, points between the "
            "last success before the stall and the next full backup after it cannot be reached."
        )
    if status == FAIL:
        headline = f"restores reach back only {human_duration(nominal)} of {days} days"
    elif nominal < window:
        headline = f"restores reach back {human_duration(nominal)}, short of {days} days"
    elif status == WARN:
        latest = gaps[-1]
        length = human_duration(latest.duration) if latest.duration is not None else "long"
        headline = f"WAL archive stalled {length} on {latest.last_failure.astimezone(ctx.tz).date().isoformat()}"
    else:
        headline = f"any point of the last {days} days restorable"
    return DrCheck(name, title, status, headline, finding, " ".join(actions) or _NO_ACTION, evidence)


# ---------------------------------------------------------------------------------------------- replicas


def _check_replicas(ctx: _Context) -> DrCheck:
    name, title = "replicas", "Replica and lag"
    latest = ctx.rows(
        """
        SELECT max(t) AS taken_at FROM (
            SELECT max(taken_at) AS t FROM pg_snapshots WHERE server = $1 AND taken_at <= $2
            UNION ALL SELECT max(taken_at) FROM pg_archiver WHERE server = $1 AND taken_at <= $2
            UNION ALL SELECT max(taken_at) FROM pg_replication WHERE server = $1 AND taken_at <= $2
        )
        """,
        [ctx.server, ctx.as_of],
    )[0]["taken_at"]
    warn_lag, fail_lag = ctx.wal_warn_age, ctx.rpo
    evidence: dict[str, Any] = {
        "taken_at": latest,
        "warn_above_seconds": warn_lag.total_seconds(),
        "fail_above_seconds": fail_lag.total_seconds(),
    }
    if latest is None:
        return DrCheck(
            name,
            title,
            WARN,
            "replica status unknown",
            f"no PostgreSQL snapshot of {ctx.server} at or before {ctx.local(ctx.as_of)}: replica status unknown",
            "Collect a PostgreSQL snapshot (sre collect postgres).",
            evidence,
        )
    connected = ctx.rows(
        "SELECT application_name, client_addr, state, sync_state, replay_lsn, replay_lag_bytes, replay_lag_seconds, "
        "slot_type FROM pg_replication WHERE server = ? AND taken_at = ? ORDER BY application_name, client_addr",
        [ctx.server, latest],
    )
    # A standby reports the WAL it has replayed. pg_receivewal and a base backup's WAL stream replay nothing (no
    # replay_lsn), and a logical subscriber (CDC, a logical replica) applies changes to a database of its own:
    # none of them can be promoted in the primary's place.
    promotable = [row["replay_lsn"] is not None and row["slot_type"] != "logical" for row in connected]
    replicas = [row for row, standby in zip(connected, promotable, strict=True) if standby]
    receivers = [row for row, standby in zip(connected, promotable, strict=True) if not standby]
    slots = ctx.rows(
        "SELECT slot_name, slot_type, active, retained_bytes, wal_status FROM pg_replication_slots "
        "WHERE server = ? AND taken_at = ? ORDER BY slot_name",
        [ctx.server, latest],
    )
    # A slot that has reserved no WAL yet (retained 0) holds nothing back; an unknown amount may; a lost one
    # holds nothing either, but the replica using it can no longer catch up.
    inactive = [
        s for s in slots
        if not s["active"] and (s["retained_bytes"] is None or s["retained_bytes"] > 0 or s["wal_status"] == "lost")
    ]  # fmt: skip
    lost = [s for s in inactive if s["wal_status"] == "lost"]
    holding = [s for s in inactive if s["wal_status"] != "lost"]
    evidence |= {"replicas": replicas, "wal_receivers": receivers, "inactive_slots": inactive}
    seen = f"pg_stat_replication at {ctx.local(latest)}"
    slot_note = ""
    if holding:
        slot_note += "; inactive replication slot(s) holding WAL on the primary: " + ", ".join(
            f"{s['slot_name']} ({_bytes(s['retained_bytes'])})" for s in holding
        )
    if lost:
        slot_note += "; replication slot(s) that lost the WAL their replica needs (it must be re-seeded): " + ", ".join(
            s["slot_name"] for s in lost
        )
    if not replicas:
        streamed = ""
        if receivers:
            names = ", ".join(row["application_name"] or row["client_addr"] or "a client" for row in receivers)
            streamed = (
                f"; WAL is streamed to {names}, which cannot be promoted (a WAL archive or a logical subscriber, "
                "not a standby)"
            )
        return DrCheck(
            name,
            title,
            WARN,
            "no replica for failover",
            f"no replica is connected ({seen}): failover to read replica is not available; recovery relies on "
            "backups" + streamed + slot_note,
            "Accept restore-from-backup as the recovery path (and keep the restore tests inside the RTO), or add "
            "a streaming replica that can be promoted."
            + (" Drop replication slots no replica uses." if inactive else ""),
            evidence,
        )
    statuses, parts = [], []
    for replica in replicas:
        label = replica["application_name"] or replica["client_addr"] or "replica"
        lag = replica["replay_lag_seconds"]
        lag_bytes = replica["replay_lag_bytes"]
        if lag is None or lag != lag:  # NULL when idle and caught up
            lag_text = "no replay lag reported (idle)"
            lag_status = PASS
        else:
            lag_text = f"replay lag {human_duration(lag)}"
            lag_status = FAIL if lag > fail_lag.total_seconds() else WARN if lag > warn_lag.total_seconds() else PASS
        if lag_bytes is not None:
            lag_text += f", {_bytes(lag_bytes)} behind"
        state_status = PASS if replica["state"] == "streaming" else WARN
        statuses.append(_worst([lag_status, state_status]))
        parts.append(f"{label}: {replica['state']} ({replica['sync_state']}), {lag_text}")
    status = _worst([*statuses, WARN if inactive else PASS])
    finding = (
        f"{len(replicas)} replica(s) ({seen}): "
        + "; ".join(parts)
        + f" (warn above {human_duration(warn_lag)}, fail above the {_hours(ctx.config.recovery.rpo_hours)} RPO)"
        + slot_note
    )
    if status == PASS:
        action, headline = _NO_ACTION, "replica streaming within the RPO"
    else:
        action = (
            "Find why the replica lags or is not streaming (network, replica I/O, long queries with "
            "hot_standby_feedback, a conflicting recovery); a failover now would lose the lag."
        )
        if holding:
            action += " Drop or reconnect inactive replication slots before they fill the primary's disk."
        if lost:
            action += " Re-seed the replica of a lost slot from a new base backup, or drop the slot."
        headline = "replica lagging or not streaming" if any(s != PASS for s in statuses) else "inactive slot"
    return DrCheck(name, title, status, headline, finding, action, evidence)


def _count(value: Any) -> str:
    return "an unknown number of" if value is None or pd.isna(value) else f"{int(value):,}"


def _bytes(value: Any) -> str:
    return "unknown size" if value is None else human_bytes(value)


# ---------------------------------------------------------------------------------------------- public API

_CHECKS: tuple[Callable[[_Context], DrCheck], ...] = (
    _check_wal_archiving,
    _check_wal_age,
    _check_full_backups,
    _check_offsite,
    _check_restore_tests,
    _check_retention,
    _check_replicas,
)

CHECK_NAMES = ("wal_archiving", "wal_age", "full_backups", "offsite_copies", "restore_tests", "retention", "replicas")


def dr_readiness(
    con: duckdb.DuckDBPyConnection,
    config: PlatformConfig,
    as_of: datetime | None = None,
    server: str | None = None,
) -> DrReport:
    """Every DR check for ``server`` (default: [sources.postgres].server) as of ``as_of``.

    ``as_of`` defaults to the latest snapshot or backup record of the server in the warehouse, not the clock.
    A naive ``as_of`` is taken as UTC. Raises DataError when the warehouse holds nothing for the server.
    """
    ctx = _context(con, config, as_of, server)
    return DrReport(
        server=ctx.server,
        as_of=ctx.as_of,
        timezone=config.platform.timezone,
        checks=tuple(check(ctx) for check in _CHECKS),
    )


def check_wal_archiving(
    con: duckdb.DuckDBPyConnection, config: PlatformConfig, as_of: datetime | None = None, server: str | None = None
) -> DrCheck:
    """archive_mode on and no archive failure since the last success (barman's rule)."""
    return _check_wal_archiving(_context(con, config, as_of, server))


def check_wal_age(
    con: duckdb.DuckDBPyConnection, config: PlatformConfig, as_of: datetime | None = None, server: str | None = None
) -> DrCheck:
    """Age of the last archived WAL segment against the archive interval and the RPO."""
    return _check_wal_age(_context(con, config, as_of, server))


def check_full_backups(
    con: duckdb.DuckDBPyConnection, config: PlatformConfig, as_of: datetime | None = None, server: str | None = None
) -> DrCheck:
    """Age of the last successful full backup, and the local days of the retention window without one."""
    return _check_full_backups(_context(con, config, as_of, server))


def check_offsite_copies(
    con: duckdb.DuckDBPyConnection, config: PlatformConfig, as_of: datetime | None = None, server: str | None = None
) -> DrCheck:
    """Age of the last successful off-site copy against the weekly interval."""
    return _check_offsite(_context(con, config, as_of, server))


def check_restore_tests(
    con: duckdb.DuckDBPyConnection, config: PlatformConfig, as_of: datetime | None = None, server: str | None = None
) -> DrCheck:
    """Age of the last successful restore test against the monthly interval, and its duration against the RTO."""
    return _check_restore_tests(_context(con, config, as_of, server))


def check_retention(
    con: duckdb.DuckDBPyConnection, config: PlatformConfig, as_of: datetime | None = None, server: str | None = None
) -> DrCheck:
    """Whether every point of the retention window can be restored: an old enough backup and WAL since."""
    return _check_retention(_context(con, config, as_of, server))


def check_replicas(
    con: duckdb.DuckDBPyConnection, config: PlatformConfig, as_of: datetime | None = None, server: str | None = None
) -> DrCheck:
    """Replica presence, state and replay lag against the RPO; inactive replication slots."""
    return _check_replicas(_context(con, config, as_of, server))


def policy_statement(config: PlatformConfig) -> str:
    """The backup and recovery policy in one sentence, as the DR report states it before the checks."""
    backup, recovery = config.backup, config.recovery
    return (
        f"RTO target: under {recovery.rto_hours:g} h; RPO target: under {recovery.rpo_hours:g} h; WAL archived every "
        f"{backup.wal_archive_interval_minutes} min; full backup daily at {backup.full_backup_local_time} "
        f"{config.platform.timezone}; off-site copy every {backup.offsite_copy_interval_days} days; tested restore "
        f"every {backup.restore_test_interval_days} days; retention {backup.retention_days} days."
    )
