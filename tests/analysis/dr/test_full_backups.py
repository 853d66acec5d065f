"""Daily full backups: age thresholds, and the missed local days of the window (DST-correct)."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from support.dr_platform import (
    CONFIG,
    SYDNEY,
    build,
    check,
    daily_backups,
    dr_checks,
)

from sre_lib.analysis.dr import check_context, missed_backup_dates
from sre_lib.analysis.dr.full_backups import check_full_backups
from sre_lib.warehouse.store import Warehouse


def test_full_backup_age_passes_then_warns_after_26_h_and_fails_after_50_h(baseline: Warehouse) -> None:
    warehouse = baseline
    latest = datetime(2026, 11, 1, 3, 25, tzinfo=SYDNEY)  # finished 03:25 AEDT
    ok = dr_checks(warehouse)["full_backups"]
    assert ok.status == "pass"
    assert ok.evidence["age"] == "7 h 35 min"
    assert ok.evidence["missed_dates"] == []
    late = dr_checks(warehouse, latest + timedelta(hours=26, seconds=1))["full_backups"]
    assert late.status == "warn"
    assert late.evidence["age_seconds"] == 26 * 3600 + 1
    assert late.evidence["missed_dates"] == [date(2026, 11, 2)]  # due 05:00 on 2 Nov, not taken
    assert dr_checks(warehouse, latest + timedelta(hours=50))["full_backups"].status == "warn"
    very_late = dr_checks(warehouse, latest + timedelta(hours=50, seconds=1))["full_backups"]
    assert very_late.status == "fail"
    assert very_late.headline == "last full backup 50 h old"
    assert very_late.evidence["missed_dates"] == [date(2026, 11, 2), date(2026, 11, 3)]


def test_missed_days_in_the_window_are_listed_with_failed_attempts(tmp_path: Path) -> None:
    backups = daily_backups(
        date(2026, 9, 20), date(2026, 11, 1), skip=[date(2026, 10, 12)], failed=[date(2026, 10, 20)]
    )
    result = check(tmp_path, "full_backups", backups=backups)
    assert result.status == "warn"
    assert result.evidence["missed_dates"] == [date(2026, 10, 12), date(2026, 10, 20)]
    assert result.evidence["failed_attempt_dates"] == [date(2026, 10, 20)]
    assert "2 day(s) of the last 30 without one: 2026-10-12, 2026-10-20 (failed)" in result.finding
    assert result.headline == "full backup missed on 2026-10-12, 2026-10-20"


def test_missed_day_detection_is_dst_correct_across_sydneys_october_change(tmp_path: Path) -> None:
    # Clocks go from 02:00 AEST to 03:00 AEDT on Sunday 2026-10-04: that local day is 23 hours long.
    as_of = datetime(2026, 10, 15, 12, 0, tzinfo=SYDNEY).astimezone(UTC)
    warehouse = build(tmp_path, backups=daily_backups(date(2026, 9, 10), date(2026, 10, 15), skip=[date(2026, 10, 4)]))
    with contextlib.closing(warehouse.open_read_only()) as con:
        assert missed_backup_dates(con, CONFIG, as_of=as_of) == [date(2026, 10, 4)]

    # 00:30 local is 14:30 UTC the day before in AEST and 13:30 in AEDT: neither UTC dates nor a fixed +10
    # offset give the right local day after the change.
    half_past = CONFIG.model_copy(
        update={"backup": CONFIG.backup.model_copy(update={"full_backup_local_time": "00:30"})}
    )
    every_day = daily_backups(date(2026, 9, 10), date(2026, 10, 15), at=time(0, 30))
    warehouse = build(tmp_path / "b", backups=every_day)
    with contextlib.closing(warehouse.open_read_only()) as con:
        assert missed_backup_dates(con, half_past, as_of=as_of) == []
        assert check_full_backups(check_context(con, half_past, as_of=as_of)).status == "pass"
    one_missing = daily_backups(date(2026, 9, 10), date(2026, 10, 15), at=time(0, 30), skip=[date(2026, 10, 5)])
    warehouse = build(tmp_path / "c", backups=one_missing)
    with contextlib.closing(warehouse.open_read_only()) as con:
        assert missed_backup_dates(con, half_past, as_of=as_of) == [date(2026, 10, 5)]


def test_days_before_the_first_recorded_backup_are_not_counted_as_missed(tmp_path: Path) -> None:
    result = check(tmp_path, "full_backups", backups=daily_backups(date(2026, 10, 25), date(2026, 11, 1)))
    assert result.status == "pass"
    assert result.evidence["missed_dates"] == []


def test_no_successful_full_backup_fails(tmp_path: Path) -> None:
    failed_only = daily_backups(
        date(2026, 10, 25), date(2026, 11, 1), failed=[date(2026, 10, 25) + timedelta(d) for d in range(8)]
    )
    result = check(tmp_path, "full_backups", backups=failed_only)
    assert result.status == "fail"
    assert result.headline == "no successful full backup"
