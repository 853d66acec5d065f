"""The DR readiness review: every DR check of one server as of one time, the verdict and what the report says.

The verdict is the worst check; the summary is one sentence for managers naming each failing and warning
headline once; the score counts the checks by status; the policy statement opens the report. The checks
themselves are analyses, in :mod:`sre_lib.analysis.dr`.

    >>> from sre_lib.reviews.dr_readiness import dr_readiness
    >>> report = dr_readiness(con, config)          # con: Warehouse.open_read_only()
    >>> report.verdict, report.summary
    >>> report.to_frame()
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd

from sre_lib.analysis.dr import FAIL, PASS, WARN, DrCheck, Status, check_context, run_checks, worst
from sre_lib.analysis.dr.check_result import local_time
from sre_lib.config import PlatformConfig

__all__ = ["DrReport", "dr_readiness", "policy_statement"]


@dataclass(frozen=True, repr=False)
class DrReport:
    """All checks for one server as of one time, with the overall verdict and a sentence for managers."""

    server: str
    as_of: datetime
    timezone: str
    checks: tuple[DrCheck, ...]

    @property
    def verdict(self) -> Status:
        """The worst status of the checks."""
        return worst(c.status for c in self.checks)

    @property
    def summary(self) -> str:
        """One sentence for managers: ready, needs attention or at risk, and why."""
        when = local_time(self.as_of, ZoneInfo(self.timezone))
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
        """'3 of 7 checks pass, 4 warn, 0 fail, 1 not configured': the readiness score in one line; a check with
        nothing to judge is counted apart, not as passing."""
        counts = {status: sum(c.status == status for c in self.checks) for status in (PASS, WARN, FAIL)}
        judged = sum(counts.values())
        score = f"{counts[PASS]} of {judged} checks pass, {counts[WARN]} warn, {counts[FAIL]} fail"
        unjudged = len(self.checks) - judged
        return score + (f", {unjudged} not configured" if unjudged else "")

    def check(self, name: str) -> DrCheck:
        """The check called ``name`` (also ``report[name]``); KeyError names the checks there are."""
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
        when = local_time(self.as_of, ZoneInfo(self.timezone))
        lines = [f"DrReport({self.server} as of {when}): {self.verdict.upper()}", f"  {self.summary}"]
        lines += [f"  {check!r}" for check in self.checks]
        return "\n".join(lines)


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
    ctx = check_context(con, config, as_of, server)
    return DrReport(
        server=ctx.server,
        as_of=ctx.as_of,
        timezone=config.platform.timezone,
        checks=run_checks(ctx),
    )


def policy_statement(config: PlatformConfig) -> str:
    """The backup and recovery policy in one sentence, as the DR report states it before the checks."""
    backup, recovery = config.backup, config.recovery
    return (
        f"RTO target: under {recovery.rto_hours:g} h; RPO target: under {recovery.rpo_hours:g} h; WAL archived every "
        f"{backup.wal_archive_interval_minutes} min; full backup daily at {backup.full_backup_local_time} "
        f"{config.platform.timezone}; off-site copy every {backup.offsite_copy_interval_days} days; tested restore "
        f"every {backup.restore_test_interval_days} days; retention {backup.retention_days} days."
    )
