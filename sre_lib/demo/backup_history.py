"""Synthetic disaster-recovery history: daily full backups, weekly off-site copies, monthly restore tests.

Follows the operating manual's schedule (pgBackRest full backup at 03:00 local time, DST-correct, off-site
copy on Sundays, a tested restore about monthly) with the findings an analysis should make:

* the backup of the local day of MISSED_BACKUP_DAY (83) is missing;
* all 90 days are kept, so the 30-day retention policy is visibly not enforced;
* an hourly live `pgbackrest check` (the collect-backups job) passes, except during the scripted WAL archive
  failure, when it fails as pgBackRest does: the segment is not archived before its timeout;
* restore tests take longer each time (1 h 50 m, 2 h 20 m, 3 h 05 m: inside the 4 h RTO but trending
  up), and the latest is RESTORE_TEST_DAYS_BEFORE_END[-1] (33) days old: the monthly test is overdue.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import numpy as np
import pandas as pd

from sre_lib.demo.postgres_scenario import ARCHIVE_FAILURE_DAY, ARCHIVE_FAILURE_DURATION
from sre_lib.demo.postgres_wal import wal_names, wal_segment_at
from sre_lib.demo.spec import DemoSpec
from sre_lib.demo.timeline import local_instants, seconds_since_start

_SEED_OFFSET = 202
ORIGIN = "demo"
BACKUP_LOCAL_TIME = "03:00"
MISSED_BACKUP_DAY = 83.0
BACKUP_BYTES_AT_START = 1.35e9  # compressed full backup
BACKUP_GROWTH_PER_WEEK = 0.025  # follows the database size
BACKUP_BYTES_PER_MINUTE = 62.5e6  # backup throughput: ~22 min at the start, ~30 min at the end
OFFSITE_LOCAL_TIME = "06:30"  # Sundays, a few hours after the backup
OFFSITE_DESTINATION = "spaces://community-hub-backups/offsite"
RESTORE_TEST_DAYS_BEFORE_END = (89, 61, 33)
RESTORE_TEST_DURATIONS = (timedelta(hours=1, minutes=50), timedelta(hours=2, minutes=20), timedelta(hours=3, minutes=5))
RESTORE_TEST_LOCAL_TIME = time(10, 0)
STANZA = "main"
CHECK_MINUTE = 10  # the collect-backups job runs hourly at :10
CHECK_SECONDS = (0.6, 60.0)  # a passing check, and one that waits out archive-timeout (60 s) and fails


def _backups(spec: DemoSpec, rng: np.random.Generator) -> pd.DataFrame:
    scheduled = local_instants(spec.start, spec.end, spec.tz, BACKUP_LOCAL_TIME)
    missed = spec.at_day(MISSED_BACKUP_DAY).astimezone(spec.tz).date()
    scheduled = scheduled[scheduled.tz_convert(spec.tz).date != missed]
    started = scheduled + pd.to_timedelta(rng.integers(0, 5, len(scheduled)), unit="s")
    weeks = seconds_since_start(spec, started) / (7 * 86_400)
    size = BACKUP_BYTES_AT_START * (1 + BACKUP_GROWTH_PER_WEEK) ** weeks * rng.lognormal(0, 0.01, len(started))
    minutes = np.clip(size / BACKUP_BYTES_PER_MINUTE + rng.normal(0, 1.0, len(size)), 20, 40)
    finished = started + pd.to_timedelta(np.round(minutes * 60), unit="s")
    return pd.DataFrame(
        {
            "server": spec.pg_server,
            "backup_id": started.tz_convert(spec.tz).strftime("%Y%m%d-%H%M%S") + "F",
            "kind": "full",
            "started_at": started,
            "finished_at": finished,
            "status": "ok",
            "size_bytes": np.round(size).astype(np.int64),
            "wal_start": wal_names(wal_segment_at(spec, started)),
            "wal_stop": wal_names(wal_segment_at(spec, finished)),
            "origin": ORIGIN,
        }
    )


def _latest_backup(backups: pd.DataFrame, at: pd.DatetimeIndex) -> pd.api.extensions.ExtensionArray:
    """The id of the newest backup finished before each instant."""
    finished = backups["finished_at"].to_numpy()
    idx = np.searchsorted(finished, at.to_numpy(), side="right") - 1
    return pd.array(backups["backup_id"].to_numpy()[np.maximum(idx, 0)], dtype="str")


def _offsite(spec: DemoSpec, backups: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    mornings = local_instants(spec.start, spec.end, spec.tz, OFFSITE_LOCAL_TIME)
    sundays = mornings[mornings.tz_convert(spec.tz).day_of_week == 6]
    copied = sundays + pd.to_timedelta(rng.integers(0, 40 * 60, len(sundays)), unit="s")
    return pd.DataFrame(
        {
            "server": spec.pg_server,
            "backup_id": _latest_backup(backups, copied),
            "copied_at": copied,
            "destination": OFFSITE_DESTINATION,
            "status": "ok",
            "origin": ORIGIN,
        }
    )


def _restore_tests(spec: DemoSpec, backups: pd.DataFrame) -> pd.DataFrame:
    starts, durations = [], []
    for days_before, duration in zip(RESTORE_TEST_DAYS_BEFORE_END, RESTORE_TEST_DURATIONS, strict=True):
        local_day = (spec.end - timedelta(days=days_before)).astimezone(spec.tz).date()
        start = datetime.combine(local_day, RESTORE_TEST_LOCAL_TIME, tzinfo=spec.tz)
        if spec.start <= start <= spec.end - duration:
            starts.append(start)
            durations.append(duration)
    started = pd.to_datetime(starts, utc=True).as_unit("us")
    finished = started + pd.to_timedelta(durations)
    backup_ids = _latest_backup(backups, started)
    return pd.DataFrame(
        {
            "server": spec.pg_server,
            "backup_id": backup_ids,
            "started_at": started,
            "finished_at": finished,
            "status": "ok",
            "notes": pd.array(
                [f"pgbackrest restore of {b} to a scratch droplet; row counts checked" for b in backup_ids], dtype="str"
            ),
            "origin": ORIGIN,
        }
    )


def _pgbackrest_checks(spec: DemoSpec) -> pd.DataFrame:
    first = pd.Timestamp(spec.start).ceil("h") + pd.Timedelta(minutes=CHECK_MINUTE)
    checked = pd.date_range(first, spec.end, freq="h")
    f0 = pd.Timestamp(spec.at_day(ARCHIVE_FAILURE_DAY))
    failing = (checked >= f0) & (checked < f0 + ARCHIVE_FAILURE_DURATION)
    stuck = wal_names(wal_segment_at(spec, checked[failing]))
    reasons = np.full(len(checked), None, dtype=object)
    reasons[failing] = [
        f"[082]: WAL segment {name} was not archived before the 60000ms timeout" for name in stuck
    ]  # fmt: skip
    return pd.DataFrame(
        {
            "server": spec.pg_server,
            "stanza": STANZA,
            "checked_at": checked,
            "status": np.where(failing, "failed", "ok"),
            "duration_seconds": np.where(failing, CHECK_SECONDS[1], CHECK_SECONDS[0]),
            "reason": pd.array(reasons, dtype="str"),
        }
    )


def backup_frames(spec: DemoSpec) -> dict[str, pd.DataFrame]:
    """The backups, offsite_copies, restore_tests and pgbackrest_checks tables for the demo span, by table name."""
    rng = np.random.default_rng(spec.seed + _SEED_OFFSET)
    backups = _backups(spec, rng)
    return {
        "backups": backups,
        "offsite_copies": _offsite(spec, backups, rng),
        "restore_tests": _restore_tests(spec, backups),
        "pgbackrest_checks": _pgbackrest_checks(spec),
    }
