"""One window type for the PostgreSQL analyses (sre_lib.analysis.postgres.snapshots): the server and the window
resolved once, naive times as UTC, and the snapshots a window keeps."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pg_checks_scenario import T0, empty_warehouse, insert

from sre_lib.analysis.postgres.snapshots import PgWindow, latest_rows, resolve_window
from sre_lib.errors import DataError


def test_the_only_server_is_chosen_and_naive_times_are_utc() -> None:
    con = empty_warehouse()
    insert(con, "pg_snapshots", [{"server": "db", "taken_at": T0, "max_connections": 100}])
    window = resolve_window(con, None, datetime(2026, 1, 1), T0 + timedelta(hours=1))
    assert window == PgWindow("db", T0, T0 + timedelta(hours=1))
    assert resolve_window(con) == PgWindow("db", None, None)


def test_a_server_must_exist_and_be_named_among_several() -> None:
    con = empty_warehouse()
    with pytest.raises(DataError, match="collect"):
        resolve_window(con)
    insert(con, "pg_snapshots", [{"server": s, "taken_at": T0, "max_connections": 100} for s in ("a", "b")])
    with pytest.raises(DataError, match="name one with server="):
        resolve_window(con)
    with pytest.raises(DataError, match="no rows for PostgreSQL server 'c'"):
        resolve_window(con, "c")
    assert resolve_window(con, "b").server == "b"


def test_a_window_keeps_the_snapshots_taken_inside_it_bounds_included() -> None:
    con = empty_warehouse()
    times = [T0 + timedelta(hours=h) for h in range(4)]
    insert(con, "pg_snapshots", [{"server": s, "taken_at": t, "max_connections": 100} for s in "ab" for t in times])
    for window, expected in (
        (PgWindow("a"), times),
        (PgWindow("a", times[1], times[2]), times[1:3]),
        (PgWindow("a", None, times[0]), times[:1]),
    ):
        where, params = window.snapshots_sql("s")
        kept = con.execute(f"SELECT taken_at FROM pg_snapshots s WHERE {where} ORDER BY 1", params).fetchall()
        assert [row[0] for row in kept] == expected
    latest = latest_rows(con, "pg_snapshots", PgWindow("b", None, times[2]))
    assert list(latest["taken_at"]) == [times[2]] and list(latest["server"]) == ["b"]


def test_a_window_is_frozen() -> None:
    with pytest.raises(AttributeError):
        PgWindow("a").server = "b"  # type: ignore[misc]
