"""Top statements and a statement's history (sre_lib.analysis.postgres.queries) on a real PostgreSQL 15's collected
history and hand-built warehouses; the demo data's regression, reset and new slow statement."""

from __future__ import annotations

import html
from datetime import timedelta
from pathlib import Path

import pytest
from pg_statement_history import (
    T0,
    XSS,
    History,
    empty_warehouse,
    insert_snapshots,
)

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
from sre_lib.errors import DataError
from sre_lib.warehouse.store import Warehouse


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


def test_server_must_be_named_when_there_are_several_and_metrics_are_checked() -> None:
    con = empty_warehouse()
    insert_snapshots(con, [0, 0], server="a")
    insert_snapshots(con, [0, 0], server="b")
    with pytest.raises(DataError, match="several PostgreSQL servers"):
        top_statements(con)
    with pytest.raises(DataError, match="no rows for PostgreSQL server 'c'"):
        top_statements(con, server="c")
    with pytest.raises(ValueError, match="by must be one of"):
        top_statements(con, server="a", by="fastest")
    with pytest.raises(ValueError, match=r"start .* must be before end"):
        statement_comparison(con, server="a", start=T0 + timedelta(hours=1), end=T0)
    assert top_statements(con, server="a").empty


def test_statement_html_escapes_markup_and_quotes() -> None:
    assert statement_html("SELECT '<script>x</script>' & \"y\"") == (
        "SELECT &#x27;&lt;script&gt;x&lt;/script&gt;&#x27; &amp; &quot;y&quot;"
    )


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
