"""Connections and long sessions (sre_lib.analysis.postgres.connections) on a real server and hand-built snapshots."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from pg_checks_scenario import (
    BASE_CONFIG,
    CLIENTS,
    CONFIG,
    LONG_SESSION_SECONDS,
    T0,
    Scenario,
    empty_warehouse,
    env_for,
    insert,
)
from support.servers import PostgresServer

from sre_lib.analysis.postgres import connections
from sre_lib.collect.postgres_snapshot import collect_postgres
from sre_lib.warehouse.store import Warehouse


def test_idle_in_transaction_and_long_running_sessions(scenario: Scenario) -> None:
    con = scenario.con()
    try:
        idle = connections.idle_in_transaction_sessions(con, min_seconds=LONG_SESSION_SECONDS)
        long = connections.long_sessions(con, min_seconds=LONG_SESSION_SECONDS).set_index("pid")
        default = connections.long_sessions(con)
        states = connections.connections_by_state(con, start=scenario.snaps[-1])
    finally:
        con.close()
    assert list(idle["pid"]) == [scenario.idle_pid]
    assert idle["state"].iloc[0] == "idle in transaction" and idle["duration_seconds"].iloc[0] >= LONG_SESSION_SECONDS
    assert long.loc[scenario.active_pid, "state"] == "active"
    assert "pg_sleep(***)" in long.loc[scenario.active_pid, "query"]  # a session text loses its constants
    assert not long.loc[scenario.active_pid, "idle_in_transaction"]
    assert default.empty  # nothing ran for 60 s
    by_state = states.set_index("state")["sessions"]
    assert by_state["idle in transaction"] >= 1 and by_state["active"] >= 1


def test_connections_are_classified_with_the_configured_bands(checks_pg: PostgresServer, tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    opened: list[psycopg.Connection] = []
    try:
        for target in (38, 45):  # of max_connections = 50: 76 % and 90 %
            while len(opened) < target:
                opened.append(psycopg.connect(checks_pg.dsn(dbname="app"), autocommit=True))
            collect_postgres(warehouse, CONFIG, env=env_for(checks_pg))
    finally:
        for con in opened:
            con.close()
    deadline = time.monotonic() + 10
    while checks_pg.execute(CLIENTS)[0][0] > 5 and time.monotonic() < deadline:
        time.sleep(0.05)  # closed sessions' backends exit asynchronously
    collect_postgres(warehouse, CONFIG, env=env_for(checks_pg))
    con = warehouse.open_read_only()
    try:
        usage = connections.connection_usage(con, **connections.connection_bands(BASE_CONFIG))
        summary = connections.connection_summary(con)
    finally:
        con.close()
    assert connections.connection_bands(BASE_CONFIG) == {"warning": 70.0, "critical": 85.0}
    assert list(usage["status"]) == ["warning", "critical", "healthy"]
    assert (usage["percent_used"] == 100 * usage["sessions"] / 50).all()
    assert usage["sessions"].iloc[0] >= 38 and usage["sessions"].iloc[1] >= 45
    assert summary.status == "healthy" and summary.peak_status == "critical"
    assert summary.peak_percent >= 90 and summary.max_connections == 50
    sentences = summary.describe(ZoneInfo("Australia/Sydney"))
    assert sentences[0].startswith(f"{summary.sessions} of 50 connections (max_connections) in use at ")
    states = ", ".join(f"{state} {count}" for state, count in summary.by_state)
    suffix = f" ({states})." if states else "."  # the states now, in the sentence about now (not the peak)
    assert sentences[0].endswith(f": {summary.percent_used:.0f} %, healthy{suffix}")
    assert f"{summary.peak_percent:.0f} % at " in sentences[1] and "(critical)" in sentences[1]
    assert "AEDT" in sentences[1] or "AEST" in sentences[1]


def test_connection_band_edges() -> None:
    con = empty_warehouse()
    sessions = [69, 70, 85, 86]
    insert(con, "pg_snapshots", [{"server": "db", "taken_at": T0 + timedelta(minutes=i), "max_connections": 100}
                                  for i in range(len(sessions))])  # fmt: skip
    insert(con, "pg_activity", [{"server": "db", "taken_at": T0 + timedelta(minutes=i), "datname": "d",
                                  "state": state, "sessions": n // 2 + (n % 2 if state == "idle" else 0)}
                                 for i, n in enumerate(sessions) for state in ("idle", "active")])  # fmt: skip
    usage = connections.connection_usage(con)
    assert list(usage["sessions"]) == sessions
    assert list(usage["status"]) == ["healthy", "warning", "warning", "critical"]
