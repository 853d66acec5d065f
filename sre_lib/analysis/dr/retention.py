"""Retention coverage: can we restore to any point of the last retention_days (30)?

It needs a successful full backup at least that old, and WAL continuous since: an archiving stall longer than
the RPO inside the window warns (PostgreSQL keeps unarchived WAL, so it is normally a breach of the RPO rather
than a hole, but the statistics cannot prove the backlog reached the archive); coverage short by up to
RETENTION_SHORTFALL_TOLERANCE (1 d) warns, more fails. Stalls are found in the pg_archiver history by
:func:`archive_stalls`.

A platform younger than the window cannot have a backup that old: when its history (:func:`history_start`: the
first snapshot, the first backup, or the archiver's own record of WAL archived or statistics kept before) began
inside the window, keeping every backup since is what the policy asks, and it passes when the oldest backup
came within RETENTION_SHORTFALL_TOLERANCE of that start (the first daily backup); the full window is judged
once the history is that old.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sre_lib.analysis.dr.check_context import CheckContext, plain_value
from sre_lib.analysis.dr.check_result import FAIL, NO_ACTION, PASS, WARN, DrCheck, Status, hours_text
from sre_lib.analysis.dr.full_backups import ok_full_backups
from sre_lib.analysis.dr.wal_archiving import ARCHIVER_COLUMNS, stale_history_failure
from sre_lib.durations import human_duration

__all__ = ["RETENTION_SHORTFALL_TOLERANCE", "ArchiveStall", "archive_stalls", "check_retention", "history_start"]

RETENTION_SHORTFALL_TOLERANCE = timedelta(days=1)  # coverage short of the window by up to a day warns, more fails


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
    if failed_at is None or stale_history_failure(row):
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
    clean = [{key: plain_value(value) for key, value in row.items()} for row in rows]  # DataFrame records welcome
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


def history_start(ctx: CheckContext) -> tuple[datetime, str] | None:
    """When the server's recorded history began, as of ``ctx.as_of``, and what records it: the earliest of its
    first snapshot, its first backup (any status), restore test or off-site copy, and what pg_stat_archiver says
    of the time before the first snapshot (a WAL archived, statistics kept since). None when nothing is
    recorded."""
    found = ctx.rows(
        """
        SELECT min(t) AS t, what FROM (
            SELECT taken_at AS t, 'first snapshot' AS what FROM pg_snapshots WHERE server = $1 AND taken_at <= $2
            UNION ALL SELECT taken_at, 'first snapshot' FROM pg_archiver WHERE server = $1 AND taken_at <= $2
            UNION ALL SELECT taken_at, 'first snapshot' FROM pg_replication WHERE server = $1 AND taken_at <= $2
            UNION ALL SELECT started_at, 'first backup' FROM backups WHERE server = $1 AND started_at <= $2
            UNION ALL SELECT last_archived_time, 'the WAL pg_stat_archiver last archived' FROM pg_archiver
                WHERE server = $1 AND taken_at <= $2
            UNION ALL SELECT stats_reset, 'pg_stat_archiver stats_reset' FROM pg_archiver
                WHERE server = $1 AND taken_at <= $2
            UNION ALL SELECT started_at, 'first restore test' FROM restore_tests WHERE server = $1 AND started_at <= $2
            UNION ALL SELECT copied_at, 'first off-site copy' FROM offsite_copies WHERE server = $1 AND copied_at <= $2
        ) WHERE t IS NOT NULL GROUP BY what ORDER BY t, what LIMIT 1
        """,
        [ctx.server, ctx.as_of],
    )
    return (found[0]["t"], found[0]["what"]) if found else None


def check_retention(ctx: CheckContext) -> DrCheck:
    """Whether every point of the retention window can be restored: an old enough backup and WAL since."""
    name, title = "retention", "Retention coverage"
    days = ctx.config.backup.retention_days
    window = timedelta(days=days)
    evidence: dict[str, Any] = {"retention_days": days, "window_start": ctx.window_start}
    backups = ok_full_backups(ctx)
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
        f"SELECT {ARCHIVER_COLUMNS} FROM pg_archiver WHERE server = ? AND taken_at BETWEEN ? AND ? ORDER BY taken_at",
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
    began = history_start(ctx)
    young = began is not None and began[0] > ctx.window_start
    evidence |= {"history_began": began[0] if began else None, "history_began_with": began[1] if began else None}
    if began is not None and young:  # the whole history is inside the window: it needs every backup since
        lived = ctx.as_of - began[0]
        first_backup_after = oldest["finished_at"] - began[0]
        evidence |= {"young": True, "full_window_judged_from": began[0] + window}
        status: Status = FAIL if first_backup_after > RETENTION_SHORTFALL_TOLERANCE else WARN if gaps else PASS
        finding = (
            f"history began {ctx.local(began[0])} ({began[1]}), {human_duration(lived)} before "
            f"{ctx.local(ctx.as_of)}, inside the {days}-day retention; oldest successful full backup "
            f"{oldest['backup_id']} finished at {ctx.local(oldest['finished_at'])}: restores can reach back "
            f"{human_duration(nominal)}"
        )
        if status == FAIL:
            finding += (
                f", but the first backup finished {human_duration(first_backup_after)} after the history began "
                f"(a daily backup allows {human_duration(RETENTION_SHORTFALL_TOLERANCE)}): the time before it cannot "
                "be restored"
            )
        else:
            finding += "; every backup since is kept"
        finding += f"; {days} days judged from {(began[0] + window).astimezone(ctx.tz).date().isoformat()}"
    else:
        evidence["young"] = False
        if nominal >= window:
            status = WARN if proven < window else PASS
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
            f"{hours_text(ctx.config.recovery.rpo_hours)} RPO), from the last success at "
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
    if young and status == FAIL:
        actions.append(
            "Take the daily full backup from the platform's first day; until the history is "
            f"{days} days old, the time before the first backup stays unrestorable."
        )
    elif nominal < window and not young:
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
    if began is not None and young and status != WARN:
        headline = (
            f"no backup for the first {human_duration(first_backup_after)} of the history"
            if status == FAIL
            else f"every backup since the history began {began[0].astimezone(ctx.tz).date().isoformat()} kept"
        )
    elif status == FAIL:
        headline = f"restores reach back only {human_duration(nominal)} of {days} days"
    elif nominal < window and not young:
        headline = f"restores reach back {human_duration(nominal)}, short of {days} days"
    elif status == WARN:
        latest = gaps[-1]
        length = human_duration(latest.duration) if latest.duration is not None else "long"
        headline = f"WAL archive stalled {length} on {latest.last_failure.astimezone(ctx.tz).date().isoformat()}"
    else:
        headline = f"any point of the last {days} days restorable"
    return DrCheck(name, title, status, headline, finding, " ".join(actions) or NO_ACTION, evidence)
