"""The registry of DR checks: every name once, in report order, each check answering under its own name."""

from __future__ import annotations

from pathlib import Path

from support.dr_platform import build, dr_checks

from sre_lib.analysis.dr import CHECK_NAMES, CHECKS


def test_the_registry_names_the_eight_checks_in_report_order() -> None:
    assert CHECK_NAMES == (
        "wal_archiving", "wal_age", "pgbackrest_check", "full_backups", "offsite_copies", "restore_tests",
        "retention", "replicas",
    )  # fmt: skip
    assert tuple(CHECKS) == CHECK_NAMES


def test_each_check_answers_under_its_registry_name(tmp_path: Path) -> None:
    assert list(dr_checks(build(tmp_path))) == list(CHECK_NAMES)
