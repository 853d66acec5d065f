"""The slow-queries review as the report shows it: one layout per table (headings, formats, the sentence when
empty) and the few frames it filters first. The report notebook only calls these."""

from __future__ import annotations

import dataclasses
from zoneinfo import ZoneInfo

import altair as alt
import duckdb
import pandas as pd

from sre_lib.analysis.postgres import change_points as change_points
from sre_lib.reviews.blocks import Html, TableLayout, local_times
from sre_lib.reviews.charts import STATUS_COLOURS, WIDTH, local_clock
from sre_lib.reviews.slow_queries import TOP_BY_MEAN_MIN_CALLS, SlowQueryReview

REGRESSIONS_LAYOUT = TableLayout(
    {
        "query": "statement", "baseline_mean_exec_time_ms": "mean before", "mean_exec_time_ms": "mean now",
        "ratio": "slower by", "p_value": "p-value", "calls": "calls",
    },
    formats={"baseline_mean_exec_time_ms": "ms", "mean_exec_time_ms": "ms", "ratio": "ratio", "p_value": "p"},
    empty="No statement regressed.",
)  # fmt: skip
NEW_SLOW_LAYOUT = TableLayout(
    {
        "query": "statement", "status": "status", "mean_exec_time_ms": "mean time", "calls": "calls",
        "share_total_time": "share of time",
    },
    formats={"share_total_time": "percent", "mean_exec_time_ms": "ms"},
    empty="No new slow statement.",
)  # fmt: skip
TOP_BY_TOTAL_TIME_LAYOUT = TableLayout(
    {
        "query": "statement", "calls": "calls", "total_exec_time_ms": "total time", "mean_exec_time_ms": "mean time",
        "share_total_time": "share of time", "shared_read_bytes": "read from disk", "spans_reset": "spans a reset",
    },
    formats={
        "share_total_time": "percent", "total_exec_time_ms": "ms", "mean_exec_time_ms": "ms",
        "shared_read_bytes": "bytes",
    },
    empty="No statement ran in the window.",
)  # fmt: skip
TOP_BY_MEAN_TIME_LAYOUT = TableLayout(
    {"query": "statement", "calls": "calls", "mean_exec_time_ms": "mean time", "share_total_time": "share of time"},
    formats={"share_total_time": "percent", "mean_exec_time_ms": "ms"},
    empty=f"No statement ran {TOP_BY_MEAN_MIN_CALLS} times or more in the window.",
)
MAINTENANCE_OVERDUE_LAYOUT = TableLayout(
    {
        "relname": "table", "vacuum_age_days": "since vacuum", "vacuum_overdue": "vacuum overdue",
        "analyze_age_days": "since analyze", "analyze_overdue": "analyze overdue", "n_dead_tup": "dead tuples",
    },
    formats={"vacuum_age_days": "days", "analyze_age_days": "days"},
    empty="No table is overdue for VACUUM or ANALYZE.",
)  # fmt: skip
DEAD_TUPLES_LAYOUT = TableLayout(
    {"relname": "table", "n_live_tup": "live", "n_dead_tup": "dead tuples", "dead_ratio": "dead share"},
    formats={"dead_ratio": "percent"},
    empty="No table holds many dead tuples.",
)
UNUSED_INDEXES_LAYOUT = TableLayout(
    {"relname": "table", "indexrelname": "unused index", "index_bytes": "size", "indexdef": "definition"},
    formats={"index_bytes": "bytes"},
    empty="No unused index (an index counts as unused after a window with no scan of it).",
)
DUPLICATE_INDEXES_LAYOUT = TableLayout(
    {"relname": "table", "indexrelname": "redundant index", "covered_by": "covered by", "index_bytes": "size"},
    formats={"index_bytes": "bytes"},
    empty="No index is covered by another.",
)
INVALID_INDEXES_LAYOUT = TableLayout(
    {"relname": "table", "indexrelname": "invalid index", "action": "what to do"}, empty="No invalid index."
)
SEQ_SCAN_TABLES_LAYOUT = TableLayout(
    {"relname": "table", "n_live_tup": "rows", "seq_scan": "seq scans", "idx_scan": "index scans"},
    empty="No large table is read mostly by sequential scans.",
)
INDEX_SUGGESTIONS_LAYOUT = TableLayout(
    {
        "relname": "table", "action": "suggested index", "statements": "statements", "calls": "calls",
        "total_exec_time_ms": "their time", "share_total_time": "share of time", "query": "costliest statement",
    },
    formats={"total_exec_time_ms": "ms", "share_total_time": "percent"},
    empty="No slow or sequentially scanned statement filters on columns no index leads with.",
)  # fmt: skip
LOW_CACHE_HIT_LAYOUT = TableLayout(
    {"relname": "table", "heap_hit_ratio": "heap hit ratio", "index_hit_ratio": "index hit ratio"},
    formats={"heap_hit_ratio": "percent", "index_hit_ratio": "percent"},
    empty="Every busy table is served from memory (cache hit ratio 99 % or more).",
)
SEQUENCES_LAYOUT = TableLayout(
    {
        "sequencename": "sequence", "data_type": "type", "used_ratio": "used", "days_left": "lasts at its recent pace",
        "status": "status", "action": "what to do",
    },
    formats={"used_ratio": "percent", "days_left": "long_days"},
    empty="No sequence is near its limit.",
)  # fmt: skip
WRAPAROUND_LAYOUT = TableLayout(
    {
        "scope": "scope", "datname": "database", "relname": "table", "percent_used": "% of headroom used",
        "status": "status",
    },
    empty="Transaction-ID wraparound: every database and table is far from it.",
)  # fmt: skip
GROWTH_LAYOUT = TableLayout(
    {"relname": "table", "last_bytes": "size now", "bytes_per_week": "growth per week"},
    formats={"last_bytes": "bytes", "bytes_per_week": "bytes"},
    empty="No table sizes in the window.",
)
LONG_SESSIONS_LAYOUT = TableLayout(
    {
        "pid": "pid", "username": "user", "state": "state", "duration_seconds": "longest seen",
        "started_at": "started", "last_seen": "last seen", "query": "statement",
    },
    formats={"pid": "id", "duration_seconds": "seconds"},
    empty="No session ran a query or sat idle in a transaction for over a minute.",
)  # fmt: skip

#: Which frame of ``SlowQueryReview`` each layout shows (the report's tables, in its order).
SLOW_QUERY_LAYOUTS = {
    "regressions": REGRESSIONS_LAYOUT,
    "new_slow": NEW_SLOW_LAYOUT,
    "top_by_total_time": TOP_BY_TOTAL_TIME_LAYOUT,
    "top_by_mean_time": TOP_BY_MEAN_TIME_LAYOUT,
    "maintenance_overdue": MAINTENANCE_OVERDUE_LAYOUT,
    "dead_tuples": DEAD_TUPLES_LAYOUT,
    "unused_indexes": UNUSED_INDEXES_LAYOUT,
    "duplicate_indexes": DUPLICATE_INDEXES_LAYOUT,
    "invalid_indexes": INVALID_INDEXES_LAYOUT,
    "seq_scan_tables": SEQ_SCAN_TABLES_LAYOUT,
    "index_suggestions": INDEX_SUGGESTIONS_LAYOUT,
    "low_cache_hit": LOW_CACHE_HIT_LAYOUT,
    "sequences": SEQUENCES_LAYOUT,
    "wraparound": WRAPAROUND_LAYOUT,
    "growth": GROWTH_LAYOUT,
    "long_sessions": LONG_SESSIONS_LAYOUT,
}


def top_by_mean_note() -> str:
    """The sentence above the ranking by mean time: which statements it leaves out."""
    return f"Statements called at least {TOP_BY_MEAN_MIN_CALLS} times in the window (one-off queries left out)."


def wraparound_at_risk(wraparound: pd.DataFrame) -> pd.DataFrame:
    """The databases and tables whose transaction-ID headroom is not "ok"."""
    return wraparound[wraparound["status"] != "ok"]


def long_session_rows(long_sessions: pd.DataFrame, tz: ZoneInfo) -> pd.DataFrame:
    """The long sessions with their start and last sighting in local time."""
    return local_times(long_sessions, tz, ["started_at", "last_seen"])


#: The tables that need snapshot deltas (two snapshots in the window): with none, they say so when empty.
DELTA_TABLES = frozenset(
    {
        "top_by_total_time",
        "top_by_mean_time",
        "unused_indexes",
        "seq_scan_tables",
        "low_cache_hit",
        "growth",
        "index_suggestions",
    }
)


def section_table(review: SlowQueryReview, name: str, frame: pd.DataFrame | None = None) -> Html:
    """The review's table ``name`` (or ``frame``, a view of it) as its layout shows it; when empty for want of
    history, the sentence saying what it needs and has instead of "nothing found"."""
    layout = SLOW_QUERY_LAYOUTS[name]
    lacking = {
        "regressions": review.history.regressions_note(),
        "new_slow": review.history.new_slow_note(),
        "unused_indexes": review.history.unused_indexes_note(),
    }.get(name) or (review.history.deltas_note() if name in DELTA_TABLES else None)
    if lacking:
        layout = dataclasses.replace(layout, empty=lacking)
    return layout.render(getattr(review, name) if frame is None else frame)


def change_point_chart(
    con: duckdb.DuckDBPyConnection, review: SlowQueryReview, tz: ZoneInfo
) -> alt.VConcatChart | None:
    """Per regressed statement with a change point, its mean time per call per snapshot interval (log scale) over
    baseline and window, the moment it stepped (red rule) and the means before and after (dashed); None when
    no regression was dated. Times are wall-clock in ``tz``."""
    changes = review.change_points
    if changes.empty:
        return None
    series = change_points.mean_time_series(con, review.server, review.baseline_start, review.end,
                                            list(changes["queryid"]))  # fmt: skip
    queries = review.regressions.drop_duplicates("queryid").set_index("queryid")["query"]
    charts = []
    for change in changes.itertuples():
        points = local_clock(series[series["queryid"] == change.queryid], ["interval_end"], tz)
        moment = local_clock(pd.DataFrame({"at": [change.changed_at]}), ["at"], tz)
        first, last = points["interval_end"].min(), points["interval_end"].max()
        at = moment["at"].iloc[0]
        means = pd.DataFrame({"from": [first, at], "to": [at, last],
                              "mean_ms": [change.before_mean_ms, change.after_mean_ms]})  # fmt: skip
        y_axis = alt.Y("mean_ms:Q", title="ms per call", scale=alt.Scale(type="log"))
        line = alt.Chart(points).mark_line(strokeWidth=1).encode(x=alt.X("interval_end:T", title=None), y=y_axis)
        steps = (
            alt.Chart(means).mark_rule(strokeDash=[6, 4], color="black").encode(x="from:T", x2="to:T", y="mean_ms:Q")
        )
        rule = alt.Chart(moment).mark_rule(color=STATUS_COLOURS["critical"], strokeWidth=2).encode(x="at:T")
        query = " ".join(str(queries.get(change.queryid, change.queryid)).split())
        stepped = f"{change.before_mean_ms:.1f} -> {change.after_mean_ms:.1f} ms per call at {at:%Y-%m-%d %H:%M}"
        title = [query if len(query) <= 100 else query[:99] + "…", f"{stepped} ({tz.key} time)"]
        charts.append(alt.layer(line, steps, rule).properties(title=title, width=WIDTH, height=180))
    return alt.vconcat(*charts)
