"""Daily full backups: the age of the last successful one, and the local days of the retention window without one.

============  ==================================================================================================
full_backups  age of the last successful full backup: warn > FULL_BACKUP_WARN_AGE (26 h), fail >
              FULL_BACKUP_FAIL_AGE (50 h); local days (platform.timezone, DST-correct) of the retention window
              without a successful full backup warn.
============  ==================================================================================================
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb

from sre_lib.analysis.dr.check_context import CheckContext, check_context
from sre_lib.analysis.dr.check_result import FAIL, NO_ACTION, PASS, WARN, DrCheck, worst
from sre_lib.config import PlatformConfig
from sre_lib.durations import human_duration

__all__ = [
    "FULL_BACKUP_DUE_GRACE",
    "FULL_BACKUP_FAIL_AGE",
    "FULL_BACKUP_WARN_AGE",
    "check_full_backups",
    "missed_backup_dates",
    "ok_full_backups",
]

FULL_BACKUP_WARN_AGE = timedelta(hours=26)  # daily schedule + 2 h for the backup to run
FULL_BACKUP_FAIL_AGE = timedelta(hours=50)  # two scheduled backups missed
FULL_BACKUP_DUE_GRACE = FULL_BACKUP_WARN_AGE - timedelta(days=1)  # a day's backup is due 2 h after its slot


def ok_full_backups(ctx: CheckContext, since: datetime | None = None) -> list[dict[str, Any]]:
    """Successful full backups finished by ``as_of`` (and started at or after ``since``), oldest first."""
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
    return _missed_dates(check_context(con, config, as_of, server))


def _missed_dates(ctx: CheckContext) -> list[date]:
    first = ctx.rows("SELECT min(started_at) AS first FROM backups WHERE server = ?", [ctx.server])[0]["first"]
    if first is None:
        return []
    done = {
        row["started_at"].astimezone(ctx.tz).date()
        for row in ok_full_backups(ctx, since=ctx.window_start - timedelta(days=2))
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


def check_full_backups(ctx: CheckContext) -> DrCheck:
    """Age of the last successful full backup, and the local days of the retention window without one."""
    name, title = "full_backups", "Daily full backup"
    schedule = f"daily at {ctx.config.backup.full_backup_local_time} {ctx.config.platform.timezone}"
    backups = ok_full_backups(ctx)
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
    status = worst([age_status, WARN if missed else PASS])
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
    return DrCheck(name, title, status, headline, finding, " ".join(actions) or NO_ACTION, evidence)


def _missed_label(day: date, failed_days: set[date]) -> str:
    return f"{day.isoformat()} (failed)" if day in failed_days else day.isoformat()
