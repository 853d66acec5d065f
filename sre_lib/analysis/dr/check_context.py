"""The moment and server a DR check judges, the policy figures it judges them by, and how it reads the warehouse.

Everything is judged *as of* a time, by default the latest snapshot or backup record of the server in the
warehouse (never the wall clock), so old and demo data read as they did when collected; rows after ``as_of``
are ignored, so any past moment can be judged too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd

from sre_lib.analysis.dr.check_result import local_time
from sre_lib.config import PlatformConfig
from sre_lib.errors import DataError

__all__ = ["WAL_AGE_WARN_INTERVALS", "CheckContext", "as_utc", "check_context", "latest_snapshot_time", "plain_value"]

WAL_AGE_WARN_INTERVALS = 3  # warn once the last archived WAL is older than 3 archive intervals (15 min)


@dataclass(frozen=True)
class CheckContext:
    """One server judged as of one UTC time against the configured policy, with the warehouse to read."""

    con: duckdb.DuckDBPyConnection
    config: PlatformConfig
    as_of: datetime
    server: str

    @property
    def tz(self) -> ZoneInfo:
        return self.config.tz

    @property
    def rpo(self) -> timedelta:
        return timedelta(hours=self.config.recovery.rpo_hours)

    @property
    def rto(self) -> timedelta:
        return timedelta(hours=self.config.recovery.rto_hours)

    @property
    def wal_interval(self) -> timedelta:
        return timedelta(minutes=self.config.backup.wal_archive_interval_minutes)

    @property
    def wal_warn_age(self) -> timedelta:
        return WAL_AGE_WARN_INTERVALS * self.wal_interval

    @property
    def window_start(self) -> datetime:
        return self.as_of - timedelta(days=self.config.backup.retention_days)

    def local(self, ts: datetime) -> str:
        """A time on the platform's clock (platform.timezone)."""
        return local_time(ts, self.tz)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """The query's rows as dicts, timestamps as aware UTC datetimes."""
        cursor = self.con.execute(sql, list(params))
        names = [d[0] for d in cursor.description]
        return [{n: as_utc(v) for n, v in zip(names, row, strict=True)} for row in cursor.fetchall()]


def plain_value(value: Any) -> Any:
    """NaN / NaT -> None and pandas Timestamps -> UTC datetimes, so rows read from a DataFrame work too."""
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else as_utc(value.to_pydatetime())
    if isinstance(value, float) and value != value:
        return None
    return as_utc(value)


def as_utc(value: Any) -> Any:
    """A datetime as aware UTC (naive ones are taken as UTC); anything else unchanged."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def latest_snapshot_time(con: duckdb.DuckDBPyConnection, server: str) -> datetime | None:
    """The newest time the warehouse knows about for a server: PostgreSQL snapshots, backup records, checks."""
    return _record_time(con, server, "max")


def _record_time(con: duckdb.DuckDBPyConnection, server: str, edge: str) -> datetime | None:
    """The oldest (``edge`` 'min') or newest ('max') record of a server: snapshots, backups, copies, tests,
    pgbackrest checks."""
    rows = con.execute(
        f"""
        SELECT {edge}(t) FROM (
            SELECT {edge}(taken_at) AS t FROM pg_snapshots WHERE server = $1
            UNION ALL SELECT {edge}(taken_at) FROM pg_archiver WHERE server = $1
            UNION ALL SELECT {edge}(taken_at) FROM pg_replication WHERE server = $1
            UNION ALL SELECT {edge}(finished_at) FROM backups WHERE server = $1
            UNION ALL SELECT {edge}(copied_at) FROM offsite_copies WHERE server = $1
            UNION ALL SELECT {edge}(finished_at) FROM restore_tests WHERE server = $1
            UNION ALL SELECT {edge}(checked_at) FROM pgbackrest_checks WHERE server = $1
        )
        """,
        [server],
    ).fetchall()
    return as_utc(rows[0][0]) if rows and rows[0][0] is not None else None


def check_context(
    con: duckdb.DuckDBPyConnection,
    config: PlatformConfig,
    as_of: datetime | None = None,
    server: str | None = None,
) -> CheckContext:
    """The context every check of ``server`` (default: [sources.postgres].server) reads, as of ``as_of``.

    ``as_of`` defaults to the latest snapshot or backup record of the server, not the clock; a naive one is
    taken as UTC. Raises DataError when the warehouse holds nothing for the server at or before that time.
    """
    server = server or config.sources.postgres.server
    if as_of is None:
        as_of = latest_snapshot_time(con, server)
        if as_of is None:
            raise DataError(
                f"the warehouse holds no PostgreSQL snapshot and no backup record for server {server!r}: collect "
                "(sre collect postgres), load backup records, or pass as_of"
            )
    else:
        as_of = as_of if as_of.tzinfo is not None else as_of.replace(tzinfo=UTC)
        first = _record_time(con, server, "min")
        if first is None or first > as_of:  # nothing known yet: no check can say anything
            since = f"its records start {local_time(first, config.tz)}" if first else "it has no records at all"
            raise DataError(
                f"the warehouse holds no PostgreSQL snapshot or backup record of server {server!r} at or before "
                f"{local_time(as_of, config.tz)} (as_of): {since}"
            )
    return CheckContext(con=con, config=config, as_of=as_of.astimezone(UTC), server=server)
