"""The live ``pgbackrest check``: did WAL reach the archive and did the repository answer, recently?

==================  ============================================================================================
pgbackrest_check    the latest ``pgbackrest check`` recorded by ``sre collect backups``: fail if it failed or is
                    older than PGBACKREST_CHECK_MAX_AGE (a day); "not configured" when none was ever recorded
                    (no pgBackRest on the host, or ``[sources.pgbackrest]`` not set).
==================  ============================================================================================

pg_stat_archiver (the WAL archiving checks) tells what archiving did; this check proves it works now, as
``barman check`` does. When archiving fails both say so, and the archiver checks name the last failed WAL.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sre_lib.analysis.dr.check_context import CheckContext
from sre_lib.analysis.dr.check_result import FAIL, NO_ACTION, NOT_CONFIGURED, PASS, DrCheck
from sre_lib.durations import human_duration

__all__ = ["PGBACKREST_CHECK_MAX_AGE", "check_pgbackrest"]

PGBACKREST_CHECK_MAX_AGE = timedelta(days=1)  # older than this proves nothing about today's archiving

_COLUMNS = "stanza, checked_at, status, duration_seconds, reason"


def check_pgbackrest(ctx: CheckContext) -> DrCheck:
    """The latest recorded ``pgbackrest check`` of the server at or before ``as_of``, and its age."""
    name, title = "pgbackrest_check", "pgbackrest check"
    rows = ctx.rows(
        f"SELECT {_COLUMNS} FROM pgbackrest_checks WHERE server = ? AND checked_at <= ? "
        "ORDER BY checked_at DESC LIMIT 1",
        [ctx.server, ctx.as_of],
    )
    if not rows:
        return DrCheck(
            name,
            title,
            NOT_CONFIGURED,
            "pgbackrest check not configured",
            f"no pgbackrest check of {ctx.server} is recorded up to {ctx.local(ctx.as_of)}",
            "Where pgBackRest backs up this server, add [sources.pgbackrest] (its stanza) to the config and run "
            "sre collect backups (the collect-backups job), so archiving is proven to work now.",
            {"as_of": ctx.as_of},
        )
    last = rows[0]
    age = ctx.as_of - last["checked_at"]
    evidence: dict[str, Any] = dict(last) | {
        "age_seconds": age.total_seconds(),
        "age": human_duration(age),
        "fail_above_seconds": PGBACKREST_CHECK_MAX_AGE.total_seconds(),
    }
    seen = f"stanza {last['stanza']}, checked {ctx.local(last['checked_at'])} ({human_duration(age)} before " + (
        f"{ctx.local(ctx.as_of)})"
    )
    if last["status"] != "ok":
        return DrCheck(
            name,
            title,
            FAIL,
            "pgbackrest check failed",
            f"pgbackrest check failed ({seen}): {last['reason'] or 'no reason given'}",
            "Run pgbackrest check on the database host and fix what it reports (archive_command, the repository's "
            "storage, space or credentials); until it passes, new WAL may not reach the archive.",
            evidence,
        )
    if age > PGBACKREST_CHECK_MAX_AGE:
        return DrCheck(
            name,
            title,
            FAIL,
            f"last pgbackrest check {human_duration(age)} old",
            f"the last pgbackrest check passed, but {human_duration(age)} ago ({seen}): older than "
            f"{human_duration(PGBACKREST_CHECK_MAX_AGE)}, it no longer proves archiving works",
            "Run sre collect backups regularly (the collect-backups job, hourly) and check that it succeeds.",
            evidence,
        )
    failures = ctx.rows(
        "SELECT count(*) AS n FROM pgbackrest_checks WHERE server = ? AND status <> 'ok' AND checked_at > ? "
        "AND checked_at <= ?",
        [ctx.server, ctx.as_of - PGBACKREST_CHECK_MAX_AGE, ctx.as_of],
    )[0]["n"]
    evidence["failed_in_last_day"] = int(failures)
    earlier = f"; {failures} failed check(s) in the day before" if failures else ""
    return DrCheck(
        name,
        title,
        PASS,
        "pgbackrest check passes",
        f"pgbackrest check passed in {last['duration_seconds']:.1f} s ({seen}){earlier}",
        NO_ACTION,
        evidence,
    )
