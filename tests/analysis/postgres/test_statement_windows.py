"""Windows of statement history (sre_lib.analysis.postgres.statement_windows, .statement_deltas): resets and
evictions inside a window, on the real history and hand-built warehouses; no delta is ever negative."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pg_statement_history import (
    T0,
    History,
    empty_warehouse,
    insert_snapshots,
    insert_statement,
)

from sre_lib.analysis.postgres.queries import (
    top_statements,
    window_summary,
)
from sre_lib.analysis.postgres.statement_deltas import statement_deltas


def test_a_window_spanning_the_reset_says_so_and_nothing_is_negative(history: History) -> None:
    s = history.snaps
    con = history.con()
    try:
        spanning = window_summary(con, start=s[12], end=s[14])
        clean = window_summary(con, start=s[6], end=s[12])
        tops = top_statements(con, start=s[12], end=s[14], limit=None)
        everything = top_statements(con, limit=None)
    finally:
        con.close()
    assert spanning.spans_reset and not spanning.complete
    assert spanning.resets == (s[13],) and spanning.intervals == 2
    assert not clean.spans_reset and clean.complete and clean.intervals == 6 and clean.dealloc == 0
    assert tops["spans_reset"].all()
    regress = tops.set_index("queryid").loc[history.ids["regress"]]
    assert regress["reset"] and regress["calls"] == 4 and regress["total_exec_time_ms"] > 4 * 55
    numeric = everything.select_dtypes("number").drop(columns=["queryid"])
    assert (numeric.fillna(0) >= 0).all().all()
    assert everything["spans_reset"].all()


def test_evictions_inside_a_window_are_flagged() -> None:
    con = empty_warehouse()
    insert_snapshots(con, [0, 0, 0, 3, 3])
    for i, (calls, total) in enumerate([(10, 10.0), (20, 20.0), (30, 30.0), (40, 40.0), (50, 50.0)]):
        insert_statement(con, i, calls, total)
    before = top_statements(con, end=T0 + timedelta(minutes=30))
    spanning = top_statements(con, start=T0 + timedelta(minutes=30))
    summary = window_summary(con, start=T0 + timedelta(minutes=30))
    assert not before["dealloc"].any() and before["calls"].tolist() == [20]
    assert spanning["dealloc"].all() and spanning["calls"].tolist() == [20]
    assert summary.dealloc == 3 and not summary.complete and not summary.spans_reset


def test_a_full_reset_seen_in_stats_reset_flags_the_window_and_counts_from_zero() -> None:
    con = empty_warehouse()
    insert_snapshots(con, [0, 0, 0], reset_at=2)
    for i, (calls, total) in enumerate([(100, 100.0), (150, 150.0), (5, 50.0)]):
        insert_statement(con, i, calls, total)
    tops = top_statements(con)
    assert tops["calls"].tolist() == [55] and tops["total_exec_time_ms"].tolist() == [100.0]
    assert tops["reset"].all() and tops["spans_reset"].all()
    assert window_summary(con).resets == (T0 + timedelta(minutes=30),)
    assert not top_statements(con, end=T0 + timedelta(minutes=15))["spans_reset"].any()


@pytest.mark.parametrize(
    ("rows", "reset", "calls", "plans"),
    [  # (calls, plans, min ms, max ms) at each of two snapshots
        ([(3, 3, 10.0, 30.0), (8, 8, 20.0, 20.0)], True, 8, 8),  # max fell: reset alone, counted from zero
        ([(3, 3, 10.0, 30.0), (8, 8, 9.0, 31.0)], False, 5, 5),  # the range widened: an entry that lived on
        ([(0, 1, 0.0, 0.0), (1, 1, 5.0, 5.0)], False, 1, 0),  # planned, not yet executed: min 0 is no minimum
    ],
)
def test_a_statement_reset_alone_shows_in_its_min_and_max_times(
    rows: list[tuple[int, int, float, float]], reset: bool, calls: int, plans: int
) -> None:
    con = empty_warehouse()
    insert_snapshots(con, [0, 0])
    for i, (n, planned, low, high) in enumerate(rows):
        con.execute(
            "INSERT INTO pg_stat_statements (server, taken_at, userid, dbid, queryid, toplevel, username, datname, "
            "query, calls, plans, total_exec_time_ms, min_exec_time_ms, max_exec_time_ms, rows) "
            "VALUES ('db', ?, 10, 5, 7, true, 'app', 'appdb', 'SELECT 7', ?, ?, ?, ?, ?, ?)",
            [T0 + timedelta(minutes=15 * i), n, planned, 20.0 * n, low, high, n],
        )
    (delta,) = statement_deltas(con).to_dict("records")
    assert (delta["reset"], delta["calls"], delta["plans"]) == (reset, calls, plans)
