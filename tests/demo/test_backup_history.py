"""The synthetic backup history follows the manual's schedule and contains its scripted findings."""

from __future__ import annotations

import re
from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest

from sre_lib.demo import backup_history as bk
from sre_lib.demo.spec import DemoSpec
from sre_lib.warehouse.store import schema_sql, table_keys

SPEC = DemoSpec()
TABLES = ("backups", "offsite_copies", "restore_tests")
RTO = pd.Timedelta(hours=4)  # [recovery] rto_hours


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return bk.backup_frames(SPEC)


def local(times: pd.Series) -> pd.Series:
    return times.dt.tz_convert(SPEC.tz)


@pytest.mark.parametrize("table", TABLES)
def test_columns_types_and_keys_match_the_schema(frames, table) -> None:
    con = duckdb.connect()
    con.execute(schema_sql()).fetchall()
    schema = dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?", [table]
        ).fetchall()
    )
    frame, keys = frames[table], list(table_keys()[table])
    assert set(frame.columns) <= set(schema) and set(keys) <= set(frame.columns)
    con.register("frame", frame)
    for name, kind, *_ in con.execute("DESCRIBE SELECT * FROM frame").fetchall():
        assert kind == schema[name], f"{table}.{name}: {kind}, schema says {schema[name]}"
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM frame")
    assert len(frame) > 0
    assert not frame[keys].isna().any().any() and not frame.duplicated(keys).any()
    assert (frame.server == SPEC.pg_server).all() and (frame.origin == "demo").all()
    assert (frame.status == "ok").all()


def test_same_spec_same_frames(frames) -> None:
    again = bk.backup_frames(SPEC)
    for table in TABLES:
        pd.testing.assert_frame_equal(frames[table], again[table])
    other = bk.backup_frames(DemoSpec(seed=SPEC.seed + 1))
    assert not frames["backups"].size_bytes.equals(other["backups"].size_bytes)


def test_daily_full_backup_at_three_local_time_across_dst(frames) -> None:
    backups = frames["backups"]
    started = local(backups.started_at)
    assert (backups.kind == "full").all()
    assert (started.dt.hour == 3).all() and (started.dt.minute == 0).all()
    assert started.dt.date.is_unique
    # Sydney moves to daylight time on 2026-10-04: 03:00 local is 17:00 UTC before, 16:00 UTC after
    utc_hours = backups.set_index(started.dt.date).started_at.dt.hour
    assert utc_hours[date(2026, 10, 3)] == 17 and utc_hours[date(2026, 10, 5)] == 16


def test_backup_ids_are_pgbackrest_labels_of_the_local_start(frames) -> None:
    backups = frames["backups"]
    assert backups.backup_id.str.fullmatch(r"\d{8}-\d{6}F").all()
    assert (backups.backup_id == local(backups.started_at).dt.strftime("%Y%m%d-%H%M%S") + "F").all()
    assert backups.started_at.is_monotonic_increasing


def test_exactly_one_missed_backup_on_day_83(frames) -> None:
    have = set(local(frames["backups"].started_at).dt.date)
    first, last = min(have), max(have)
    every_day = {first + timedelta(days=n) for n in range((last - first).days + 1)}
    missed = SPEC.at_day(bk.MISSED_BACKUP_DAY).astimezone(SPEC.tz).date()
    assert every_day - have == {missed}


def test_all_ninety_days_are_kept(frames) -> None:
    started = frames["backups"].started_at
    assert started.min() - pd.Timestamp(SPEC.start) < pd.Timedelta(days=1.5)
    assert pd.Timestamp(SPEC.end) - started.max() < pd.Timedelta(days=1)
    assert len(started) == SPEC.days - 1  # 90 local days in the span, one missed


def test_duration_and_size(frames) -> None:
    backups = frames["backups"]
    minutes = (backups.finished_at - backups.started_at).dt.total_seconds() / 60
    assert minutes.between(20, 40).all()
    assert backups.size_bytes.tail(7).mean() > 1.2 * backups.size_bytes.head(7).mean()
    assert minutes.tail(7).mean() > minutes.head(7).mean()
    assert backups.wal_start.str.fullmatch(r"[0-9A-F]{24}").all()
    assert (backups.wal_start <= backups.wal_stop).all() and backups.wal_start.is_monotonic_increasing


def test_weekly_offsite_copy_on_sunday_after_the_backup(frames) -> None:
    copies, backups = frames["offsite_copies"], frames["backups"].set_index("backup_id")
    copied = local(copies.copied_at)
    assert (copied.dt.day_of_week == 6).all()
    assert (copies.copied_at.diff().dropna().dt.round("1D") == pd.Timedelta(days=7)).all()
    assert len(copies) >= SPEC.days // 7 - 1
    assert (copies.destination == "spaces://community-hub-backups/offsite").all()
    finished = backups.loc[copies.backup_id, "finished_at"].to_numpy()
    assert (finished < copies.copied_at.to_numpy()).all()
    assert ((copies.copied_at.to_numpy() - finished) < pd.Timedelta(days=2)).all()  # the latest backup


def test_restore_tests_monthly_slower_each_time_and_overdue(frames) -> None:
    tests, backups = frames["restore_tests"], frames["backups"].set_index("backup_id")
    assert len(tests) == 3
    took = tests.finished_at - tests.started_at
    assert list(took) == [timedelta(hours=1, minutes=50), timedelta(hours=2, minutes=20), timedelta(hours=3, minutes=5)]
    assert (took < RTO).all() and took.is_monotonic_increasing
    age = (pd.Timestamp(SPEC.end) - tests.started_at.max()) / pd.Timedelta(days=1)
    assert 30 < age < 36  # the monthly test is a few days overdue
    assert (backups.loc[tests.backup_id, "finished_at"].to_numpy() < tests.started_at.to_numpy()).all()
    assert tests.notes.str.len().gt(0).all()
    assert all(re.search(bid, note) for bid, note in zip(tests.backup_id, tests.notes, strict=True))


def test_short_span_builds(frames) -> None:
    short = bk.backup_frames(DemoSpec(days=10))
    assert len(short["backups"]) == 10  # no missed day inside these 10 local days
    assert short["restore_tests"].empty
    assert dict(short["restore_tests"].dtypes) == dict(frames["restore_tests"].dtypes)


def test_live_checks_are_hourly_and_fail_only_while_archiving_fails(frames) -> None:
    checks = frames["pgbackrest_checks"]
    con = duckdb.connect()
    con.execute(schema_sql()).fetchall()
    con.register("frame", checks)
    con.execute("INSERT INTO pgbackrest_checks BY NAME SELECT * FROM frame")  # the schema's columns and types
    assert (checks.checked_at.diff().dropna() == pd.Timedelta(hours=1)).all()
    assert checks.checked_at.iloc[0] >= SPEC.start and checks.checked_at.iloc[-1] <= SPEC.end
    failed = checks[checks.status == "failed"]
    start = pd.Timestamp(SPEC.at_day(bk.ARCHIVE_FAILURE_DAY))
    assert len(failed) == 2 and failed.checked_at.between(start, start + bk.ARCHIVE_FAILURE_DURATION).all()
    assert failed.reason.str.fullmatch(r"\[082\]: WAL segment [0-9A-F]{24} was not archived before .*").all()
    assert checks[checks.status == "ok"].reason.isna().all()
