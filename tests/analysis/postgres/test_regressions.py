"""Regressions and new slow statements against a baseline (sre_lib.analysis.postgres.regressions) on a real
PostgreSQL 15's collected history and a PG 12-shaped hand-built one."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from pg_statement_history import (
    T0,
    History,
    baseline_and_window,
    empty_warehouse,
    insert_statement,
)

from sre_lib.analysis.postgres import queries as pg_queries
from sre_lib.analysis.postgres.queries import (
    new_slow_statements,
    regressions,
    statement_comparison,
)


def test_the_regressed_statement_is_flagged_and_the_stable_one_is_not(history: History) -> None:
    con = history.con()
    try:
        compared = statement_comparison(con, **baseline_and_window(history)).set_index("queryid")
        flagged = regressions(con, **baseline_and_window(history))
    finally:
        con.close()
    regress, stable = compared.loc[history.ids["regress"]], compared.loc[history.ids["stable"]]
    assert regress["regressed"]
    assert regress["p_value"] < pg_queries.REGRESSION_ALPHA
    assert (regress["n_baseline"], regress["n_window"]) == (6, 6)
    assert regress["ratio"] > 10 and regress["increase_ms"] > 40
    assert regress["test"].startswith("Mann-Whitney U, one-sided")
    assert regress["baseline_calls"] == 18 and regress["calls"] == 18
    assert not stable["regressed"]
    assert 0.5 < stable["ratio"] < 1.5
    assert history.ids["regress"] in set(flagged["queryid"])
    assert history.ids["stable"] not in set(flagged["queryid"])
    assert flagged["regressed"].all()
    assert (flagged["ratio"] >= 1.5).all() and (flagged["increase_ms"] >= 5).all()


def test_a_regression_needs_enough_intervals_and_a_large_enough_effect(history: History) -> None:
    con = history.con()
    try:
        too_few = statement_comparison(con, **baseline_and_window(history), min_intervals=7)
        tiny = statement_comparison(con, **baseline_and_window(history), min_ratio=100.0)
    finally:
        con.close()
    row = too_few.set_index("queryid").loc[history.ids["regress"]]
    assert pd.isna(row["p_value"]) and not row["regressed"]
    assert not tiny["regressed"].any()


def test_new_slow_statements_are_new_or_were_fast(history: History) -> None:
    con = history.con()
    try:
        found = new_slow_statements(con, **baseline_and_window(history), min_calls=10).set_index("queryid")
        default = new_slow_statements(con, **baseline_and_window(history))
        before = new_slow_statements(con, start=history.snaps[3], end=history.snaps[6], min_calls=1)
    finally:
        con.close()
    assert found.loc[history.ids["new"], "status"] == "new"
    assert found.loc[history.ids["new"], "calls"] == 12
    assert found.loc[history.ids["regress"], "status"] == "was fast"
    assert found.loc[history.ids["regress"], "baseline_mean_exec_time_ms"] < 50
    assert history.ids["stable"] not in found.index
    assert (found["mean_exec_time_ms"] > 50).all()
    assert default.empty  # 18 and 12 calls: under NEW_SLOW_MIN_CALLS (50)
    assert history.ids["regress"] not in set(before["queryid"])  # 1 ms then: not slow


def test_regressions_on_pg12_shaped_history_without_toplevel_or_stats_reset() -> None:
    con = empty_warehouse()
    for i in range(13):
        con.execute("INSERT INTO pg_snapshots (server, taken_at, server_version_num, max_connections) "
                    "VALUES ('db', ?, 120000, 100)", [T0 + timedelta(minutes=15 * i)])  # fmt: skip
        slow = sum(300.0 + k if k > 6 else 10.0 + k / 10 for k in range(1, i + 1))  # no ties: exact test
        insert_statement(con, i, 10 * i, slow, queryid=7, toplevel=None)
        insert_statement(con, i, 10 * i, sum(50.0 + k % 3 for k in range(1, i + 1)), queryid=8, toplevel=None)
    at = [T0 + timedelta(minutes=15 * i) for i in range(13)]
    windows = {"start": at[6], "end": at[12], "baseline_start": at[0], "baseline_end": at[6]}
    compared = statement_comparison(con, **windows).set_index("queryid")
    assert compared.loc[7, "regressed"] and not compared.loc[8, "regressed"]
    assert compared.loc[7, "p_value"] == pytest.approx(1 / 924)  # exact: all 6 window means above all 6 baseline
    assert compared.loc[7, "ratio"] == pytest.approx(30.95 / 1.035) and pd.isna(compared.loc[7, "toplevel"])
    assert list(regressions(con, **windows)["queryid"]) == [7]
    assert list(new_slow_statements(con, **windows, min_mean_ms=20, min_calls=10)["status"]) == ["was fast"]
    before_history = {"start": at[6], "end": at[12], "baseline_start": T0 - timedelta(days=2), "baseline_end": T0}
    for judged, name in (
        (regressions(con, **before_history), "regressions"),
        (new_slow_statements(con, **before_history, min_mean_ms=20, min_calls=10), "new slow"),
    ):
        assert judged.empty, f"{name}: a baseline with no snapshot interval judges nothing"  # fmt: skip
    assert list(regressions(con, **before_history).columns) == list(regressions(con, **windows).columns)
