"""Restore tests: how long ago a restore was last proven, and how long it took against the RTO.

=============  =================================================================================================
restore_tests  last successful tested restore: warn > interval (30 d), fail > RESTORE_TEST_FAIL_FACTOR x interval
               (60 d); its measured duration (finished_at - started_at): warn above RESTORE_DURATION_WARN_FRACTION
               (75 %) of the RTO, fail above the RTO; a failed latest attempt fails.
=============  =================================================================================================
"""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from typing import Any

from sre_lib.analysis.dr.check_context import CheckContext
from sre_lib.analysis.dr.check_result import FAIL, NO_ACTION, PASS, WARN, DrCheck, hours_text, worst
from sre_lib.durations import human_duration

__all__ = ["RESTORE_DURATION_WARN_FRACTION", "RESTORE_HISTORY", "RESTORE_TEST_FAIL_FACTOR", "check_restore_tests"]

RESTORE_TEST_FAIL_FACTOR = 2  # warn after one interval (30 days), fail after two (60 days)
RESTORE_DURATION_WARN_FRACTION = 0.75  # a tested restore taking over 75 % of the RTO leaves too little margin

RESTORE_HISTORY = 5  # restore-test durations shown as the trend


def check_restore_tests(ctx: CheckContext) -> DrCheck:
    """Age of the last successful restore test against the monthly interval, and its duration against the RTO."""
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
    status = worst([age_status, duration_status, attempt_status])
    finding = (
        f"last successful restore test (backup {last['backup_id'] or 'unknown'}) finished at "
        f"{ctx.local(last['finished_at'])}, {human_duration(age)} before {ctx.local(ctx.as_of)} (monthly: warn above "
        f"{human_duration(interval)}, fail above {human_duration(fail_age)}); it took {human_duration(duration)}, "
        f"{duration / rto:.0%} of the {hours_text(ctx.config.recovery.rto_hours)} RTO (warn above "
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
            f"Restore takes {human_duration(duration)} against a {hours_text(ctx.config.recovery.rto_hours)} RTO: "
            "speed it up (parallel restore, delta restore, a standby ready to promote, a bigger restore "
            "server) or agree a longer RTO."
        )
        headlines.append(f"restore took {human_duration(duration)} ({duration / rto:.0%} of the RTO)")
    headline = "; ".join(headlines) or "restore tested within the month and the RTO"
    return DrCheck(name, title, status, headline, finding, " ".join(actions) or NO_ACTION, evidence)
