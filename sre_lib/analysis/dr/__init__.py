"""Disaster-recovery checks: the platform scored against its backup policy and recovery objectives.

Eight checks, each ``pass`` / ``warn`` / ``fail`` (or ``not configured``) with its evidence (timestamps, ages as
text and as numbers) and what to do, read from the warehouse (``pg_archiver``, ``pg_replication``,
``pg_replication_slots``, ``backups``, ``offsite_copies``, ``restore_tests``, ``pgbackrest_checks``), one module per
concern:

==================  ============================================================================================
check_context       the server and moment judged (default: its latest record, never the wall clock), policy
                    figures (RPO, RTO, archive interval, retention window) and warehouse reads
check_result        DrCheck, the pass / warn / fail (/ not configured) vocabulary, the worst of several statuses
wal_archiving       wal_archiving (archiving works, as barman judges it) and wal_age (last archived WAL vs RPO)
pgbackrest_check    pgbackrest_check: the latest live ``pgbackrest check`` (failed or over a day old: fail)
full_backups        full_backups: age of the last daily full backup, days of the window without one
offsite_copies      offsite_copies: age of the last copy to another site against the weekly interval
restore_tests       restore_tests: age of the last tested restore, and its duration against the RTO
retention           retention: can every point of the retention window be restored? (archive stalls)
replicas            replicas: a standby to fail over to, its lag against the RPO, replication slots
readiness_checks    the named registry of the eight checks, in report order
==================  ============================================================================================

The verdict over all checks, the manager's summary and the policy sentence are what the DR report says:
they live in :mod:`sre_lib.reviews.dr_readiness`.

    >>> from sre_lib.analysis.dr import check_context, run_checks
    >>> checks = run_checks(check_context(con, config))   # con: Warehouse.open_read_only()
"""

from sre_lib.analysis.dr.check_context import CheckContext, check_context, latest_snapshot_time
from sre_lib.analysis.dr.check_result import FAIL, NOT_CONFIGURED, PASS, WARN, DrCheck, Status, worst
from sre_lib.analysis.dr.full_backups import missed_backup_dates
from sre_lib.analysis.dr.readiness_checks import CHECK_NAMES, CHECKS, run_checks
from sre_lib.analysis.dr.retention import ArchiveStall, archive_stalls
from sre_lib.analysis.dr.wal_archiving import archiving_healthy

__all__ = [
    "CHECKS",
    "CHECK_NAMES",
    "FAIL",
    "NOT_CONFIGURED",
    "PASS",
    "WARN",
    "ArchiveStall",
    "CheckContext",
    "DrCheck",
    "Status",
    "archive_stalls",
    "archiving_healthy",
    "check_context",
    "latest_snapshot_time",
    "missed_backup_dates",
    "run_checks",
    "worst",
]
