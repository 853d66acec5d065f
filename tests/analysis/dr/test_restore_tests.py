"""Restore tests: age against the monthly interval, duration against the RTO, a failed attempt."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from support.dr_platform import (
    check,
    restores,
)

from sre_lib.durations import human_duration


@pytest.mark.parametrize(
    ("age", "duration", "status", "headline"),
    [
        (timedelta(days=10), timedelta(hours=2), "pass", "restore tested within the month and the RTO"),
        (timedelta(days=33), timedelta(hours=2), "warn", "restore test overdue (33 d old)"),
        (timedelta(days=61), timedelta(hours=2), "fail", "restore test overdue (61 d old)"),
        (timedelta(days=10), timedelta(hours=3), "pass", "restore tested within the month and the RTO"),
        (timedelta(days=10), timedelta(hours=3, minutes=30), "warn", "restore took 3 h 30 min (88% of the RTO)"),
        (timedelta(days=10), timedelta(hours=4, minutes=30), "fail", "restore took 4 h 30 min (112% of the RTO)"),
    ],
)
def test_restore_test_age_and_duration_against_monthly_and_the_rto(
    tmp_path: Path, age: timedelta, duration: timedelta, status: str, headline: str
) -> None:
    result = check(
        tmp_path, "restore_tests", restore_tests=restores((timedelta(days=70), timedelta(hours=1)), (age, duration))
    )
    assert result.status == status
    assert result.headline == headline
    assert result.evidence["age_seconds"] == age.total_seconds()
    assert result.evidence["duration_seconds"] == duration.total_seconds()
    assert result.evidence["fraction_of_rto"] == pytest.approx(duration / timedelta(hours=4))
    assert f"it took {human_duration(duration)}, {duration / timedelta(hours=4):.0%} of the 4 h RTO" in result.finding


def test_rising_restore_durations_are_shown(tmp_path: Path) -> None:
    tests = restores(
        (timedelta(days=70), timedelta(hours=1, minutes=50)),
        (timedelta(days=40), timedelta(hours=2, minutes=20)),
        (timedelta(days=10), timedelta(hours=2, minutes=50)),
    )
    result = check(tmp_path, "restore_tests", restore_tests=tests)
    assert "durations of the last tests: 1 h 50 min, 2 h 20 min, 2 h 50 min (rising)" in result.finding


def test_a_failed_latest_restore_test_fails_and_none_at_all_fails(tmp_path: Path) -> None:
    tests = restores((timedelta(days=10), timedelta(hours=2)), (timedelta(days=2), timedelta(minutes=40), "failed"))
    result = check(tmp_path, "restore_tests", restore_tests=tests)
    assert result.status == "fail"
    assert result.evidence["latest_attempt_failed"] is True
    assert "failed (restore failed: missing WAL)" in result.finding
    assert result.evidence["age"] == "10 d"  # age and duration are those of the last successful test
    none = check(tmp_path / "n", "restore_tests", restore_tests=None)
    assert none.status == "fail"
    assert none.headline == "restores never tested"
