"""Connections over a window: sessions as a share of max_connections per snapshot with its band, sessions by
state, a summary for reports, and the long-running and idle-in-transaction sessions the collector saw.
Gauges: the snapshots taken in ``[start, end]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pandas as pd

from sre_lib.analysis.postgres.snapshots import Instant, PgWindow, resolve_window
from sre_lib.config import PlatformConfig
from sre_lib.errors import DataError

__all__ = [
    "CONNECTIONS_CRITICAL_PERCENT",
    "CONNECTIONS_WARNING_PERCENT",
    "LONG_SESSION_SECONDS",
    "ConnectionSummary",
    "connection_bands",
    "connection_summary",
    "connection_usage",
    "connections_by_state",
    "idle_in_transaction_sessions",
    "long_sessions",
]

#: Connections used as % of max_connections: warning from this (the seed's db_connections band) ...
CONNECTIONS_WARNING_PERCENT = 70.0
#: ... critical above this.
CONNECTIONS_CRITICAL_PERCENT = 85.0


def connection_bands(config: PlatformConfig) -> dict[str, float]:
    """The config's db_connections bands as keyword arguments: ``connection_usage(con, **connection_bands(c))``."""
    band = config.indicators.get("db_connections")
    if band is None:
        return {"warning": CONNECTIONS_WARNING_PERCENT, "critical": CONNECTIONS_CRITICAL_PERCENT}
    return {"warning": band.warning, "critical": band.critical}


def _band(percent: pd.Series, warning: float, critical: float) -> np.ndarray:
    return np.select([percent > critical, percent >= warning], ["critical", "warning"], "healthy")


def connection_usage(
    con: duckdb.DuckDBPyConnection,
    server: str | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    warning: float = CONNECTIONS_WARNING_PERCENT,
    critical: float = CONNECTIONS_CRITICAL_PERCENT,
) -> pd.DataFrame:
    """Per snapshot in [start, end]: client sessions (all states, the collector's own excluded) as
    ``percent_used`` of max_connections, and its ``status``: healthy below ``warning``, warning from
    ``warning`` up to ``critical``, critical above ``critical`` (the health module's rule)."""
    return _usage_in(con, resolve_window(con, server, start, end, "pg_snapshots"), warning=warning, critical=critical)


def _usage_in(
    con: duckdb.DuckDBPyConnection,
    window: PgWindow,
    *,
    warning: float = CONNECTIONS_WARNING_PERCENT,
    critical: float = CONNECTIONS_CRITICAL_PERCENT,
) -> pd.DataFrame:
    """``connection_usage`` over a window already resolved."""
    where, params = window.snapshots_sql("s")
    frame = con.execute(
        f"""
        SELECT s.server, s.taken_at, coalesce(sum(a.sessions), 0)::BIGINT AS sessions, s.max_connections,
               coalesce(sum(a.sessions) FILTER (WHERE a.state = 'active'), 0)::BIGINT AS active,
               coalesce(sum(a.sessions) FILTER (WHERE a.state LIKE 'idle in transaction%'), 0)::BIGINT
                   AS idle_in_transaction,
               coalesce(sum(a.waiting), 0)::BIGINT AS waiting
        FROM pg_snapshots s LEFT JOIN pg_activity a USING (server, taken_at)
        WHERE {where}
        GROUP BY s.server, s.taken_at, s.max_connections
        ORDER BY s.taken_at
        """,
        params,
    ).df()
    frame["percent_used"] = (100.0 * frame["sessions"] / frame["max_connections"]).astype("float64")
    frame["status"] = _band(frame["percent_used"], warning, critical)
    return frame


def connections_by_state(
    con: duckdb.DuckDBPyConnection, server: str | None = None, start: Instant | None = None, end: Instant | None = None
) -> pd.DataFrame:
    """Per snapshot in [start, end] and session state: sessions, those waiting on a lock, and the longest
    running query / open transaction in seconds, over all databases."""
    return _by_state_in(con, resolve_window(con, server, start, end, "pg_activity"))


def _by_state_in(con: duckdb.DuckDBPyConnection, window: PgWindow) -> pd.DataFrame:
    """``connections_by_state`` over a window already resolved."""
    where, params = window.snapshots_sql()
    return con.execute(
        f"""
        SELECT server, taken_at, state, sum(sessions)::BIGINT AS sessions, sum(waiting)::BIGINT AS waiting,
               max(longest_query_seconds) AS longest_query_seconds, max(longest_xact_seconds) AS longest_xact_seconds
        FROM pg_activity
        WHERE {where}
        GROUP BY server, taken_at, state ORDER BY taken_at, sessions DESC, state
        """,
        params,
    ).df()


@dataclass(frozen=True)
class ConnectionSummary:
    """Connections at the latest snapshot of a window, and the window's peak."""

    server: str
    as_of: datetime
    sessions: int
    max_connections: int
    percent_used: float
    status: str
    peak_percent: float
    peak_at: datetime
    peak_status: str
    by_state: tuple[tuple[str, int], ...]

    def describe(self, tz: ZoneInfo | None = None) -> list[str]:
        """The summary as sentences for a report, times in ``tz`` (default UTC)."""

        def when(moment: datetime) -> str:
            return moment.astimezone(tz or UTC).strftime("%Y-%m-%d %H:%M %Z")

        states = ", ".join(f"{state} {count:,}" for state, count in self.by_state)
        return [
            f"{self.sessions:,} of {self.max_connections:,} connections (max_connections) in use at "
            f"{when(self.as_of)}: {self.percent_used:.0f} %, {self.status}" + (f" ({states})." if states else "."),
            f"Busiest moment of the window: {self.peak_percent:.0f} % at {when(self.peak_at)} ({self.peak_status}).",
        ]


def connection_summary(
    con: duckdb.DuckDBPyConnection,
    server: str | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    warning: float = CONNECTIONS_WARNING_PERCENT,
    critical: float = CONNECTIONS_CRITICAL_PERCENT,
) -> ConnectionSummary:
    """The latest snapshot's usage, status and sessions by state, and the peak over [start, end]."""
    window = resolve_window(con, server, start, end, "pg_snapshots")
    usage = _usage_in(con, window, warning=warning, critical=critical)
    if usage.empty:
        raise DataError(f"pg_snapshots: no snapshot between {start} and {end}")
    last = usage.iloc[-1]
    peak = usage.loc[usage["percent_used"].idxmax()]
    states = connections_by_state(con, window.server, last["taken_at"], last["taken_at"])
    return ConnectionSummary(
        server=str(last["server"]),
        as_of=pd.Timestamp(last["taken_at"]).to_pydatetime(),
        sessions=int(last["sessions"]),
        max_connections=int(last["max_connections"]),
        percent_used=float(last["percent_used"]),
        status=str(last["status"]),
        peak_percent=float(peak["percent_used"]),
        peak_at=pd.Timestamp(peak["taken_at"]).to_pydatetime(),
        peak_status=str(peak["status"]),
        by_state=tuple((str(s), int(n)) for s, n in zip(states["state"], states["sessions"], strict=True)),
    )


#: Long-running sessions: an active query or an open transaction at least this old.
LONG_SESSION_SECONDS = 60.0


def long_sessions(
    con: duckdb.DuckDBPyConnection,
    server: str | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    min_seconds: float = LONG_SESSION_SECONDS,
) -> pd.DataFrame:
    """Sessions seen in pg_long_sessions in [start, end] running a query, or idle in a transaction, for at
    least ``min_seconds`` (the collector stores those above its own long_session_seconds). One row per session
    (pid and transaction or query start): first/last seen, the longest duration observed, the latest state
    and query (first 1000 characters), and ``idle_in_transaction``. Longest first."""
    where, params = resolve_window(con, server, start, end, "pg_long_sessions").snapshots_sql()
    return con.execute(
        f"""
        SELECT server, pid, coalesce(xact_start, query_start) AS started_at, any_value(datname) AS datname,
               any_value(username) AS username, any_value(application) AS application,
               arg_max(state, taken_at) AS state, min(taken_at) AS first_seen, max(taken_at) AS last_seen,
               max(duration_seconds) AS duration_seconds, arg_max(query, taken_at) AS query,
               bool_or(state LIKE 'idle in transaction%') AS idle_in_transaction
        FROM pg_long_sessions
        WHERE {where}
        GROUP BY server, pid, coalesce(xact_start, query_start)
        HAVING max(duration_seconds) >= ?
        ORDER BY duration_seconds DESC, pid
        """,
        [*params, min_seconds],
    ).df()


def idle_in_transaction_sessions(
    con: duckdb.DuckDBPyConnection,
    server: str | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    min_seconds: float = LONG_SESSION_SECONDS,
) -> pd.DataFrame:
    """The ``long_sessions`` that were idle in a transaction (holding locks and snapshots, blocking VACUUM)."""
    sessions = long_sessions(con, server, start, end, min_seconds=min_seconds)
    return sessions[sessions["idle_in_transaction"].fillna(False).astype(bool)].reset_index(drop=True)
