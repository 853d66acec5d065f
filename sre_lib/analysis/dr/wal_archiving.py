"""WAL archiving, judged from pg_stat_archiver snapshots: is it working, and how old is the last archived WAL?

==================  ============================================================================================
wal_archiving       archive_mode on and no failure since the last success, judged as ``barman check`` does
                    (a failed ``.history`` file of an older timeline does not count); nothing ever archived
                    fails. A failure that has recovered passes once the WAL that failed has been archived since
                    (the evidence keeps which WAL, from when to when; whether the stall outlasted the RPO is
                    the retention check's to judge); while it has not, a failure in the last
                    ARCHIVE_RECENT_FAILURE_WINDOW warns.
wal_age             age of the last archived WAL: warn above WAL_AGE_WARN_INTERVALS x the archive interval
                    (3 x 5 min), fail above the RPO (1 h).
==================  ============================================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sre_lib.analysis.dr.check_context import CheckContext
from sre_lib.analysis.dr.check_result import FAIL, NO_ACTION, PASS, WARN, DrCheck, count_text, hours_text
from sre_lib.durations import human_duration

__all__ = [
    "ARCHIVER_COLUMNS",
    "ARCHIVE_RECENT_FAILURE_WINDOW",
    "archiving_healthy",
    "check_wal_age",
    "check_wal_archiving",
    "failed_wal_archived_since",
    "stale_history_failure",
]

ARCHIVE_RECENT_FAILURE_WINDOW = timedelta(hours=24)  # failures this recent are counted; unarchived since: warn

ARCHIVER_COLUMNS = (
    "taken_at, archive_mode, archived_count, last_archived_wal, last_archived_time, failed_count, "
    "last_failed_wal, last_failed_time, stats_reset"
)


def _latest_archiver(ctx: CheckContext) -> dict[str, Any] | None:
    rows = ctx.rows(
        f"SELECT {ARCHIVER_COLUMNS} FROM pg_archiver WHERE server = ? AND taken_at <= ? ORDER BY taken_at DESC LIMIT 1",
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
    if row.get("last_failed_wal") is None or stale_history_failure(row):
        return True
    archived_at, failed_at = row.get("last_archived_time"), row.get("last_failed_time")
    return archived_at is not None and failed_at is not None and failed_at <= archived_at


def stale_history_failure(row: Mapping[str, Any]) -> bool:
    """The last failure was a timeline .history file not newer than the last archived WAL's timeline."""
    failed_wal, archived_wal = row.get("last_failed_wal") or "", row.get("last_archived_wal")
    return failed_wal.endswith(".history") and bool(archived_wal) and failed_wal[:8] <= archived_wal[:8]


def failed_wal_archived_since(row: Mapping[str, Any]) -> bool:
    """The WAL whose archiving last failed has been archived since: the archiver sends segments in order, so a
    success on that segment or a later one (a later name; a timeline's history file sorts before its segments)
    after the failure means the failed one reached the archive."""
    failed_wal, archived_wal = row.get("last_failed_wal"), row.get("last_archived_wal")
    failed_at, archived_at = row.get("last_failed_time"), row.get("last_archived_time")
    if failed_wal is None:
        return True
    if archived_wal is None or archived_at is None or failed_at is None or archived_at < failed_at:
        return False
    return archived_wal >= failed_wal


def _recovered_failure(ctx: CheckContext, row: Mapping[str, Any]) -> dict[str, Any]:
    """The failure episode of ``row``'s last failed WAL from the archiver history: the last success before it
    (None when no snapshot saw it failing: it began and ended between two), the last failed attempt, and the
    last success of the first snapshot that saw it mended (when the WAL was archived, at the latest)."""
    history = ctx.rows(
        f"SELECT {ARCHIVER_COLUMNS} FROM pg_archiver WHERE server = ? AND last_failed_wal = ? AND taken_at >= ? "
        "AND taken_at <= ? ORDER BY taken_at",
        [ctx.server, row["last_failed_wal"], row["last_failed_time"] - 2 * ARCHIVE_RECENT_FAILURE_WINDOW,
         row["taken_at"]],
    )  # fmt: skip
    failing = [r for r in history if not archiving_healthy(r)]
    mended = next(
        (r for r in history if r["taken_at"] >= row["last_failed_time"] and failed_wal_archived_since(r)), row
    )
    return {
        "wal": row["last_failed_wal"],
        "last_success_before": failing[0]["last_archived_time"] if failing else None,
        "last_failed_at": row["last_failed_time"],
        "archived_again_by": mended["last_archived_time"],
        "failing_snapshots": len(failing),
    }


def _archiver_evidence(row: Mapping[str, Any]) -> dict[str, Any]:
    return {key: row[key] for key in ARCHIVER_COLUMNS.split(", ")}


def _no_archiver(ctx: CheckContext, name: str, title: str) -> DrCheck:
    return DrCheck(
        name=name,
        title=title,
        status=FAIL,
        headline="WAL archiving not observed",
        finding=f"no pg_stat_archiver snapshot of {ctx.server} at or before {ctx.local(ctx.as_of)}",
        action="Collect a PostgreSQL snapshot (sre collect postgres) so archiving can be judged.",
        evidence={"as_of": ctx.as_of},
    )


def _failures_since(ctx: CheckContext, row: Mapping[str, Any], since: datetime) -> int | None:
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


def check_wal_archiving(ctx: CheckContext) -> DrCheck:
    """archive_mode on and no archive failure since the last success (barman's rule)."""
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
            f"{ctx.local(row['last_failed_time'])} {since_success}; {count_text(row['failed_count'])} failed attempts "
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
            f"{count_text(row['archived_count'])} segments archived since "
            f"{ctx.local(row['stats_reset']) if row['stats_reset'] else 'the server started'}",
            "Force a segment switch (SELECT pg_switch_wal()) and check that archive_command copies it to the "
            "archive; set archive_timeout so a quiet server still archives.",
            evidence,
        )
    last_failed = row["last_failed_time"]
    recent_from = ctx.as_of - ARCHIVE_RECENT_FAILURE_WINDOW
    recovered = ""
    if last_failed is not None and last_failed >= recent_from and not stale_history_failure(row):
        failures = _failures_since(ctx, row, recent_from)
        evidence |= {"failures_in_window": failures}
        count = f"{failures} attempts" if failures is not None else "attempts"
        window = human_duration(ARCHIVE_RECENT_FAILURE_WINDOW)
        if not failed_wal_archived_since(row):
            return DrCheck(
                name,
                title,
                WARN,
                "WAL archiving failed recently",
                f"archiving works again (last success {ctx.local(row['last_archived_time'])}, WAL "
                f"{row['last_archived_wal']}) but {count} failed in the last {window}, the latest at "
                f"{ctx.local(last_failed)} on WAL {row['last_failed_wal']}, which has not been archived since {seen}",
                "Find the cause in the PostgreSQL log around the failure (archive storage, network, credentials) "
                "before it recurs and stays, and check that the WAL that failed reaches the archive.",
                evidence,
            )
        episode = _recovered_failure(ctx, row)
        evidence["recovered_failure"] = episode
        began = (
            f"from {ctx.local(episode['last_success_before'])} (the last success before) "
            if episode["last_success_before"] is not None
            else ""
        )
        recovered = (
            f"; archiving recovered: WAL {row['last_failed_wal']} could not be archived {began}until "
            f"{ctx.local(last_failed)} (the last failed attempt) and was archived by "
            f"{ctx.local(episode['archived_again_by'])}; {count} failed in the last {window} (whether the stall "
            "outlasted the RPO is judged under retention coverage)"
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
    if recovered:
        failures = recovered.removeprefix("; ")
    elif last_failed is not None:
        failures = f"last failure {ctx.local(last_failed)} (WAL {row['last_failed_wal']}), before the last success"
    else:
        failures = "no failure"
    return DrCheck(
        name,
        title,
        PASS,
        "WAL archiving recovered" if recovered else "WAL archiving healthy",
        f"archive_mode {row['archive_mode']}; last success {ctx.local(row['last_archived_time'])} (WAL "
        f"{row['last_archived_wal']}); {failures}; {count_text(row['archived_count'])} WAL segments archived and "
        f"{count_text(row['failed_count'])} attempts failed in all {seen}",
        NO_ACTION,
        evidence,
    )


def check_wal_age(ctx: CheckContext) -> DrCheck:
    """Age of the last archived WAL segment against the archive interval and the RPO."""
    name, title = "wal_age", "Last archived WAL vs RPO"
    row = _latest_archiver(ctx)
    if row is None:
        return _no_archiver(ctx, name, title)
    rpo, warn_age = ctx.rpo, ctx.wal_warn_age
    policy = (
        f"policy: a segment every {human_duration(ctx.wal_interval)} (warn above {human_duration(warn_age)}), "
        f"RPO {hours_text(ctx.config.recovery.rpo_hours)}"
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
        action = NO_ACTION
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
