"""Retention coverage: an old enough backup and continuous WAL; archive stalls found in history."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from support.dr_platform import (
    SYDNEY,
    T0,
    archiver_history,
    build,
    check,
    daily_backups,
    dr_checks,
    young,
)

from sre_lib.analysis.dr import archive_stalls
from sre_lib.warehouse.store import Warehouse


def test_retention_passes_with_a_backup_older_than_the_window_and_no_stall(baseline: Warehouse) -> None:
    result = dr_checks(baseline)["retention"]
    assert result.status == "pass"
    assert result.evidence["oldest_backup_id"] == "20260920-030000F"
    oldest_finished = datetime(2026, 9, 20, 3, 25, tzinfo=SYDNEY)
    assert result.evidence["coverage_seconds"] == (T0 - oldest_finished).total_seconds()
    assert result.evidence["archive_gaps"] == []


def test_retention_fails_when_backups_reach_back_less_than_the_window(tmp_path: Path) -> None:
    result = check(tmp_path, "retention", backups=daily_backups(date(2026, 10, 22), date(2026, 11, 1)))
    assert result.status == "fail"
    assert result.evidence["coverage"] == "10 d 8 h"  # 22 Oct 03:25 AEDT to 1 Nov 11:00 AEDT
    assert result.headline == "restores reach back only 10 d 8 h of 30 days"
    assert "repo1-retention-full=30" in result.action


@pytest.mark.parametrize(("age", "first_backup_after"), [(timedelta(seconds=36), timedelta(seconds=2)),
                                                          (timedelta(days=3), timedelta(minutes=1))])  # fmt: skip
def test_a_young_platform_keeping_every_backup_passes_every_check(
    tmp_path: Path, age: timedelta, first_backup_after: timedelta
) -> None:
    checks = dr_checks(build(tmp_path, **young(age, first_backup_after)))
    assert {name: c.status for name, c in checks.items() if c.status != "pass"} == {}
    result = checks["retention"]
    began = T0 - age
    assert result.evidence["young"] is True and result.evidence["history_began"] == began
    assert result.evidence["coverage_seconds"] < timedelta(days=30).total_seconds()
    judged_from = (began + timedelta(days=30)).astimezone(SYDNEY).date().isoformat()
    assert f"history began {began.astimezone(SYDNEY):%Y-%m-%d %H:%M %Z}" in result.finding
    assert f"every backup since is kept; 30 days judged from {judged_from}" in result.finding
    assert result.action == "No action needed: meets the policy."


def test_a_young_platform_whose_first_backup_came_days_late_fails(tmp_path: Path) -> None:
    result = check(tmp_path, "retention", **young(timedelta(days=10), first_backup_after=timedelta(days=3)))
    assert result.status == "fail"
    assert result.headline == "no backup for the first 3 d of the history"
    assert "the time before it cannot be restored" in result.finding


def test_an_old_server_newly_collected_is_judged_on_the_whole_window(tmp_path: Path) -> None:
    # collected for 2 days with backups since, but pg_stat_archiver has been counting for 60 days
    changes = young(timedelta(days=2))
    changes["pg_archiver"] = archiver_history(T0 - timedelta(days=2), T0, lived_before=timedelta(days=60))
    result = check(tmp_path, "retention", **changes)
    assert result.status == "fail" and result.evidence["young"] is False
    assert result.evidence["history_began"] == T0 - timedelta(days=62)
    assert "the policy asks for 30 days" in result.finding and "repo1-retention-full=30" in result.action


def test_retention_a_day_short_warns(tmp_path: Path) -> None:
    # pgBackRest count-based retention of 30 daily fulls: the oldest is 29 days and some hours old
    result = check(tmp_path, "retention", backups=daily_backups(date(2026, 10, 3), date(2026, 11, 1)))
    assert result.status == "warn"
    assert result.evidence["coverage"] == "29 d 7 h"  # 3 Oct 03:25 AEST to 1 Nov 11:00 AEDT


def test_an_archive_stall_longer_than_the_rpo_in_the_window_warns_with_the_proven_span(tmp_path: Path) -> None:
    stall_start = datetime(2026, 10, 10, 14, 0, tzinfo=SYDNEY).astimezone(UTC)
    history = archiver_history(
        T0 - timedelta(days=40),
        T0,
        every=timedelta(minutes=15),
        failures=[(stall_start, stall_start + timedelta(hours=2))],
    )
    result = check(tmp_path, "retention", pg_archiver=history)
    assert result.status == "warn"
    (gap,) = result.evidence["archive_gaps"]
    assert gap["last_success"] == stall_start - timedelta(minutes=5) + timedelta(seconds=2)
    assert gap["last_failure"] == stall_start + timedelta(hours=1, minutes=59, seconds=30)
    assert gap["duration_seconds"] == 2 * 3600 + 4 * 60 + 28  # 02:55:02 to 04:59:30 UTC
    proven_from = datetime(2026, 10, 11, 3, 25, tzinfo=SYDNEY)  # the next full backup's end
    assert result.evidence["proven_coverage_seconds"] == (T0 - proven_from).total_seconds()
    assert result.headline == "WAL archive stalled 2 h 04 min on 2026-10-10"
    assert "stalled for at least 2 h 04 min (longer than the 1 h RPO)" in result.finding
    # only the points between the last success and the next full backup are in doubt, not the whole past
    assert (
        "so points from 2026-10-10 13:55 AEDT to 2026-10-11 03:25 AEDT (the first full backup after it) may not "
        "be restorable; earlier points restore from earlier backups" in result.finding
    )
    assert "pgbackrest verify" in result.action and "points between the last success before the stall" in result.action
    # the same stall, shorter than the RPO: pass
    short = archiver_history(
        T0 - timedelta(days=40),
        T0,
        every=timedelta(minutes=15),
        failures=[(stall_start, stall_start + timedelta(minutes=40))],
    )
    assert check(tmp_path / "s", "retention", pg_archiver=short).status == "pass"


def test_archive_stalls_are_found_from_failing_snapshots() -> None:
    a = T0 - timedelta(hours=6)
    history = archiver_history(
        T0 - timedelta(days=1), T0, every=timedelta(minutes=15), failures=[(a, a + timedelta(hours=3))]
    )
    rows = history.to_dict("records")
    (stall,) = archive_stalls(rows)
    assert stall.last_success == a - timedelta(minutes=5) + timedelta(seconds=2)
    assert stall.last_failure == a + timedelta(hours=2, minutes=59, seconds=30)
    assert stall.duration == timedelta(hours=3, minutes=4, seconds=28)
    assert stall.resumed_at == a + timedelta(hours=3, minutes=10, seconds=2)  # seen at the 21:15 snapshot
