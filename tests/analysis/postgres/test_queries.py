"""Slow-query analyses (analysis.postgres.queries) against a real PostgreSQL 15 made to show each finding,
collected with the real collector between actions; reset/eviction edge cases on hand-built warehouses; the demo data."""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import psycopg
import pytest
from support.servers import PostgresServer, postgres_server

from sre_lib.analysis.postgres import queries as pg_queries
from sre_lib.analysis.postgres.queries import (
    new_slow_statements,
    regressions,
    statement_comparison,
    statement_history,
    statement_html,
    top_statements,
    window_summary,
)
from sre_lib.analysis.postgres.statement_deltas import statement_deltas
from sre_lib.collect.postgres_snapshot import collect_postgres
from sre_lib.config import DEFAULT_CONFIG_PATH, load_config
from sre_lib.errors import DataError
from sre_lib.warehouse.store import Warehouse, schema_sql

PASSWORD = "Analysis-Test-Pw-1"
CONFIG = load_config(DEFAULT_CONFIG_PATH)
REGRESS = "SELECT pg_sleep($1)"
STABLE = "SELECT pg_sleep($1), abs($2::int)"
NEW = "SELECT pg_sleep($1), length($2::text)"
XSS = "SELECT length($1::text) AS x /* <script>alert('pwned')</script> */"
ROWS = "SELECT generate_series($1::int, $2::int) AS many_rows"
CHATTY = "SELECT abs($1::int) AS chatty"
SPILL = "SELECT count(*) FROM (SELECT g FROM generate_series($1::int, $2::int) g ORDER BY g DESC) s"
READS = "SELECT count(*) FROM big_read"
BASELINE_SNAPSHOTS = WINDOW_SNAPSHOTS = 6


def _ps(text: str) -> str:
    """The statement with psycopg placeholders: the server sees $1, $2 again, as pg_stat_statements shows."""
    return text.replace("$1", "%s").replace("$2", "%s")


def env_for(pg: PostgresServer) -> dict[str, str]:
    return {"PGHOST": "127.0.0.1", "PGPORT": str(pg.port), "PGUSER": "monitor", "PGDATABASE": "app",
            "PGPASSWORD": PASSWORD}  # fmt: skip


@dataclass(frozen=True)
class History:
    """A warehouse of snapshots: 0, six baseline intervals (1-6), six window intervals (7-12) in which
    REGRESS went from 1 ms to 60 ms and NEW (52 ms) appeared, then pg_stat_statements_reset() inside interval 13."""

    warehouse: Warehouse
    snaps: tuple[datetime, ...]
    ids: dict[str, int]

    def con(self) -> duckdb.DuckDBPyConnection:
        return self.warehouse.open_read_only()


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    with postgres_server({"shared_buffers": "'2MB'"}) as server:
        server.execute("CREATE DATABASE app")
        server.execute("CREATE EXTENSION pg_stat_statements", dbname="app")
        server.execute(f"CREATE ROLE monitor LOGIN PASSWORD '{PASSWORD}' IN ROLE pg_monitor")
        server.execute(
            "CREATE TABLE big_read AS SELECT g AS id, repeat('x', 200) AS pad FROM generate_series(1, 20000) g",
            dbname="app",
        )
        yield server


@pytest.fixture(scope="module")
def history(pg: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> History:
    warehouse = Warehouse(tmp_path_factory.mktemp("pgq") / "w.duckdb")
    snaps = [collect_postgres(warehouse, CONFIG, env=env_for(pg)).taken_at]
    with psycopg.connect(pg.dsn(dbname="app"), autocommit=True) as app:
        for phase in range(BASELINE_SNAPSHOTS + WINDOW_SNAPSHOTS):
            slow = phase >= BASELINE_SNAPSHOTS
            for _ in range(3):
                app.execute("SELECT pg_sleep(%s)", [0.06 if slow else 0.001])
                app.execute(_ps(STABLE), [0.01, 1])
            if slow:
                for _ in range(2):
                    app.execute(_ps(NEW), [0.052, "x"])
            if phase == BASELINE_SNAPSHOTS:
                app.execute(_ps(XSS), ["x"])
                app.execute(_ps(ROWS), [1, 5000])
                app.execute("SET work_mem = '64kB'")
                app.execute(_ps(SPILL), [1, 200_000])
                app.execute("RESET work_mem")
                app.execute(READS)
                for _ in range(60):
                    app.execute(_ps(CHATTY), [1])
            snaps.append(collect_postgres(warehouse, CONFIG, env=env_for(pg)).taken_at)
        app.execute("SELECT pg_stat_statements_reset()")
        for _ in range(2):
            app.execute("SELECT pg_sleep(%s)", [0.06])
            app.execute("SELECT pg_sleep(%s)", [0.06])
            snaps.append(collect_postgres(warehouse, CONFIG, env=env_for(pg)).taken_at)
    con = warehouse.open_read_only()
    try:
        texts = dict(con.execute("SELECT DISTINCT query, queryid FROM pg_stat_statements").fetchall())
    finally:
        con.close()
    ids = {name: texts[text] for name, text in
           {"regress": REGRESS, "stable": STABLE, "new": NEW, "xss": XSS, "rows": ROWS, "chatty": CHATTY,
            "spill": SPILL, "reads": READS}.items()}  # fmt: skip
    return History(warehouse=warehouse, snaps=tuple(snaps), ids=ids)


def _baseline_and_window(h: History) -> dict[str, datetime]:
    s = h.snaps
    return {"start": s[6], "end": s[12], "baseline_start": s[0], "baseline_end": s[6]}


# ------------------------------------------------------------------------------------------ real server


def test_the_regressed_statement_is_flagged_and_the_stable_one_is_not(history: History) -> None:
    con = history.con()
    try:
        compared = statement_comparison(con, **_baseline_and_window(history)).set_index("queryid")
        flagged = regressions(con, **_baseline_and_window(history))
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
        too_few = statement_comparison(con, **_baseline_and_window(history), min_intervals=7)
        tiny = statement_comparison(con, **_baseline_and_window(history), min_ratio=100.0)
    finally:
        con.close()
    row = too_few.set_index("queryid").loc[history.ids["regress"]]
    assert pd.isna(row["p_value"]) and not row["regressed"]
    assert not tiny["regressed"].any()


def test_new_slow_statements_are_new_or_were_fast(history: History) -> None:
    con = history.con()
    try:
        found = new_slow_statements(con, **_baseline_and_window(history), min_calls=10).set_index("queryid")
        default = new_slow_statements(con, **_baseline_and_window(history))
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


def test_top_statements_rank_each_metric_with_its_share(history: History) -> None:
    window = {"start": history.snaps[6], "end": history.snaps[12]}
    con = history.con()
    try:
        tops = {by: top_statements(con, **window, by=by, limit=None) for by in pg_queries.TOP_METRICS}
        by_mean = top_statements(con, **window, by="mean_time", min_calls=2)
        three = top_statements(con, **window, limit=3)
    finally:
        con.close()
    ids = history.ids
    first = {by: frame["queryid"].iloc[0] for by, frame in tops.items()}
    assert first == {
        "total_time": ids["regress"],
        "mean_time": first["mean_time"],  # a single heavy statement may win: see by_mean
        "calls": ids["chatty"],
        "rows": ids["rows"],
        "shared_blks_read": ids["reads"],
        "temp_blks_written": ids["spill"],
    }
    assert by_mean["queryid"].iloc[0] == ids["regress"] and (by_mean["calls"] >= 2).all()
    total = tops["total_time"]
    regress = total.set_index("queryid").loc[ids["regress"]]
    assert regress["calls"] == 18 and 55 < regress["mean_exec_time_ms"] < 200
    for by, (column, share) in pg_queries.TOP_METRICS.items():
        frame = tops[by]
        assert frame[column].is_monotonic_decreasing, by
        if share:
            assert frame[share].sum() == pytest.approx(1.0)  # every statement here is top-level
            assert frame[share].iloc[0] == pytest.approx(frame[column].iloc[0] / frame[column].sum())
    assert tops["rows"]["rows"].iloc[0] == 5000
    assert tops["calls"]["calls"].iloc[0] == 60
    assert tops["temp_blks_written"]["temp_blks_written"].iloc[0] > 0
    assert not total["spans_reset"].any() and not total["reset"].any() and not total["dealloc"].any()
    assert list(three["queryid"]) == list(total["queryid"].iloc[:3])


def test_statement_text_is_returned_as_normalised_and_escaped_only_by_statement_html(history: History) -> None:
    con = history.con()
    try:
        tops = top_statements(con, limit=None)
    finally:
        con.close()
    text = tops.set_index("queryid").loc[history.ids["xss"], "query"]
    assert text == XSS
    escaped = statement_html(text)
    assert "<script>" not in escaped and "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in escaped
    assert html.unescape(escaped) == text


def test_statement_history_shows_the_jump_and_the_reset(history: History) -> None:
    con = history.con()
    try:
        hist = statement_history(con, history.ids["regress"])
    finally:
        con.close()
    assert list(hist["interval_end"]) == list(history.snaps[1:])
    assert list(hist["calls"]) == [3] * 12 + [2, 2]
    assert (hist["mean_exec_time_ms"].iloc[:6] < 20).all()
    assert (hist["mean_exec_time_ms"].iloc[6:] > 55).all()
    assert list(hist["reset"]) == [False] * 12 + [True, False]
    assert (hist[["calls", "total_exec_time_ms", "rows"]] >= 0).all().all()


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


# ------------------------------------------------------------------------------------------ hand-built


def _empty_warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(schema_sql())
    return con


T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _snapshots(con: duckdb.DuckDBPyConnection, dealloc: list[int], server: str = "db", reset_at: int | None = None):
    for i, evicted in enumerate(dealloc):
        stats_reset = T0 - timedelta(days=1) if reset_at is None or i < reset_at else T0 + timedelta(minutes=i)
        con.execute("INSERT INTO pg_snapshots VALUES (?, ?, 150000, '1.10', 100, ?, ?)",
                    [server, T0 + timedelta(minutes=15 * i), evicted, stats_reset])  # fmt: skip


def _statement(
    con: duckdb.DuckDBPyConnection, i: int, calls: int, total_ms: float, queryid: int = 7, toplevel: bool | None = True
) -> None:
    con.execute(
        "INSERT INTO pg_stat_statements (server, taken_at, userid, dbid, queryid, toplevel, username, datname, query,"
        " calls, total_exec_time_ms, rows) VALUES ('db', ?, 10, 5, ?, ?, 'app', 'appdb', ?, ?, ?, ?)",
        [T0 + timedelta(minutes=15 * i), queryid, toplevel, f"SELECT {queryid}", calls, total_ms, calls],
    )


def test_regressions_on_pg12_shaped_history_without_toplevel_or_stats_reset() -> None:
    con = _empty_warehouse()
    for i in range(13):
        con.execute("INSERT INTO pg_snapshots (server, taken_at, server_version_num, max_connections) "
                    "VALUES ('db', ?, 120000, 100)", [T0 + timedelta(minutes=15 * i)])  # fmt: skip
        slow = sum(300.0 + k if k > 6 else 10.0 + k / 10 for k in range(1, i + 1))  # no ties: exact test
        _statement(con, i, 10 * i, slow, queryid=7, toplevel=None)
        _statement(con, i, 10 * i, sum(50.0 + k % 3 for k in range(1, i + 1)), queryid=8, toplevel=None)
    at = [T0 + timedelta(minutes=15 * i) for i in range(13)]
    windows = {"start": at[6], "end": at[12], "baseline_start": at[0], "baseline_end": at[6]}
    compared = statement_comparison(con, **windows).set_index("queryid")
    assert compared.loc[7, "regressed"] and not compared.loc[8, "regressed"]
    assert compared.loc[7, "p_value"] == pytest.approx(1 / 924)  # exact: all 6 window means above all 6 baseline
    assert compared.loc[7, "ratio"] == pytest.approx(30.95 / 1.035) and pd.isna(compared.loc[7, "toplevel"])
    assert list(regressions(con, **windows)["queryid"]) == [7]
    assert list(new_slow_statements(con, **windows, min_mean_ms=20, min_calls=10)["status"]) == ["was fast"]
    with pytest.raises(DataError, match=r"baseline window .* holds no snapshot interval"):
        regressions(con, start=at[6], end=at[12], baseline_start=T0 - timedelta(days=2), baseline_end=T0)


def test_evictions_inside_a_window_are_flagged() -> None:
    con = _empty_warehouse()
    _snapshots(con, [0, 0, 0, 3, 3])
    for i, (calls, total) in enumerate([(10, 10.0), (20, 20.0), (30, 30.0), (40, 40.0), (50, 50.0)]):
        _statement(con, i, calls, total)
    before = top_statements(con, end=T0 + timedelta(minutes=30))
    spanning = top_statements(con, start=T0 + timedelta(minutes=30))
    summary = window_summary(con, start=T0 + timedelta(minutes=30))
    assert not before["dealloc"].any() and before["calls"].tolist() == [20]
    assert spanning["dealloc"].all() and spanning["calls"].tolist() == [20]
    assert summary.dealloc == 3 and not summary.complete and not summary.spans_reset


def test_a_full_reset_seen_in_stats_reset_flags_the_window_and_counts_from_zero() -> None:
    con = _empty_warehouse()
    _snapshots(con, [0, 0, 0], reset_at=2)
    for i, (calls, total) in enumerate([(100, 100.0), (150, 150.0), (5, 50.0)]):
        _statement(con, i, calls, total)
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
    con = _empty_warehouse()
    _snapshots(con, [0, 0])
    for i, (n, planned, low, high) in enumerate(rows):
        con.execute(
            "INSERT INTO pg_stat_statements (server, taken_at, userid, dbid, queryid, toplevel, username, datname, "
            "query, calls, plans, total_exec_time_ms, min_exec_time_ms, max_exec_time_ms, rows) "
            "VALUES ('db', ?, 10, 5, 7, true, 'app', 'appdb', 'SELECT 7', ?, ?, ?, ?, ?, ?)",
            [T0 + timedelta(minutes=15 * i), n, planned, 20.0 * n, low, high, n],
        )
    (delta,) = statement_deltas(con).to_dict("records")
    assert (delta["reset"], delta["calls"], delta["plans"]) == (reset, calls, plans)


def test_server_must_be_named_when_there_are_several_and_metrics_are_checked() -> None:
    con = _empty_warehouse()
    _snapshots(con, [0, 0], server="a")
    _snapshots(con, [0, 0], server="b")
    with pytest.raises(DataError, match="several PostgreSQL servers"):
        top_statements(con)
    with pytest.raises(DataError, match="no rows for PostgreSQL server 'c'"):
        top_statements(con, server="c")
    with pytest.raises(DataError, match="by must be one of"):
        top_statements(con, server="a", by="fastest")
    with pytest.raises(DataError, match=r"start .* must be before end"):
        statement_comparison(con, server="a", start=T0 + timedelta(hours=1), end=T0)
    assert top_statements(con, server="a").empty


def test_statement_html_escapes_markup_and_quotes() -> None:
    assert statement_html("SELECT '<script>x</script>' & \"y\"") == (
        "SELECT &#x27;&lt;script&gt;x&lt;/script&gt;&#x27; &amp; &quot;y&quot;"
    )


# ------------------------------------------------------------------------------------------------ demo


def test_the_demo_regression_reset_and_new_slow_statement_are_found(demo_warehouse: Path) -> None:
    from sre_lib.demo import postgres_history as demo
    from sre_lib.demo.spec import DemoSpec

    spec = DemoSpec()
    con = Warehouse(demo_warehouse).open_read_only()
    try:
        day = spec.at_day
        regressed = regressions(con, start=day(demo.REGRESSION_DAY), end=day(demo.REGRESSION_DAY + 3))
        stable = regressions(con, start=day(demo.REGRESSION_DAY - 6), end=day(demo.REGRESSION_DAY - 3))
        new = new_slow_statements(con, start=day(demo.NEW_STATEMENT_DAY - 0.5), end=spec.end)
        around_reset = window_summary(con, start=day(demo.RESET_DAY - 1), end=day(demo.RESET_DAY + 1))
        tops = top_statements(con, start=day(demo.RESET_DAY - 1), end=day(demo.RESET_DAY + 1), limit=None)
        xss = top_statements(con, start=day(88), limit=None)
    finally:
        con.close()
    assert list(regressed["query"]) == [demo.REGRESSION_QUERY]
    assert regressed["ratio"].iloc[0] > 3
    assert stable.empty
    assert list(new.loc[new["status"] == "new", "query"]) == [demo.NEW_SLOW_QUERY]
    # the regressed statement crosses 50 ms inside this window too: slow now, fast before
    assert set(new.loc[new["status"] == "was fast", "query"]) <= {demo.REGRESSION_QUERY}
    assert around_reset.spans_reset and tops["spans_reset"].all()
    assert (tops.select_dtypes("number").drop(columns=["queryid"]).fillna(0) >= 0).all().all()
    assert demo.XSS_QUERY in set(xss["query"])
    assert "<script>" not in statement_html(demo.XSS_QUERY)
