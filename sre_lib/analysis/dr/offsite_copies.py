"""Off-site copies: the age of the last successful copy of the backups to another site.

==============  ================================================================================================
offsite_copies  last off-site copy: warn > interval + OFFSITE_GRACE (7 d + 1 d), fail > OFFSITE_FAIL_FACTOR x
                interval (14 d).
==============  ================================================================================================
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sre_lib.analysis.dr.check_context import CheckContext
from sre_lib.analysis.dr.check_result import FAIL, NO_ACTION, PASS, WARN, DrCheck
from sre_lib.durations import human_duration

__all__ = ["OFFSITE_FAIL_FACTOR", "OFFSITE_GRACE", "check_offsite_copies"]

OFFSITE_GRACE = timedelta(days=1)  # warn after the weekly interval + 1 day
OFFSITE_FAIL_FACTOR = 2  # fail after two intervals (14 days)


def check_offsite_copies(ctx: CheckContext) -> DrCheck:
    """Age of the last successful off-site copy against the weekly interval."""
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
        NO_ACTION
        if status == PASS
        else "Copy the latest full backup off site now and check the weekly copy job (its log, credentials, the "
        "destination's space); a site loss today would fall back to that old copy."
    )
    headline = "off-site copy current" if status == PASS else f"last off-site copy {human_duration(age)} old"
    return DrCheck(name, title, status, headline, finding, action, evidence)
