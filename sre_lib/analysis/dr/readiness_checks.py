"""The DR checks, by name, in the order a readiness review runs and reports them.

A small named registry (as papermill names its engines): a review runs ``CHECKS.values()`` over one
:class:`~sre_lib.analysis.dr.check_context.CheckContext`; each check's result carries the same name as its key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from sre_lib.analysis.dr.check_context import CheckContext
from sre_lib.analysis.dr.check_result import DrCheck
from sre_lib.analysis.dr.full_backups import check_full_backups
from sre_lib.analysis.dr.offsite_copies import check_offsite_copies
from sre_lib.analysis.dr.pgbackrest_check import check_pgbackrest
from sre_lib.analysis.dr.replicas import check_replicas
from sre_lib.analysis.dr.restore_tests import check_restore_tests
from sre_lib.analysis.dr.retention import check_retention
from sre_lib.analysis.dr.wal_archiving import check_wal_age, check_wal_archiving

__all__ = ["CHECKS", "CHECK_NAMES", "run_checks"]

CHECKS: Mapping[str, Callable[[CheckContext], DrCheck]] = MappingProxyType(
    {
        "wal_archiving": check_wal_archiving,
        "wal_age": check_wal_age,
        "pgbackrest_check": check_pgbackrest,
        "full_backups": check_full_backups,
        "offsite_copies": check_offsite_copies,
        "restore_tests": check_restore_tests,
        "retention": check_retention,
        "replicas": check_replicas,
    }
)

CHECK_NAMES: tuple[str, ...] = tuple(CHECKS)


def run_checks(ctx: CheckContext) -> tuple[DrCheck, ...]:
    """Every DR check over one context, in report order."""
    return tuple(check(ctx) for check in CHECKS.values())
