"""Hand-built DR platforms: warehouses of archiver history, backups, off-site copies, restore tests and replicas.

``healthy()`` meets the whole backup policy as of ``T0`` (every DR check passes); ``build(tmp_path, table=rows)``
writes it with some tables replaced (``None`` drops one), and ``dr_checks`` / ``check`` judge it as of a time.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from sre_lib.analysis.dr import DrCheck, check_context, run_checks
from sre_lib.config import DEFAULT_CONFIG_PATH, PlatformConfig, load_config
from sre_lib.warehouse.store import Warehouse

CONFIG = load_config(DEFAULT_CONFIG_PATH)
SERVER = CONFIG.sources.postgres.server
SYDNEY = ZoneInfo("Australia/Sydney")
T0 = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)  # 11:00 AEDT: "now" of the hand-built platforms
WAL_EVERY = timedelta(minutes=5)


def wal_name(segment: int) -> str:
    return f"00000001{segment >> 8:08X}{segment & 0xFF:08X}"


def archiver_history(
    start: datetime,
    end: datetime,
    every: timedelta = timedelta(hours=1),
    failures: Sequence[tuple[datetime, datetime]] = (),
    archive_mode: str = "on",
    lived_before: timedelta = timedelta(days=1),
) -> pd.DataFrame:
    """pg_stat_archiver as a collector would have seen it: a segment archived every 5 min (2 s after it fills);
    during a failure every attempt fails, once a minute, until the backlog is archived at its end. The server
    started (statistics reset, archiving began) ``lived_before`` the first snapshot."""
    origin = start - lived_before
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


def replica(
    lag_seconds: float | None = 2.0,
    state: str = "streaming",
    lag_bytes: int = 4096,
    taken_at: datetime = T0,
    name: str = "standby-1",
) -> pd.DataFrame:
    """One standby's pg_stat_replication row as a snapshot at ``taken_at`` saw it."""
    return frame(
        [
            {"server": SERVER, "taken_at": taken_at, "application_name": name, "client_addr": "10.0.0.7",
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
        "pgbackrest_checks": pgbackrest_checks((timedelta(hours=1), "ok")),
    }


def young(age: timedelta, first_backup_after: timedelta = timedelta(minutes=1)) -> dict[str, pd.DataFrame | None]:
    """A platform that began ``age`` before T0 and meets the policy since: snapshots from its start, a full backup
    ``first_backup_after`` it (then daily at 03:00), a restore test and an off-site copy of that backup right after,
    a replica, a passing ``pgbackrest check``."""
    began = T0 - age
    first = began + first_backup_after
    step = min(timedelta(seconds=20), (age - first_backup_after) / 8)  # backup, restore test, copy: one step each
    daily = daily_backups(first.astimezone(SYDNEY).date() + timedelta(days=1), T0.astimezone(SYDNEY).date())
    opening = frame([{"server": SERVER, "backup_id": f"{first.astimezone(SYDNEY):%Y%m%d-%H%M%S}F", "kind": "full",
                      "started_at": first, "finished_at": first + step, "status": "ok", "size_bytes": 30_000_000,
                      "wal_start": None, "wal_stop": None, "origin": "test"}])  # fmt: skip
    every = min(timedelta(minutes=5), age / 4)
    snapshot = {"server": SERVER, "taken_at": T0, "server_version_num": 150018, "max_connections": 100}
    if not daily.empty:
        daily = daily[daily["started_at"] <= T0]
    return {
        "pg_snapshots": frame([snapshot]),
        "pg_archiver": archiver_history(began, T0, every=every, lived_before=timedelta(0)),
        "backups": pd.concat([opening, daily], ignore_index=True),
        "restore_tests": restores((T0 - first - 2 * step, step)),
        "offsite_copies": offsite(T0 - first - 3 * step),
        "pg_replication": pd.concat([replica(taken_at=T0 - every), replica()], ignore_index=True),
        "pgbackrest_checks": pgbackrest_checks((every, "ok")),
    }


def pgbackrest_checks(*checks: tuple[timedelta, str]) -> pd.DataFrame:
    """(age, status) per ``pgbackrest check``; a failed one carries pgBackRest's kind of reason."""
    return frame(
        [
            {"server": SERVER, "stanza": "main", "checked_at": T0 - age, "status": status, "duration_seconds": 0.6,
             "reason": None if status == "ok" else "ERROR: [082]: WAL segment 0000000100000407000000FE was not "
             "archived before the 60000ms timeout"}
            for age, status in checks
        ]
    )  # fmt: skip


def build(tmp_path: Path, **changes: pd.DataFrame | None) -> Warehouse:
    warehouse = Warehouse(tmp_path / "dr.duckdb")
    tables = healthy() | changes
    with warehouse.write_run("test") as run:
        for table, rows in tables.items():
            if rows is not None:
                run.replace_rows(table, rows)
    return warehouse


def dr_checks(warehouse: Warehouse, as_of: datetime | None = T0, config: PlatformConfig = CONFIG) -> dict[str, DrCheck]:
    """Every DR check of the warehouse's server as of ``as_of`` (None: its latest record), by name."""
    with contextlib.closing(warehouse.open_read_only()) as con:
        return {result.name: result for result in run_checks(check_context(con, config, as_of))}


def check(tmp_path: Path, name: str, as_of: datetime | None = T0, **changes: pd.DataFrame | None) -> DrCheck:
    """One check of the healthy platform with ``changes`` applied."""
    return dr_checks(build(tmp_path, **changes), as_of)[name]
