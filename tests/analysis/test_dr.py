"""DR readiness: each check on hand-built warehouses (pass, warn, fail, with exact ages), against a real
PostgreSQL 15 archiving into a local folder (then failing to), and on the demo data."""

from __future__ import annotations

import bisect
import contextlib
import functools
import os
import pwd
import shutil
import tempfile
import time as clock
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from support.paths import FIXTURES

from sre_lib.analysis.dr import (
    CHECK_NAMES,
    DrReport,
    archive_stalls,
    check_full_backups,
    dr_readiness,
    missed_backup_dates,
)
from sre_lib.collect.backup_records import load_backup_records
from sre_lib.config import DEFAULT_CONFIG_PATH, PlatformConfig, load_config
from sre_lib.durations import human_duration
from sre_lib.errors import DataError
from sre_lib.warehouse.store import Warehouse

CONFIG = load_config(DEFAULT_CONFIG_PATH)
SERVER = CONFIG.sources.postgres.server
SYDNEY = ZoneInfo("Australia/Sydney")
T0 = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)  # 11:00 AEDT: "now" of the hand-built platforms
WAL_EVERY = timedelta(minutes=5)


# ---------------------------------------------------------------------------------------------- builders


def wal_name(segment: int) -> str:
    return f"00000001{segment >> 8:08X}{segment & 0xFF:08X}"


def archiver_history(
    start: datetime,
    end: datetime,
    every: timedelta = timedelta(hours=1),
    failures: Sequence[tuple[datetime, datetime]] = (),
    archive_mode: str = "on",
) -> pd.DataFrame:
    """pg_stat_archiver as a collector would have seen it: a segment archived every 5 min (2 s after it fills);
    during a failure every attempt fails, once a minute, until the backlog is archived at its end."""
    origin = start - timedelta(days=1)
    successes: list[tuple[datetime, int]] = []
    skipped: list[list[int]] = [[] for _ in failures]
    segment, t = 0x3E000, origin + timedelta(seconds=2)
    while t <= end:
        during = [i for i, (a, b) in enumerate(failures) if a <= t < b]
        if during:
            skipped[during[0]].append(segment)
        else:
            successes.append((t, segment))
        segment, t = segment + 1, t + WAL_EVERY
    attempts: list[tuple[datetime, int]] = []
    for (a, b), backlog in zip(failures, skipped, strict=True):
        if b <= end:  # the backlog goes out as soon as the command works again
            successes.append((b + timedelta(seconds=1), backlog[-1]))
        t = a + timedelta(seconds=30)
        while t < b:
            attempts.append((t, backlog[0]))
            t += timedelta(minutes=1)
    successes.sort()
    attempts.sort()
    times = pd.date_range(start, end, freq=every).to_pydatetime()
    rows = []
    for taken in times:
        ok = bisect.bisect_right(successes, (taken, 1 << 62))
        bad = bisect.bisect_right(attempts, (taken, 1 << 62))
        last_ok = successes[ok - 1] if ok else None
        last_bad = attempts[bad - 1] if bad else None
        rows.append(
            {
                "server": SERVER,
                "taken_at": taken,
                "archive_mode": archive_mode,
                "archived_count": ok,
                "last_archived_wal": wal_name(last_ok[1]) if last_ok else None,
                "last_archived_time": last_ok[0] if last_ok else None,
                "failed_count": bad,
                "last_failed_wal": wal_name(last_bad[1]) if last_bad else None,
                "last_failed_time": last_bad[0] if last_bad else None,
                "stats_reset": origin,
            }
        )
    return frame(rows)


def frame(rows: list[dict]) -> pd.DataFrame:
    result = pd.DataFrame(rows)
    for column in result.columns:
        if column.endswith(("_at", "_time", "_reset")):
            result[column] = pd.to_datetime(result[column], utc=True).astype("datetime64[us, UTC]")
    return result


def daily_backups(
    first: date,
    last: date,
    skip: Sequence[date] = (),
    failed: Sequence[date] = (),
    at: time = time(3, 0),
    duration: timedelta = timedelta(minutes=25),
    tz: ZoneInfo = SYDNEY,
) -> pd.DataFrame:
    rows = []
    day = first
    while day <= last:
        if day not in skip:
            started = datetime.combine(day, at, tzinfo=tz).astimezone(UTC)
            rows.append(
                {
                    "server": SERVER,
                    "backup_id": f"{day:%Y%m%d}-{at:%H%M}00F",
                    "kind": "full",
                    "started_at": started,
                    "finished_at": started + duration,
                    "status": "failed" if day in failed else "ok",
                    "size_bytes": 1_500_000_000,
                    "wal_start": None,
                    "wal_stop": None,
                    "origin": "test",
                }
            )
        day += timedelta(days=1)
    return frame(rows)


def offsite(*ages: timedelta, status: str = "ok") -> pd.DataFrame:
    return frame(
        [
            {"server": SERVER, "backup_id": "b", "copied_at": T0 - age, "destination": "s3://dr", "status": status,
             "origin": "test"}
            for age in ages
        ]
    )  # fmt: skip


def restores(*tests: tuple[timedelta, timedelta] | tuple[timedelta, timedelta, str]) -> pd.DataFrame:
    """(age of the finish, duration[, status]) per test."""
    rows = []
    for test in tests:
        age, duration = test[0], test[1]
        status = test[2] if len(test) > 2 else "ok"
        rows.append(
            {"server": SERVER, "backup_id": "b", "started_at": T0 - age - duration, "finished_at": T0 - age,
             "status": status, "notes": "checked" if status == "ok" else "restore failed: missing WAL",
             "origin": "test"}
        )  # fmt: skip
    return frame(rows)


def replica(lag_seconds: float | None = 2.0, state: str = "streaming", lag_bytes: int = 4096) -> pd.DataFrame:
    return frame(
        [
            {"server": SERVER, "taken_at": T0, "application_name": "standby-1", "client_addr": "10.0.0.7",
             "state": state, "sync_state": "async", "sent_lsn": "407/FE000000", "replay_lsn": "407/FDFFF000",
             "replay_lag_bytes": lag_bytes, "write_lag_seconds": lag_seconds, "flush_lag_seconds": lag_seconds,
             "replay_lag_seconds": lag_seconds}
        ]
    )  # fmt: skip


def healthy() -> dict[str, pd.DataFrame | None]:
    """A platform meeting the whole policy as of T0: every check passes (fresh copies of built-once frames)."""
    return {table: rows.copy() for table, rows in _healthy().items()}


@functools.cache
def _healthy() -> dict[str, pd.DataFrame]:
    snapshot = {"server": SERVER, "taken_at": T0, "server_version_num": 150018, "max_connections": 100}
    return {
        "pg_snapshots": frame([snapshot]),
        "pg_archiver": archiver_history(T0 - timedelta(days=40), T0),
        "backups": daily_backups(date(2026, 9, 20), date(2026, 11, 1)),
        "offsite_copies": offsite(timedelta(days=10), timedelta(days=3)),
        "restore_tests": restores(
            (timedelta(days=38), timedelta(hours=1, minutes=50)), (timedelta(days=10), timedelta(hours=2))
        ),
        "pg_replication": replica(),
    }


def build(tmp_path: Path, **changes: pd.DataFrame | None) -> Warehouse:
    warehouse = Warehouse(tmp_path / "dr.duckdb")
    tables = healthy() | changes
    with warehouse.write_run("test") as run:
        for table, rows in tables.items():
            if rows is not None:
                run.replace_rows(table, rows)
    return warehouse


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """The healthy platform, built once: tests that only move ``as_of`` read it."""
    return build(tmp_path_factory.mktemp("baseline"))


def readiness(warehouse: Warehouse, as_of: datetime | None = T0, config: PlatformConfig = CONFIG) -> DrReport:
    with contextlib.closing(warehouse.open_read_only()) as con:
        return dr_readiness(con, config, as_of=as_of)


def check(tmp_path: Path, name: str, as_of: datetime | None = T0, **changes: pd.DataFrame | None):
    return readiness(build(tmp_path, **changes), as_of)[name]


# ---------------------------------------------------------------------------------------------- the report


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


def test_an_empty_warehouse_is_a_data_error_not_a_report(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "empty.duckdb")
    warehouse.ensure_created()
    with pytest.raises(DataError, match="no PostgreSQL snapshot and no backup record for server 'postgresql'"):
        readiness(warehouse, as_of=None)


def test_an_as_of_before_any_record_is_a_data_error_naming_where_records_start(baseline: Warehouse) -> None:
    """Not a red report that says 'take a full backup now' about a time nothing was known of."""
    with contextlib.closing(baseline.open_read_only()) as con:
        first = con.execute("SELECT min(finished_at) FROM backups").fetchall()[0][0]
    before = first - timedelta(days=1)
    with pytest.raises(DataError, match=r"no PostgreSQL snapshot or backup record of server 'postgresql' at or "
                                        r"before .* \(as_of\): its records start 20") as raised:  # fmt: skip
        readiness(baseline, as_of=before)
    assert f"{first.astimezone(CONFIG.tz):%Y-%m-%d %H:%M}" in str(raised.value)
    assert readiness(baseline, as_of=T0).verdict == "pass"


def test_a_finding_shared_by_two_checks_is_said_once_in_the_summary(tmp_path: Path) -> None:
    report = readiness(build(tmp_path, pg_archiver=None))
    failing = [c.name for c in report.checks if c.headline == "WAL archiving not observed"]
    assert len(failing) == 2  # WAL archiving and the age of the last archived WAL: both need pg_stat_archiver
    assert report.summary.count("WAL archiving not observed") == 1


# ---------------------------------------------------------------------------------------------- 1. WAL archiving


def test_archiving_with_a_failure_after_the_last_success_fails_and_names_the_wal(tmp_path: Path) -> None:
    failing = archiver_history(T0 - timedelta(days=2), T0, failures=[(T0 - timedelta(minutes=40), T0 + timedelta(1))])
    result = check(tmp_path, "wal_archiving", pg_archiver=failing)
    assert result.status == "fail"
    last = failing.iloc[-1]
    assert result.evidence["last_failed_wal"] == last["last_failed_wal"]
    assert result.evidence["last_failed_time"] == T0 - timedelta(seconds=30)  # attempts at :30 each minute
    assert result.evidence["last_archived_time"] == T0 - timedelta(minutes=40, seconds=-2) - WAL_EVERY
    assert f"on WAL {last['last_failed_wal']}, failed at 2026-11-01 10:59 AEDT" in result.finding
    assert f"after the last success at 2026-11-01 10:15 AEDT (WAL {last['last_archived_wal']})" in result.finding
    assert "archive_command" in result.action


def test_archiving_that_recovered_passes_after_a_day_and_warns_within_it(tmp_path: Path) -> None:
    old = [(T0 - timedelta(days=3), T0 - timedelta(days=3) + timedelta(minutes=20))]
    passed = check(tmp_path, "wal_archiving", pg_archiver=archiver_history(T0 - timedelta(days=5), T0, failures=old))
    assert passed.status == "pass"
    assert "before the last success" in passed.finding
    recent = [(T0 - timedelta(hours=5), T0 - timedelta(hours=4, minutes=50))]  # attempts at :30 for 10 minutes
    warned = check(
        tmp_path / "w", "wal_archiving", pg_archiver=archiver_history(T0 - timedelta(days=5), T0, failures=recent)
    )
    assert warned.status == "warn"
    assert warned.evidence["failures_in_window"] == 10
    assert "10 attempts failed in the last 24 h, the latest at 2026-11-01 06:09 AEDT" in warned.finding


def test_archive_mode_off_fails(tmp_path: Path) -> None:
    result = check(
        tmp_path, "wal_archiving", pg_archiver=archiver_history(T0 - timedelta(days=1), T0, archive_mode="off")
    )
    assert result.status == "fail"
    assert result.headline == "WAL archiving is off"
    assert "archive_mode = on" in result.action


def test_nothing_ever_archived_fails(tmp_path: Path) -> None:
    never = frame(
        [{"server": SERVER, "taken_at": T0, "archive_mode": "on", "archived_count": 0, "failed_count": 0,
          "stats_reset": T0 - timedelta(days=1)}]
    )  # fmt: skip
    report = readiness(build(tmp_path, pg_archiver=never))
    assert report["wal_archiving"].status == "fail"
    assert "no WAL segment has been archived" in report["wal_archiving"].finding
    assert report["wal_age"].status == "fail"


def test_a_failed_history_file_of_an_older_timeline_is_ignored_as_barman_does(tmp_path: Path) -> None:
    rows = archiver_history(T0 - timedelta(days=1), T0)
    rows.loc[rows.index[-1], ["last_failed_wal", "last_failed_time", "failed_count"]] = (
        "00000001.history", T0 - timedelta(minutes=1), 1,
    )  # fmt: skip
    assert check(tmp_path, "wal_archiving", pg_archiver=rows).status == "pass"
    rows.loc[rows.index[-1], "last_failed_wal"] = "00000002.history"  # a newer timeline: a real failure
    assert check(tmp_path / "w", "wal_archiving", pg_archiver=rows).status == "fail"


def test_a_failure_at_the_same_time_as_the_last_success_is_not_failing(tmp_path: Path) -> None:
    rows = archiver_history(T0 - timedelta(days=1), T0)
    last = rows.index[-1]
    rows.loc[last, ["last_failed_wal", "failed_count"]] = ("00000001000003E0000000FF", 1)
    rows.loc[last, "last_failed_time"] = rows.loc[last, "last_archived_time"]
    result = check(tmp_path, "wal_archiving", pg_archiver=rows)
    assert result.status == "warn"  # barman: last_failed_time <= last_archived_time is archiving; but recent
    assert result.headline == "WAL archiving failed recently"


def test_no_archiver_snapshot_fails_and_a_stale_one_warns(tmp_path: Path, baseline: Warehouse) -> None:
    assert check(tmp_path, "wal_archiving", pg_archiver=None).status == "fail"
    stale = readiness(baseline, as_of=T0 + timedelta(hours=3))["wal_archiving"]
    assert stale.status == "warn"
    assert stale.evidence["snapshot_age_seconds"] == 3 * 3600
    assert "3 h older than 2026-11-01 14:00 AEDT" in stale.finding


# ---------------------------------------------------------------------------------------------- 2. WAL age vs RPO


def test_wal_age_passes_within_three_intervals_warns_beyond_and_fails_beyond_the_rpo(
    tmp_path: Path, baseline: Warehouse
) -> None:
    fresh = readiness(baseline)["wal_age"]
    assert fresh.status == "pass"
    assert fresh.evidence["age_seconds"] == 298.0
    assert fresh.evidence["age"] == "4 min 58 s"
    assert "archived at 2026-11-01 10:55 AEDT, 4 min 58 s before 2026-11-01 11:00 AEDT" in fresh.finding

    quiet = readiness(baseline, as_of=T0 + timedelta(minutes=16))["wal_age"]  # healthy, just nothing new
    assert quiet.status == "warn"
    assert quiet.evidence["age_seconds"] == 20 * 60 + 58
    assert quiet.evidence["quiet_server_suspected"] is True
    assert "archive_timeout unset (0)" in quiet.finding
    assert "archive_timeout = '5min'" in quiet.action

    failing = archiver_history(T0 - timedelta(days=1), T0, failures=[(T0 - timedelta(hours=2), T0 + timedelta(1))])
    late = check(tmp_path / "f", "wal_age", pg_archiver=failing)
    assert late.status == "fail"
    assert late.evidence["age"] == "2 h 05 min"
    assert late.evidence["quiet_server_suspected"] is False
    assert late.headline == "last WAL archived 2 h 05 min ago, beyond the RPO"


def test_wal_age_thresholds_are_strict(baseline: Warehouse) -> None:
    warehouse = baseline
    last = T0 - timedelta(minutes=4, seconds=58)
    assert readiness(warehouse, last + timedelta(minutes=15))["wal_age"].status == "pass"
    assert readiness(warehouse, last + timedelta(minutes=15, seconds=1))["wal_age"].status == "warn"
    assert readiness(warehouse, last + timedelta(hours=1))["wal_age"].status == "warn"
    assert readiness(warehouse, last + timedelta(hours=1, seconds=1))["wal_age"].status == "fail"


# ---------------------------------------------------------------------------------------------- 3. full backups


def test_full_backup_age_passes_then_warns_after_26_h_and_fails_after_50_h(baseline: Warehouse) -> None:
    warehouse = baseline
    latest = datetime(2026, 11, 1, 3, 25, tzinfo=SYDNEY)  # finished 03:25 AEDT
    ok = readiness(warehouse)["full_backups"]
    assert ok.status == "pass"
    assert ok.evidence["age"] == "7 h 35 min"
    assert ok.evidence["missed_dates"] == []
    late = readiness(warehouse, latest + timedelta(hours=26, seconds=1))["full_backups"]
    assert late.status == "warn"
    assert late.evidence["age_seconds"] == 26 * 3600 + 1
    assert late.evidence["missed_dates"] == [date(2026, 11, 2)]  # due 05:00 on 2 Nov, not taken
    assert readiness(warehouse, latest + timedelta(hours=50))["full_backups"].status == "warn"
    very_late = readiness(warehouse, latest + timedelta(hours=50, seconds=1))["full_backups"]
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
        assert check_full_backups(con, half_past, as_of=as_of).status == "pass"
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


# ---------------------------------------------------------------------------------------------- 4. off-site copies


@pytest.mark.parametrize(
    ("age", "status", "text"),
    [
        (timedelta(days=3), "pass", "3 d"),
        (timedelta(days=8), "pass", "8 d"),
        (timedelta(days=8, hours=12), "warn", "8 d 12 h"),
        (timedelta(days=14), "warn", "14 d"),
        (timedelta(days=14, seconds=1), "fail", "14 d"),
    ],
)
def test_offsite_copy_age_against_the_weekly_interval(
    baseline: Warehouse, age: timedelta, status: str, text: str
) -> None:
    copied = T0 - timedelta(days=3)  # the baseline's last copy, 29 Oct 11:00 AEDT
    result = readiness(baseline, as_of=copied + age)["offsite_copies"]
    assert result.status == status
    assert result.evidence["age_seconds"] == age.total_seconds()
    assert result.evidence["age"] == text
    as_of = f"{(copied + age).astimezone(SYDNEY):%Y-%m-%d %H:%M %Z}"
    assert f"at 2026-10-29 11:00 AEDT, {text} before {as_of}" in result.finding


def test_no_offsite_copy_fails_and_failed_copies_do_not_count(tmp_path: Path) -> None:
    assert check(tmp_path, "offsite_copies", offsite_copies=None).status == "fail"
    copies = pd.concat([offsite(timedelta(days=9)), offsite(timedelta(days=2), status="failed")])
    result = check(tmp_path / "f", "offsite_copies", offsite_copies=copies)
    assert result.status == "warn"
    assert result.evidence["failed_since"] == 1
    assert "1 failed attempt(s) since" in result.finding


# ---------------------------------------------------------------------------------------------- 5. restore tests


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


# ---------------------------------------------------------------------------------------------- 6. retention


def test_retention_passes_with_a_backup_older_than_the_window_and_no_stall(baseline: Warehouse) -> None:
    result = readiness(baseline)["retention"]
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


# ---------------------------------------------------------------------------------------------- 7. replicas


def test_no_replica_warns_that_recovery_relies_on_backups(tmp_path: Path) -> None:
    result = check(tmp_path, "replicas", pg_replication=None)
    assert result.status == "warn"
    assert "failover to read replica is not available; recovery relies on backups" in result.finding
    assert result.headline == "no replica for failover"


@pytest.mark.parametrize(
    ("lag", "state", "status"),
    [
        (2.0, "streaming", "pass"),
        (None, "streaming", "pass"),  # idle and caught up: PostgreSQL reports no lag
        (20 * 60.0, "streaming", "warn"),
        (2 * 3600.0, "streaming", "fail"),
        (1.0, "catchup", "warn"),
    ],
)
def test_replica_lag_against_the_rpo(tmp_path: Path, lag: float | None, state: str, status: str) -> None:
    result = check(tmp_path, "replicas", pg_replication=replica(lag, state))
    assert result.status == status
    assert f"standby-1: {state} (async)" in result.finding
    if lag:
        assert f"replay lag {human_duration(lag)}, 4.0 kB behind" in result.finding


def test_an_inactive_replication_slot_warns(tmp_path: Path) -> None:
    slots = frame([{"server": SERVER, "taken_at": T0, "slot_name": "old_standby", "slot_type": "physical",
                    "active": False, "retained_bytes": 3 * 1024**3}])  # fmt: skip
    result = check(tmp_path, "replicas", pg_replication_slots=slots)
    assert result.status == "warn"
    assert "old_standby (3.0 GB)" in result.finding


def test_a_wal_receiver_is_not_a_replica_to_fail_over_to(tmp_path: Path) -> None:
    receiver = replica(10.0).assign(application_name="pg_receivewal", client_addr="10.0.0.9", replay_lsn=None)
    result = check(tmp_path, "replicas", pg_replication=receiver)
    assert result.status == "warn" and result.headline == "no replica for failover"
    assert "WAL is streamed to pg_receivewal, which cannot be promoted" in result.finding
    both = check(tmp_path / "both", "replicas", pg_replication=pd.concat([replica(), receiver], ignore_index=True))
    assert both.status == "pass" and "1 replica(s)" in both.finding and "standby-1" in both.finding


def test_a_logical_subscriber_is_not_a_standby(tmp_path: Path) -> None:
    subscriber = replica().assign(application_name="analytics_sub", slot_type="logical")
    result = check(tmp_path, "replicas", pg_replication=subscriber)
    assert result.status == "warn" and result.headline == "no replica for failover"
    assert "WAL is streamed to analytics_sub, which cannot be promoted" in result.finding
    standby = check(tmp_path / "s", "replicas", pg_replication=replica().assign(slot_type="physical"))
    assert standby.status == "pass"


def test_a_lost_slot_says_its_replica_must_be_re_seeded(tmp_path: Path) -> None:
    slots = frame([{"server": SERVER, "taken_at": T0, "slot_name": "standby_2", "slot_type": "physical",
                    "active": False, "retained_bytes": 0, "wal_status": "lost"}])  # fmt: skip
    result = check(tmp_path, "replicas", pg_replication_slots=slots)
    assert result.status == "warn"
    assert "replication slot(s) that lost the WAL their replica needs (it must be re-seeded): standby_2" in (
        result.finding
    )
    assert "holding WAL" not in result.finding and "Re-seed the replica of a lost slot" in result.action


def test_a_slot_that_reserves_no_wal_holds_nothing_back(tmp_path: Path) -> None:
    slots = frame([{"server": SERVER, "taken_at": T0, "slot_name": "unused", "slot_type": "physical",
                    "active": False, "retained_bytes": 0}])  # fmt: skip
    result = check(tmp_path, "replicas", pg_replication_slots=slots)
    assert result.status == "pass" and "unused" not in result.finding


# ---------------------------------------------------------------------------------------------- loaded records


def test_backup_records_loaded_from_pgbackrest_and_the_log_are_judged(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    load_backup_records(
        warehouse, FIXTURES / "dr_pgbackrest_info.json", FIXTURES / "dr_backup_log.csv", server=SERVER, stanza="main"
    )
    as_of = datetime(2026, 10, 8, 12, 0, tzinfo=SYDNEY)
    report = readiness(warehouse, as_of)
    backups = report["full_backups"]
    # fulls on 2 and 4 Oct; 3 Oct had only a diff, 5 Oct's was flagged as errored; none after
    assert backups.evidence["last_backup_id"] == "20261004-030001F"
    assert backups.evidence["missed_dates"] == [date(2026, 10, d) for d in (3, 5, 6, 7, 8)]
    assert backups.evidence["failed_attempt_dates"] == [date(2026, 10, 5)]
    assert backups.status == "fail"
    assert report["offsite_copies"].evidence["age"] == "4 d 2 h"
    restore = report["restore_tests"]
    assert restore.status == "fail"  # the latest attempt failed
    assert restore.evidence["duration"] == "2 h 20 min"


# ---------------------------------------------------------------------------------------------- real PostgreSQL 15


def _archive_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="sre-wal-archive-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(path, user.pw_uid, user.pw_gid)
    return path


def _wait_for(pg, column: str, above: int, timeout: float = 20.0) -> int:
    deadline = clock.monotonic() + timeout
    while True:
        value = pg.execute(f"SELECT {column} FROM pg_stat_archiver")[0][0]
        if value > above:
            return value
        if clock.monotonic() > deadline:
            raise AssertionError(f"pg_stat_archiver.{column} stayed at {value} for {timeout} s")
        clock.sleep(0.1)


@pytest.fixture(scope="module")
def archiving_pg() -> Iterator[tuple[object, Path]]:
    from support.servers import postgres_server

    archive = _archive_dir()
    conf = {"wal_level": "replica", "archive_mode": "on", "archive_command": f"'cp %p {archive}/%f'"}
    try:
        with postgres_server(extra_conf=conf) as pg:
            pg.execute("CREATE ROLE monitor LOGIN PASSWORD 'Fake-Secret-Pw-4711' IN ROLE pg_monitor")
            yield pg, archive
    finally:
        shutil.rmtree(archive, ignore_errors=True)


def _env(pg) -> dict[str, str]:
    return {"PGHOST": "127.0.0.1", "PGPORT": str(pg.port), "PGUSER": "monitor", "PGDATABASE": "postgres",
            "PGPASSWORD": "Fake-Secret-Pw-4711"}  # fmt: skip


@pytest.mark.servers
def test_real_postgres_archiving_passes_then_fails_with_the_reason(archiving_pg, tmp_path: Path) -> None:
    from sre_lib.collect.postgres_snapshot import collect_postgres

    pg, archive = archiving_pg
    warehouse = Warehouse(tmp_path / "w.duckdb")

    # archive_command copies into a local folder: write, switch WAL, wait for the archiver
    archived = pg.execute("SELECT archived_count FROM pg_stat_archiver")[0][0]
    pg.execute("CREATE TABLE orders AS SELECT g AS id, md5(g::text) AS note FROM generate_series(1, 5000) g")
    switched = pg.execute("SELECT pg_walfile_name(pg_switch_wal())")[0][0]
    _wait_for(pg, "archived_count", archived)
    assert (archive / switched).exists()
    collect_postgres(warehouse, CONFIG, env=_env(pg))
    report = readiness(warehouse, as_of=None)
    assert report["wal_archiving"].status == "pass", report["wal_archiving"]
    assert report["wal_archiving"].evidence["last_archived_wal"] == switched
    assert report["wal_archiving"].evidence["failed_count"] == 0
    assert report["wal_age"].status == "pass"

    # then a failing archive_command
    pg.reconfigure(archive_command="false")
    failed = pg.execute("SELECT failed_count FROM pg_stat_archiver")[0][0]
    pg.execute("INSERT INTO orders SELECT g, 'more' FROM generate_series(1, 5000) g")
    failing = pg.execute("SELECT pg_walfile_name(pg_switch_wal())")[0][0]
    _wait_for(pg, "failed_count", failed)
    collect_postgres(warehouse, CONFIG, env=_env(pg))
    truth = pg.execute("SELECT last_failed_wal, last_failed_time, last_archived_wal FROM pg_stat_archiver")[0]
    result = readiness(warehouse, as_of=None)["wal_archiving"]
    assert result.status == "fail"
    assert result.evidence["last_failed_wal"] == failing == truth[0]
    assert result.evidence["last_failed_time"] <= truth[1]
    assert result.evidence["last_archived_wal"] == switched == truth[2]
    assert f"on WAL {failing}, failed at " in result.finding
    assert "after the last success at" in result.finding and switched in result.finding
    assert result.headline == f"WAL archiving is failing (WAL {failing})"
    assert not (archive / failing).exists()


@pytest.mark.servers
def test_real_pg_receivewal_is_seen_as_a_wal_stream_not_a_replica(archiving_pg, tmp_path: Path) -> None:
    import subprocess

    from support.servers import PG_BIN, require

    from sre_lib.collect.postgres_snapshot import collect_postgres

    pg, _ = archiving_pg
    pg.execute("SELECT pg_create_physical_replication_slot('idle_slot')")  # reserves no WAL until used
    target = tmp_path / "wal"
    target.mkdir()
    log = tmp_path / "pg_receivewal.log"
    with open(log, "w") as output:
        receiver = subprocess.Popen(
            [require(PG_BIN / "pg_receivewal"), "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres", "-D",
             str(target), "--no-loop", "-s", "1"],
            stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = clock.monotonic() + 30
        while not pg.execute("SELECT 1 FROM pg_stat_replication WHERE application_name = 'pg_receivewal'"):
            assert receiver.poll() is None and clock.monotonic() < deadline, log.read_text()
            clock.sleep(0.1)
        warehouse = Warehouse(tmp_path / "w.duckdb")
        collect_postgres(warehouse, CONFIG, env=_env(pg))
        result = readiness(warehouse, as_of=None)["replicas"]
    finally:
        receiver.terminate()
        receiver.wait(timeout=30)
        pg.execute("SELECT pg_drop_replication_slot('idle_slot')")
    assert result.status == "warn" and result.headline == "no replica for failover", result
    assert "WAL is streamed to pg_receivewal, which cannot be promoted" in result.finding
    assert "idle_slot" not in result.finding  # it holds no WAL back


@pytest.mark.servers
def test_a_real_logical_subscriber_is_seen_as_no_failover_replica(tmp_path: Path) -> None:
    from support.servers import postgres_server

    from sre_lib.collect.postgres_snapshot import collect_postgres

    with postgres_server(extra_conf={"wal_level": "logical"}) as primary, postgres_server() as other:
        primary.execute("CREATE ROLE monitor LOGIN PASSWORD 'Fake-Secret-Pw-4711' IN ROLE pg_monitor")
        for server in (primary, other):
            server.execute("CREATE TABLE orders (id int PRIMARY KEY)")
        primary.execute("CREATE PUBLICATION orders_pub FOR TABLE orders")
        other.execute(
            f"CREATE SUBSCRIPTION orders_sub CONNECTION 'host=127.0.0.1 port={primary.port} user=postgres "
            "dbname=postgres' PUBLICATION orders_pub"
        )
        try:
            deadline = clock.monotonic() + 30
            while not primary.execute(
                "SELECT 1 FROM pg_stat_replication WHERE application_name = 'orders_sub' AND replay_lsn IS NOT NULL"
            ):
                assert clock.monotonic() < deadline, "the subscription did not start streaming"
                clock.sleep(0.1)
            warehouse = Warehouse(tmp_path / "w.duckdb")
            collect_postgres(warehouse, CONFIG, env=_env(primary))
            result = readiness(warehouse, as_of=None)["replicas"]
        finally:
            other.execute("DROP SUBSCRIPTION orders_sub")
    assert result.status == "warn" and result.headline == "no replica for failover", result
    assert "WAL is streamed to orders_sub, which cannot be promoted" in result.finding


# ---------------------------------------------------------------------------------------------- the demo


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
    assert report.score == "3 of 7 checks pass, 4 warn, 0 fail"  # wal_archiving, wal_age, offsite_copies pass
    # as of the middle of that failure, archiving fails
    during = readiness(Warehouse(demo_warehouse), as_of=spec.at_day(ARCHIVE_FAILURE_DAY) + timedelta(hours=1))
    assert during["wal_archiving"].status == "fail"
    assert during["wal_age"].status == "fail"


def test_policy_statement_reads_the_config() -> None:
    from sre_lib.analysis.dr import policy_statement
    from sre_lib.config import DEFAULT_CONFIG_PATH, load_config

    text = policy_statement(load_config(DEFAULT_CONFIG_PATH))
    assert text.startswith("RTO target: under 4 h; RPO target: under 1 h; WAL archived every 5 min;")
    assert "full backup daily at 03:00 Australia/Sydney" in text and "retention 30 days" in text
