"""The slow-queries review: statements, regressions, maintenance debt and connections in one verdict.

Joins the PgHero-style checks of ``pg_queries`` and ``pg_maintenance`` over a window (default: the week up to
the newest snapshot; any duration: ``30m``, ``2h``, ``7d``) against the baseline before it. Young or quiet data
is no error: from the first snapshot the review renders, and ``history`` says what the window and the baseline
hold and what the sections that need more (deltas, regressions) still wait for.

Verdict: **critical** when a statement regressed, a sequence or the transaction-ID horizon is critical, or
connections are critical; **warning** for any other finding, except a sequence near its limit that lasts
more than two years at its recent pace (listed last, as a note); **healthy** when nothing else is found.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd

from sre_lib.analysis.postgres import change_points as change_points
from sre_lib.analysis.postgres import index_advice as index_advice
from sre_lib.analysis.postgres import maintenance as maintenance
from sre_lib.analysis.postgres import queries as queries
from sre_lib.config import PlatformConfig
from sre_lib.durations import human_duration, parse_duration, rough_duration
from sre_lib.errors import DataError
from sre_lib.units import human_bytes, human_p_value

#: The ranking by mean time leaves out statements called fewer times than this in the window (one-off ad-hoc
#: queries and migrations), but keeps a daily job: a 4-minute nightly report is exactly what it should show.
TOP_BY_MEAN_MIN_CALLS = 5


#: An index is called unused only when a window of at least this long watched it unscanned: minutes without
#: a scan say nothing of the index a nightly job reads.
UNUSED_INDEX_MIN_WATCH = timedelta(days=1)


#: PostgreSQL's block size (the default, and nearly universal): turns shared_blks_read into bytes.
BLOCK_BYTES = 8192


@dataclass(frozen=True)
class HistoryCoverage:
    """How much history the review stands on: snapshots up to the window's end, and snapshot intervals
    (pairs of consecutive snapshots, what every delta is taken over) in the window and in its baseline."""

    first_snapshot: datetime
    snapshots: int
    window_intervals: int
    baseline_intervals: int
    window: timedelta
    baseline: timedelta
    end: datetime

    @property
    def collected(self) -> timedelta:
        """From the first snapshot to the window's end."""
        return self.end - self.first_snapshot

    @property
    def has_deltas(self) -> bool:
        """Whether the window holds an interval: statement times, scans, index use and growth need one."""
        return self.window_intervals > 0

    @property
    def can_regress(self) -> bool:
        """Whether both sides hold enough intervals for the regression test to reach significance."""
        return min(self.window_intervals, self.baseline_intervals) >= queries.REGRESSION_MIN_INTERVALS

    def deltas_note(self) -> str | None:
        """What the delta sections lack, or None when the window holds an interval."""
        if self.has_deltas:
            return None
        if self.snapshots < 2:
            return (
                f"Deltas need two snapshots; {self.snapshots} collected (taken {self.first_snapshot:%Y-%m-%d %H:%M} "
                "UTC): statement times, scans, index use and growth show from the next one (sre collect postgres)."
            )
        return (
            f"Deltas need two snapshots inside the window; the {span(self.window)} window holds none of the "
            f"{self.snapshots} collected: choose a longer window."
        )

    def regressions_note(self) -> str | None:
        """What the regression test lacks (REGRESSION_MIN_INTERVALS intervals on each side), or None."""
        if self.can_regress:
            return None
        return (
            f"Regressions need a baseline ({span(self.baseline)} before the window) and a window "
            f"({span(self.window)}) of at least {queries.REGRESSION_MIN_INTERVALS} snapshot intervals each; the "
            f"baseline holds {self.baseline_intervals} and the window {self.window_intervals} ({self.collected_text})."
        )

    @property
    def collected_text(self) -> str:
        """``2 h collected since 2026-12-02 08:25 UTC``, or ``one snapshot so far``."""
        if self.snapshots < 2:
            return f"one snapshot so far, taken {self.first_snapshot:%Y-%m-%d %H:%M} UTC"
        return f"{span(self.collected)} collected since {self.first_snapshot:%Y-%m-%d %H:%M} UTC"

    def new_slow_note(self) -> str | None:
        """Why no statement can be called new yet (an empty baseline), or None."""
        if self.baseline_intervals > 0:
            return None
        return (
            f"New slow statements need a baseline to be new against: the {span(self.baseline)} before the window "
            f"holds no snapshot interval yet ({self.collected_text}). Slow statements of the window "
            "are in the rankings below."
        )

    @property
    def watched(self) -> timedelta:
        """How much of the window the snapshots cover (the window, or less in a young warehouse)."""
        return min(self.window, self.collected)

    def unused_indexes_note(self) -> str | None:
        """Why no index can be called unused yet (under UNUSED_INDEX_MIN_WATCH watched), or None."""
        if not self.has_deltas or self.watched >= UNUSED_INDEX_MIN_WATCH:
            return None  # without deltas, deltas_note says it
        return (
            f"Unused indexes need {span(UNUSED_INDEX_MIN_WATCH)} watched without a scan; the window covers "
            f"{span(self.watched)} of snapshots."
        )

    def notes(self) -> list[str]:
        """Every sentence on missing history, for the top of the report."""
        found = (self.deltas_note(), self.regressions_note(), self.unused_indexes_note())
        return [note for note in found if note]


def span(delta: timedelta) -> str:
    """A window's length as people say it: ``7 days``, ``1 day``, else ``2 h``, ``30 min``."""
    if delta >= timedelta(days=1) and delta % timedelta(days=1) == timedelta(0):
        days = delta.days
        return f"{days} day" if days == 1 else f"{days} days"
    return human_duration(delta)


@dataclass(frozen=True)
class SlowQueryReview:
    server: str
    start: datetime
    end: datetime
    baseline_start: datetime
    summary: queries.WindowSummary = field(repr=False)
    top_by_total_time: pd.DataFrame = field(repr=False)
    top_by_mean_time: pd.DataFrame = field(repr=False)
    regressions: pd.DataFrame = field(repr=False)
    new_slow: pd.DataFrame = field(repr=False)
    maintenance_overdue: pd.DataFrame = field(repr=False)
    dead_tuples: pd.DataFrame = field(repr=False)
    unused_indexes: pd.DataFrame = field(repr=False)
    duplicate_indexes: pd.DataFrame = field(repr=False)
    invalid_indexes: pd.DataFrame = field(repr=False)
    seq_scan_tables: pd.DataFrame = field(repr=False)
    low_cache_hit: pd.DataFrame = field(repr=False)
    sequences: pd.DataFrame = field(repr=False)
    wraparound: pd.DataFrame = field(repr=False)
    growth: pd.DataFrame = field(repr=False)
    connections: maintenance.ConnectionSummary = field(repr=False)
    long_sessions: pd.DataFrame = field(repr=False)
    history: HistoryCoverage = field(repr=False)
    change_points: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)  # of the regressions
    index_suggestions: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)  # index_advice
    findings: tuple[str, ...] = ()
    verdict: str = "healthy"

    @property
    def headline(self) -> str:
        if self.findings:
            return self.findings[0]
        if not self.history.has_deltas:
            return "nothing found in the latest snapshot; statement times and regressions need more history"
        return "no slow, new or regressed statement and no maintenance debt"

    def period(self, tz: ZoneInfo) -> str:
        """The window and its baseline in words, in local time."""
        window, baseline = span(self.end - self.start), span(self.start - self.baseline_start)
        return f"The {window} to {self.end.astimezone(tz):%Y-%m-%d %H:%M %Z}, compared with the {baseline} before."

    def __repr__(self) -> str:
        lines = [
            f"SlowQueryReview({self.server}, {self.start:%Y-%m-%d} .. {self.end:%Y-%m-%d}): {self.verdict.upper()}"
        ]
        return "\n".join(lines + [f"  - {finding}" for finding in self.findings])


def slow_query_review(
    con: duckdb.DuckDBPyConnection,
    config: PlatformConfig,
    server: str | None = None,
    as_of: datetime | None = None,
    window_days: int = 7,
    baseline_days: int = 7,
    top: int = 15,
    *,
    window: timedelta | str | None = None,
    baseline: timedelta | str | None = None,
) -> SlowQueryReview:
    """Review the window ending ``as_of`` (default: the newest snapshot) against the baseline before it.

    ``window`` and ``baseline`` are durations (a timedelta, or text such as ``30m``, ``2h``, ``7d``); when not
    given, ``window_days`` and ``baseline_days`` are."""
    if window_days <= 0 or baseline_days <= 0:
        raise DataError(f"slow-query review: window and baseline must be positive days, got {window_days}, "
                        f"{baseline_days}")  # fmt: skip
    window_length = _duration(window, "window") if window is not None else timedelta(days=window_days)
    baseline_length = _duration(baseline, "baseline") if baseline is not None else timedelta(days=baseline_days)
    server = server or _only_server(con, config)
    newest = con.execute("SELECT max(taken_at) FROM pg_snapshots WHERE server = ?", [server]).fetchall()[0][0]
    if newest is None:
        raise DataError(f"slow-query review: no PostgreSQL snapshots of {server!r} in the warehouse")
    end = pd.Timestamp(as_of or newest)
    end = (end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")).to_pydatetime()
    start = end - window_length
    baseline_start = start - baseline_length
    compare = {"baseline_start": baseline_start, "baseline_end": start}
    bands = maintenance.connection_bands(config)
    regressions = queries.regressions(con, server, start, end, **compare)
    new_slow = queries.new_slow_statements(con, server, start, end, **compare)
    new_slow = new_slow[~new_slow["queryid"].isin(set(regressions.get("queryid", [])))].reset_index(drop=True)
    by_total = queries.top_statements(con, server, start, end, by="total_time", limit=top)
    if "shared_blks_read" in by_total:
        by_total = by_total.assign(shared_read_bytes=by_total["shared_blks_read"] * BLOCK_BYTES)
    review = SlowQueryReview(
        server=server, start=start, end=end, baseline_start=baseline_start,
        summary=queries.window_summary(con, server, start, end),
        top_by_total_time=by_total,
        top_by_mean_time=queries.top_statements(con, server, start, end, by="mean_time", limit=top,
                                                 min_calls=TOP_BY_MEAN_MIN_CALLS),
        regressions=regressions,
        change_points=_change_points(con, server, baseline_start, end, regressions, config.tz),
        new_slow=new_slow,  # a regressed statement is listed once, as regressed
        maintenance_overdue=_overdue(maintenance.maintenance_overdue(con, server, start, end)),
        dead_tuples=maintenance.dead_tuples(con, server, start, end),
        unused_indexes=_watched_long_enough(maintenance.unused_indexes(con, server, start, end)),
        duplicate_indexes=maintenance.duplicate_indexes(con, server, end),
        invalid_indexes=maintenance.invalid_indexes(con, server, end),
        seq_scan_tables=maintenance.seq_scan_tables(con, server, start, end),
        low_cache_hit=maintenance.tables_low_cache_hit(con, server, start, end),
        sequences=maintenance.sequences_near_limit(con, server, end),
        wraparound=maintenance.xid_wraparound(con, server, end),
        growth=maintenance.table_growth(con, server, start, end).sort_values("bytes_per_week", ascending=False),
        connections=maintenance.connection_summary(con, server, start, end, **bands),
        long_sessions=maintenance.long_sessions(con, server, start, end),
        history=_coverage(con, server, baseline_start, start, end),
        index_suggestions=index_advice.index_suggestions(con, server, start, end),
    )  # fmt: skip
    findings, verdict = _judge(review)
    return dataclasses.replace(review, findings=tuple(findings), verdict=verdict)


def _duration(value: timedelta | str, what: str) -> timedelta:
    """A window or baseline length from a timedelta or text such as ``90m``; SreError naming ``what``."""
    return value if isinstance(value, timedelta) else parse_duration(str(value), what)


def _coverage(
    con: duckdb.DuckDBPyConnection, server: str, baseline_start: datetime, start: datetime, end: datetime
) -> HistoryCoverage:
    """The snapshots up to ``end`` and the intervals (snapshots with one before) in the window and baseline."""
    first, snapshots, in_window, in_baseline = con.execute(
        """
        SELECT min(taken_at), count(*),
               count(*) FILTER (WHERE previous IS NOT NULL AND taken_at > ? AND taken_at <= ?),
               count(*) FILTER (WHERE previous IS NOT NULL AND taken_at > ? AND taken_at <= ?)
        FROM (SELECT taken_at, lag(taken_at) OVER (ORDER BY taken_at) AS previous
              FROM pg_snapshots WHERE server = ? AND taken_at <= ?)
        """,
        [start, end, baseline_start, start, server, end],
    ).fetchone()
    if first is None:
        raise DataError(f"slow-query review: no PostgreSQL snapshot of {server!r} at or before {end:%Y-%m-%d %H:%M} "
                        "UTC: choose a later as_of")  # fmt: skip
    return HistoryCoverage(
        first_snapshot=pd.Timestamp(first).tz_convert("UTC").to_pydatetime(), snapshots=int(snapshots),
        window_intervals=int(in_window), baseline_intervals=int(in_baseline),
        window=end - start, baseline=start - baseline_start, end=end,
    )  # fmt: skip


def _watched_long_enough(unused: pd.DataFrame) -> pd.DataFrame:
    """The unused indexes watched unscanned for at least UNUSED_INDEX_MIN_WATCH."""
    watched = unused["as_of"] - unused["observed_since"]
    return unused[watched >= UNUSED_INDEX_MIN_WATCH].reset_index(drop=True)


def _only_server(con: duckdb.DuckDBPyConnection, config: PlatformConfig) -> str:
    servers = [row[0] for row in con.execute("SELECT DISTINCT server FROM pg_snapshots ORDER BY 1").fetchall()]
    if not servers:
        raise DataError("slow-query review: the warehouse holds no PostgreSQL snapshots (sre collect postgres)")
    if config.sources.postgres.server in servers:
        return config.sources.postgres.server
    if len(servers) == 1:
        return servers[0]
    raise DataError(f"slow-query review: several PostgreSQL servers ({', '.join(servers)}); pass server=")


def _overdue(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return frame
    return frame[frame["vacuum_overdue"] | frame["analyze_overdue"]].reset_index(drop=True)


#: A sequence near its limit that lasts longer than this at its recent pace is a note, not a warning.
SEQUENCE_NOTE_DAYS = 2 * 365


def _judge(review: SlowQueryReview) -> tuple[list[str], str]:
    """Findings, most severe first, and the verdict they add up to."""
    critical: list[str] = []
    warning: list[str] = []
    notes: list[str] = []  # listed after the rest; they do not change the verdict
    for row in review.regressions.itertuples():
        critical.append(_regression_finding(row, review.change_points))
    for row in review.new_slow.itertuples():  # regressions are not in it: reported above
        warning.append(f"new slow statement ({row.mean_exec_time_ms:.0f} ms per call, {row.calls:,} calls): "
                       f"{_short(row.query)}")  # fmt: skip
    for row in review.sequences.itertuples():
        name = f"sequence {row.schemaname}.{row.sequencename} ({row.data_type})"
        if row.status == "unknown":
            warning.append(f"{name}: its last value is unreadable to the monitoring role: {row.action}")
            continue
        runway = (
            f"; at the last {maintenance.SEQUENCE_PACE_DAYS} days' pace it lasts {rough_duration(row.days_left)}"
            if pd.notna(row.days_left)
            else ""
        )
        finding = f"{name} at {row.used_ratio:.1%} of its maximum{runway}"
        if row.status != "critical" and pd.notna(row.days_left) and row.days_left > SEQUENCE_NOTE_DAYS:
            notes.append(finding)  # years of runway at its pace: worth knowing, not a warning
        else:
            (critical if row.status == "critical" else warning).append(finding)
    for row in _rows_where(review.wraparound, "status", lambda status: status in ("warning", "critical")):
        where = f"{row.datname}.{row.relname}" if isinstance(row.relname, str) else row.datname
        (critical if row.status == "critical" else warning).append(
            f"transaction-ID wraparound: {row.scope} {where} has used {row.percent_used:.0f} % of its headroom"
        )
    connections = review.connections
    if connections.status != "healthy" or connections.peak_status != "healthy":
        target = critical if "critical" in (connections.status, connections.peak_status) else warning
        target.append(f"connections peaked at {connections.peak_percent:.0f} % of max_connections")
    for row in review.maintenance_overdue.itertuples():
        what = " and ".join(w for w, due in (("VACUUM", row.vacuum_overdue), ("ANALYZE", row.analyze_overdue)) if due)
        warning.append(f"{row.relname}: {what} overdue against the weekly schedule")
    for row in review.dead_tuples.itertuples():
        warning.append(f"{row.relname}: {row.dead_ratio:.0%} dead tuples ({row.n_dead_tup:,})")
    for row in review.invalid_indexes.itertuples():
        warning.append(f"invalid index {row.indexrelname} on {row.relname}")
    for row in review.unused_indexes.itertuples():
        warning.append(f"unused index {row.indexrelname} on {row.relname} ({human_bytes(row.index_bytes)})")
    for row in review.duplicate_indexes.itertuples():
        warning.append(f"index {row.indexrelname} is covered by {row.covered_by}")
    for row in review.seq_scan_tables.itertuples():
        warning.append(f"{row.relname}: sequential scans dominate ({row.seq_scan:,} seq vs {row.idx_scan:,} index)"
                       f"{_suggested_index(review.index_suggestions, row)}")  # fmt: skip
    for row in review.low_cache_hit.itertuples():
        warning.append(f"{row.relname}: {_low_cache_parts(row)} (under {maintenance.CACHE_HIT_MIN_RATIO * 100:g} %)")
    for row in _rows_where(review.long_sessions, "idle_in_transaction", bool):
        idle = human_duration(row.duration_seconds)
        warning.append(f"session {row.pid} ({row.username}) idle in transaction for {idle}")
    verdict = "critical" if critical else "warning" if warning else "healthy"
    return critical + warning + notes, verdict


def _suggested_index(suggestions: pd.DataFrame, table: Any) -> str:
    """`` -> CREATE INDEX ... (statements served, their share of time)`` for the costliest index suggested on
    the table of a sequential-scan finding, or "" when none is."""
    if suggestions.empty:
        return ""
    key = (table.datname, table.schemaname, table.relname)
    on_table = suggestions[
        (suggestions["datname"] == key[0]) & (suggestions["schemaname"] == key[1]) & (suggestions["relname"] == key[2])
    ]
    if on_table.empty:
        return ""
    best = on_table.iloc[0]  # costliest first
    served = f"{best['statements']} statement" + ("s" if best["statements"] != 1 else "")
    return f" -> {best['action']} (serves {served}, {best['share_total_time']:.0%} of database time)"


def _low_cache_parts(row: Any) -> str:
    """The parts of a table (heap, indexes) whose cache hit ratio is low, with enough block accesses to judge."""
    parts = []
    for name, ratio, hit, read in (
        ("heap", row.heap_hit_ratio, row.heap_blks_hit, row.heap_blks_read),
        ("index", row.index_hit_ratio, row.idx_blks_hit, row.idx_blks_read),
    ):
        blocks = (0 if pd.isna(hit) else hit) + (0 if pd.isna(read) else read)
        if pd.notna(ratio) and ratio < maintenance.CACHE_HIT_MIN_RATIO and blocks >= maintenance.CACHE_MIN_BLOCKS:
            parts.append(f"{name} cache hit ratio {ratio:.1%}")
    return " and ".join(parts) or "cache hit ratio low"


def _rows_where(frame: pd.DataFrame, column: str, keep: Callable[[object], bool]) -> Iterator[Any]:
    """Rows (namedtuples) of ``frame`` whose ``column`` passes ``keep``; none for an empty frame."""
    if frame.empty:
        return iter(())
    return frame[frame[column].map(keep).astype(bool)].itertuples()


def _p_relation(p_value: float) -> str:
    text = human_p_value(p_value)
    return text if text.startswith("<") else f"= {text}"


def _short(query: str, limit: int = 90) -> str:
    text = " ".join(str(query).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _change_points(
    con: duckdb.DuckDBPyConnection, server: str, start: datetime, end: datetime, regressions: pd.DataFrame, tz: ZoneInfo
) -> pd.DataFrame:
    """When each regressed statement stepped (baseline and window searched as one series), in local time."""
    found = change_points.statement_change_points(con, server, start, end, queryids=list(regressions["queryid"]))
    found = found[found["after_mean_ms"] > found["before_mean_ms"]]  # a regression's step is up
    return found.assign(changed_at=found["changed_at"].dt.tz_convert(tz))


def _regression_finding(row: Any, changes: pd.DataFrame) -> str:
    """``statement stepped from 6.1 to 92.2 ms per call at <local time> (+1 h 50 min of database time a day
    since; ...)`` when its change point is known, else the window means (which mix before and after)."""
    tested = f"not chance: p {_p_relation(row.p_value)}"
    change = changes[changes["queryid"] == row.queryid] if not changes.empty else changes
    if change.empty:
        return (f"statement {row.ratio:.1f}x slower ({row.baseline_mean_exec_time_ms:.1f} -> "
                f"{row.mean_exec_time_ms:.1f} ms per call, {tested}): {_short(row.query)}")  # fmt: skip
    step = change.iloc[0]
    cost = human_duration(step["extra_ms_per_day"] / 1000)
    return (f"statement stepped from {step['before_mean_ms']:.1f} to {step['after_mean_ms']:.1f} ms per call at "
            f"{step['changed_at']:%Y-%m-%d %H:%M %Z} (+{cost} of database time a day since; "
            f"{step['after_mean_ms'] / step['before_mean_ms']:.1f}x, {tested}): {_short(row.query)}")  # fmt: skip
