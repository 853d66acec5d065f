"""The DR readiness review: the verdict is the worst check, the summary names each finding once, the score and
the policy sentence; the demo platform shows each finding."""

from __future__ import annotations

import contextlib
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from support.dr_platform import CONFIG, SYDNEY, T0, build, offsite

from sre_lib.analysis.dr import CHECK_NAMES
from sre_lib.config import PlatformConfig
from sre_lib.reviews.dr_readiness import DrReport, dr_readiness, policy_statement
from sre_lib.warehouse.store import Warehouse


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """The healthy platform, built once."""
    return build(tmp_path_factory.mktemp("baseline"))


def readiness(warehouse: Warehouse, as_of: datetime | None = T0, config: PlatformConfig = CONFIG) -> DrReport:
    with contextlib.closing(warehouse.open_read_only()) as con:
        return dr_readiness(con, config, as_of=as_of)


def test_a_platform_meeting_the_policy_passes_every_check(baseline: Warehouse) -> None:
    report = readiness(baseline, as_of=None)
    assert [c.name for c in report.checks] == list(CHECK_NAMES)
    assert {c.name: c.status for c in report.checks} == dict.fromkeys(CHECK_NAMES, "pass")
    assert report.verdict == "pass"
    assert report.as_of == T0  # the latest snapshot, not the wall clock
    assert report.summary == (
        "Disaster recovery for postgresql is ready as of 2026-11-01 11:00 AEDT: WAL archiving, backups, off-site "
        "copies, restore tests and retention all meet the policy."
    )
    table = report.to_frame()
    assert list(table.columns) == ["check", "title", "status", "finding", "action", "evidence"]
    assert list(table["check"]) == list(CHECK_NAMES)
    assert "[PASS] WAL archiving" in repr(report) and repr(report).startswith("DrReport(postgresql as of")


def test_the_verdict_is_the_worst_check_and_the_summary_names_the_findings(tmp_path: Path) -> None:
    report = readiness(build(tmp_path, pg_replication=None, offsite_copies=offsite(timedelta(days=15))))
    assert report["replicas"].status == "warn"
    assert report["offsite_copies"].status == "fail"
    assert report.verdict == "fail"
    assert report.summary == (
        "Disaster recovery for postgresql is at risk as of 2026-11-01 11:00 AEDT: last off-site copy 15 d old "
        "(also needing attention: no replica for failover)."
    )
    only_warn = readiness(build(tmp_path / "w", pg_replication=None))
    assert only_warn.verdict == "warn"
    assert only_warn.summary.startswith("Disaster recovery for postgresql works but needs attention as of")


def test_a_finding_shared_by_two_checks_is_said_once_in_the_summary(tmp_path: Path) -> None:
    report = readiness(build(tmp_path, pg_archiver=None))
    failing = [c.name for c in report.checks if c.headline == "WAL archiving not observed"]
    assert len(failing) == 2  # WAL archiving and the age of the last archived WAL: both need pg_stat_archiver
    assert report.summary.count("WAL archiving not observed") == 1


def test_the_demo_shows_each_finding(demo_warehouse: Path) -> None:
    from sre_lib.demo.backup_history import MISSED_BACKUP_DAY, RESTORE_TEST_DAYS_BEFORE_END
    from sre_lib.demo.postgres_history import ARCHIVE_FAILURE_DAY
    from sre_lib.demo.spec import DemoSpec

    spec = DemoSpec()
    report = readiness(Warehouse(demo_warehouse), as_of=None)
    assert report.as_of == spec.end
    assert report.verdict == "warn"
    assert report["wal_archiving"].status == "pass"
    assert report["wal_age"].status == "pass"
    missed = spec.at_day(MISSED_BACKUP_DAY).astimezone(SYDNEY).date()
    assert missed == date(2026, 10, 25)
    assert report["full_backups"].status == "warn"
    assert report["full_backups"].evidence["missed_dates"] == [missed]
    restore = report["restore_tests"]
    assert restore.status == "warn"
    days_old = RESTORE_TEST_DAYS_BEFORE_END[-1]
    assert (days_old - 1) * 86_400 < restore.evidence["age_seconds"] < (days_old + 1) * 86_400
    assert "restore test overdue" in restore.headline
    assert report["replicas"].status == "warn"
    assert "recovery relies on backups" in report["replicas"].finding
    assert report["offsite_copies"].status == "pass"
    # the 2-hour archive failure of day 60 falls in the 30-day window: a stall beyond the RPO
    (gap,) = report["retention"].evidence["archive_gaps"]
    assert gap["last_failure"].date() == spec.at_day(ARCHIVE_FAILURE_DAY).date()
    assert gap["duration_seconds"] > 3600
    for headline in ("full backup missed on 2026-10-25", "restore test overdue", "no replica for failover"):
        assert headline in report.summary
    # wal_archiving, wal_age, offsite_copies and the hourly live pgbackrest check pass
    assert report["pgbackrest_check"].status == "pass"
    assert report.score == "4 of 8 checks pass, 4 warn, 0 fail"
    # as of the middle of that failure, archiving fails
    during = readiness(Warehouse(demo_warehouse), as_of=spec.at_day(ARCHIVE_FAILURE_DAY) + timedelta(hours=1))
    assert during["wal_archiving"].status == "fail"
    assert during["pgbackrest_check"].status == "fail" and "was not archived" in during["pgbackrest_check"].finding
    assert during["wal_age"].status == "fail"


def test_policy_statement_reads_the_config() -> None:
    from sre_lib.config import DEFAULT_CONFIG_PATH, load_config

    text = policy_statement(load_config(DEFAULT_CONFIG_PATH))
    assert text.startswith("RTO target: under 4 h; RPO target: under 1 h; WAL archived every 5 min;")
    assert "full backup daily at 03:00 Australia/Sydney" in text and "retention 30 days" in text
