"""The synthetic PostgreSQL statistics fit the warehouse schema and really contain the scripted findings.

The frames come from ``postgres_history.postgres_frames``; the findings' days and texts from ``postgres_scenario``.

Every finding is measured from the frames (counter deltas, ratios, timestamps), not read from constants.
"""

from __future__ import annotations

import re
import time
from functools import cache

import duckdb
import numpy as np
import pandas as pd
import pytest

from sre_lib.demo import postgres_history as pg
from sre_lib.demo import postgres_scenario as scenario
from sre_lib.demo.spec import DemoSpec
from sre_lib.warehouse.store import schema_sql, table_keys

SPEC = DemoSpec()
TABLES = (
    "pg_snapshots", "pg_stat_statements", "pg_tables", "pg_indexes", "pg_databases", "pg_activity",
    "pg_long_sessions", "pg_archiver", "pg_replication", "pg_replication_slots", "pg_sequences",
)  # fmt: skip
DAY = pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return pg.postgres_frames(SPEC)


@cache
def schema_types() -> dict[str, dict[str, str]]:
    """table -> column -> DuckDB type, from schema.sql."""
    con = duckdb.connect()
    con.execute(schema_sql())
    rows = con.execute("SELECT table_name, column_name, data_type FROM information_schema.columns").fetchall()
    types: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        types.setdefault(table, {})[column] = data_type
    return types


def frame_types(frame: pd.DataFrame) -> dict[str, str]:
    con = duckdb.connect()
    con.register("frame", frame)
    return {name: kind for name, kind, *_ in con.execute("DESCRIBE SELECT * FROM frame").fetchall()}


def at(day: float) -> pd.Timestamp:
    return pd.Timestamp(SPEC.at_day(day))


def last_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame.taken_at == frame.taken_at.max()]


def first_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame.taken_at == frame.taken_at.min()]


def statement(frames: dict[str, pd.DataFrame], query: str) -> pd.DataFrame:
    rows = frames["pg_stat_statements"]
    return rows[rows["query"] == query].set_index("taken_at").sort_index()


def delta_between(rows: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Counter growth between the first and last snapshots within [start, end] (no reset inside)."""
    window = rows.loc[(rows.index >= start) & (rows.index <= end), ["calls", "total_exec_time_ms"]]
    return window.iloc[-1] - window.iloc[0]


# ------------------------------------------------------------------------------------------ shape and schema


def test_all_tables_are_generated(frames) -> None:
    assert set(frames) == set(TABLES)
    for name in TABLES:
        if name not in ("pg_replication", "pg_replication_slots"):
            assert len(frames[name]) > 0, name
    assert frames["pg_replication"].empty  # no replica on this platform


@pytest.mark.parametrize("table", TABLES)
def test_columns_and_types_match_the_schema(frames, table) -> None:
    frame, schema = frames[table], schema_types()[table]
    assert set(frame.columns) <= set(schema), set(frame.columns) - set(schema)
    assert set(table_keys()[table]) <= set(frame.columns)
    for column, kind in frame_types(frame).items():
        assert kind == schema[column], f"{table}.{column}: {kind}, schema says {schema[column]}"


@pytest.mark.parametrize("table", TABLES)
def test_keys_are_complete_and_unique(frames, table) -> None:
    frame, keys = frames[table], list(table_keys()[table])
    assert not frame[keys].isna().any().any()
    assert not frame.duplicated(keys).any()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            assert str(frame[column].dt.tz) == "UTC", column
    if len(frame):
        assert (frame["server"] == SPEC.pg_server).all()
        assert frame.taken_at.min() >= pd.Timestamp(SPEC.start)
        assert frame.taken_at.max() <= pd.Timestamp(SPEC.end)


def test_frames_load_into_the_warehouse_schema(frames) -> None:
    con = duckdb.connect()
    con.execute(schema_sql()).fetchall()
    for table in TABLES:
        con.register("incoming", frames[table])
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
        con.unregister("incoming")
        assert con.execute(f"SELECT count(*) FROM {table}").fetchall() == [(len(frames[table]),)]


def test_same_spec_same_frames_quickly(frames) -> None:
    started = time.perf_counter()
    again = pg.postgres_frames(SPEC)
    assert time.perf_counter() - started < 5.0
    for table in TABLES:
        pd.testing.assert_frame_equal(frames[table], again[table])


def test_short_span_and_other_seed() -> None:
    """A span too short for the scripted events still builds; the seed changes the data."""
    short = pg.postgres_frames(DemoSpec(days=14, seed=SPEC.seed + 1))
    assert short["pg_snapshots"].pgss_stats_reset.nunique() == 1
    assert short["pg_archiver"].failed_count.eq(0).all()
    ours = pg.postgres_frames(DemoSpec(days=14))
    assert not ours["pg_stat_statements"].calls.equals(short["pg_stat_statements"].calls)


def test_snapshot_cadence(frames) -> None:
    expected_fast = pd.date_range(SPEC.start, SPEC.end, freq=SPEC.pg_snapshot_every)
    expected_hourly = pd.date_range(SPEC.start, SPEC.end, freq=SPEC.table_snapshot_every)
    for table in ("pg_snapshots", "pg_archiver"):
        assert pd.DatetimeIndex(frames[table].taken_at).equals(expected_fast)
    for table in ("pg_tables", "pg_indexes", "pg_databases", "pg_sequences"):
        assert pd.DatetimeIndex(frames[table].taken_at.unique()).equals(expected_hourly)


# ------------------------------------------------------------------------------------------ pg_stat_statements


def test_server_facts(frames) -> None:
    snaps = frames["pg_snapshots"]
    assert (snaps.server_version_num // 10000 == 17).all()  # stats_since exists from PG 17
    assert (snaps.pgss_version == "1.11").all()
    assert (snaps.max_connections == 100).all()


def test_statement_texts_are_normalised(frames) -> None:
    queries = frames["pg_stat_statements"]["query"].unique()
    assert 18 <= len(queries) <= 26
    for query in queries:
        code = re.sub(r"/\*.*?\*/", "", query)
        assert "'" not in code, f"string literal left in: {query}"
        assert not re.search(r"(=|<|>|LIMIT|OFFSET)\s*\d", code), f"number literal left in: {query}"
    assert any("INSERT INTO audit_log" in q for q in queries)


def test_one_statement_carries_a_script_tag_in_a_comment(frames) -> None:
    scripted = [q for q in frames["pg_stat_statements"]["query"].unique() if "<script>" in q]
    assert scripted == [scenario.XSS_QUERY]
    assert re.search(r"/\*[^*]*<script>alert\('x'\)</script>[^*]*\*/", scenario.XSS_QUERY)


COUNTERS = (
    "calls", "total_exec_time_ms", "rows", "shared_blks_hit", "shared_blks_read", "shared_blks_dirtied",
    "shared_blks_written", "temp_blks_read", "temp_blks_written", "blk_read_time_ms", "wal_bytes",
)  # fmt: skip


def test_counters_only_fall_at_the_reset(frames) -> None:
    rows = frames["pg_stat_statements"].sort_values(["queryid", "taken_at"])
    reset = at(scenario.RESET_DAY)
    same = rows.queryid.eq(rows.queryid.shift())
    across_reset = same & (rows.taken_at.shift() < reset) & (rows.taken_at >= reset)
    for counter in COUNTERS:
        fell = same & (rows[counter] < rows[counter].shift())
        assert not (fell & ~across_reset).any(), counter
    assert (rows.calls[across_reset] < rows.calls.shift()[across_reset]).all()  # the reset really zeroed them
    assert across_reset.sum() >= 18


def test_reset_moves_stats_reset_and_stats_since(frames) -> None:
    reset = at(scenario.RESET_DAY)
    snaps = frames["pg_snapshots"]
    before, after = snaps[snaps.taken_at < reset], snaps[snaps.taken_at >= reset]
    assert (before.pgss_stats_reset < pd.Timestamp(SPEC.start)).all()
    assert (after.pgss_stats_reset == reset).all()
    rows = frames["pg_stat_statements"]
    assert (rows.stats_since[rows.taken_at >= reset] >= reset).all()
    assert (rows.stats_since[rows.taken_at < reset] < reset).all()
    assert (rows.stats_since <= rows.taken_at).all()


def test_dealloc_rises_once(frames) -> None:
    dealloc = frames["pg_snapshots"].pgss_dealloc
    steps = dealloc.diff().fillna(0)
    assert dealloc.iloc[0] == 0
    assert (steps >= 0).all() and (steps > 0).sum() == 1
    assert 0 < dealloc.iloc[-1] <= 5


def test_running_min_mean_max_are_consistent(frames) -> None:
    rows = frames["pg_stat_statements"]
    assert (rows.min_exec_time_ms <= rows.mean_exec_time_ms + 1e-9).all()
    assert (rows.mean_exec_time_ms <= rows.max_exec_time_ms + 1e-9).all()
    assert np.allclose(rows.mean_exec_time_ms, rows.total_exec_time_ms / rows.calls)
    assert (rows.stddev_exec_time_ms >= 0).all() and (rows.calls > 0).all()


def test_regression_from_6_to_90_ms_at_day_76(frames) -> None:
    rows = statement(frames, scenario.REGRESSION_QUERY)
    before = delta_between(rows, at(scenario.RESET_DAY + 1), at(scenario.REGRESSION_DAY))
    after = delta_between(rows, at(scenario.REGRESSION_DAY), SPEC.end)
    assert before.total_exec_time_ms / before.calls == pytest.approx(6.0, rel=0.15)
    assert after.total_exec_time_ms / after.calls == pytest.approx(90.0, rel=0.15)
    assert before.calls / (scenario.REGRESSION_DAY - scenario.RESET_DAY - 1) > 10_000  # a frequent statement
    # the step is sharp: the day before is still fast, the day after already slow
    day_before = delta_between(rows, at(scenario.REGRESSION_DAY - 1), at(scenario.REGRESSION_DAY))
    day_after = delta_between(rows, at(scenario.REGRESSION_DAY), at(scenario.REGRESSION_DAY + 1))
    assert day_before.total_exec_time_ms / day_before.calls < 10
    assert day_after.total_exec_time_ms / day_after.calls > 60


def test_new_slow_statement_from_day_85(frames) -> None:
    rows = statement(frames, scenario.NEW_SLOW_QUERY)
    first = rows.index.min()
    assert at(scenario.NEW_STATEMENT_DAY) < first <= at(scenario.NEW_STATEMENT_DAY) + pd.Timedelta(hours=3)
    days = (pd.Timestamp(SPEC.end) - first) / DAY
    assert rows.calls.iloc[-1] / days > 50
    assert rows.mean_exec_time_ms.iloc[-1] == pytest.approx(300, rel=0.15)
    others = frames["pg_stat_statements"]
    assert not (others["query"] == scenario.NEW_SLOW_QUERY)[others.taken_at <= at(scenario.NEW_STATEMENT_DAY)].any()


def test_calls_follow_the_daily_and_weekly_cycle(frames) -> None:
    rows = statement(frames, frames["pg_stat_statements"]["query"].iloc[0])  # users by id, the busiest
    calls = rows.calls.diff().loc[at(scenario.RESET_DAY + 1) :]
    local = calls.index.tz_convert(SPEC.tz)
    weekday = calls[local.day_of_week < 5]
    by_hour = weekday.groupby(weekday.index.tz_convert(SPEC.tz).hour).mean()
    assert by_hour.idxmax() in (19, 20, 21)
    assert by_hour.max() > 3 * by_hour.min()
    assert calls[local.day_of_week >= 5].mean() < 0.9 * weekday.mean()


# ------------------------------------------------------------------------------------------ tables and indexes


def _table_end(frames) -> pd.DataFrame:
    end = last_rows(frames["pg_tables"]).set_index("relname")
    start = first_rows(frames["pg_tables"]).set_index("relname")
    end["dead_ratio"] = end.n_dead_tup / (end.n_live_tup + end.n_dead_tup)
    hit = end.heap_blks_hit - start.heap_blks_hit
    end["heap_hit_ratio"] = hit / (hit + end.heap_blks_read - start.heap_blks_read)
    end["seq_delta"] = end.seq_scan - start.seq_scan
    end["idx_delta"] = end.idx_scan - start.idx_scan
    return end


def test_about_a_dozen_tables(frames) -> None:
    assert 10 <= frames["pg_tables"].relname.nunique() <= 15
    assert {"events_log", "sessions", "comments", "users", "posts", "audit_log"} <= set(frames["pg_tables"].relname)


def test_table_counters_never_decrease(frames) -> None:
    for table, key, counters in (
        ("pg_tables", "relname", ["seq_scan", "seq_tup_read", "idx_scan", "n_tup_ins", "n_tup_upd", "n_tup_del",
                                  "vacuum_count", "autovacuum_count", "analyze_count", "autoanalyze_count",
                                  "heap_blks_read", "heap_blks_hit", "idx_blks_read", "idx_blks_hit",
                                  "frozen_xid_age", "total_bytes"]),
        ("pg_indexes", "indexrelname", ["idx_scan", "idx_tup_read", "idx_tup_fetch", "index_bytes"]),
        ("pg_databases", "datname", ["xact_commit", "xact_rollback", "blks_read", "blks_hit", "temp_bytes",
                                     "deadlocks", "xid_age"]),
        ("pg_sequences", "sequencename", ["last_value"]),
    ):  # fmt: skip
        rows = frames[table].sort_values([key, "taken_at"])
        steps = rows.groupby(key)[counters].diff().dropna()
        assert (steps >= 0).all().all(), (table, steps.columns[(steps < 0).any()].tolist())


def test_events_log_is_bloated_and_not_autovacuumed(frames) -> None:
    end = _table_end(frames)
    assert end.loc["events_log", "dead_ratio"] > 0.20
    assert end.loc["events_log", "last_autovacuum"] < pd.Timestamp(SPEC.end) - 10 * DAY
    assert pd.isna(end.loc["events_log", "last_vacuum"])
    assert (end.drop(index="events_log").dead_ratio < 0.20).all()  # the finding stands out


def test_sessions_statistics_are_stale(frames) -> None:
    end = _table_end(frames)
    assert frames["pg_tables"].query("relname == 'sessions'").last_analyze.isna().all()
    assert end.loc["sessions", "last_autoanalyze"] < pd.Timestamp(SPEC.end) - 7 * DAY
    latest = end[["last_analyze", "last_autoanalyze"]].max(axis=1)
    assert (latest.drop(index="sessions") > pd.Timestamp(SPEC.end) - 7 * DAY).all()
    assert end.loc["sessions", "n_mod_since_analyze"] > end.loc["sessions", "n_live_tup"]


def test_comments_are_seq_scanned_and_miss_the_cache(frames) -> None:
    end = _table_end(frames)
    comments = end.loc["comments"]
    assert comments.n_live_tup >= 1_000_000
    assert comments.seq_scan > comments.idx_scan and comments.seq_delta > 1.5 * comments.idx_delta
    big = end[end.n_live_tup > 100_000]
    assert list(big.index[big.seq_delta > big.idx_delta]) == ["comments"]
    assert comments.heap_hit_ratio < 0.99
    assert (end.drop(index="comments").heap_hit_ratio > 0.99).all()


def test_frozen_xid_age_grows(frames) -> None:
    end, start = _table_end(frames), first_rows(frames["pg_tables"]).set_index("relname")
    assert (end.frozen_xid_age > start.frozen_xid_age + 30e6).all()
    assert (end.frozen_xid_age < 2**31 * 0.1).all()  # plausible, far from wraparound


def test_database_grows_two_to_three_percent_a_week(frames) -> None:
    db = frames["pg_databases"].query("datname == 'community_hub'").set_index("taken_at").size_bytes
    weekly = (db.iloc[-1] / db.iloc[0]) ** (7 / SPEC.days) - 1
    assert 0.02 <= weekly <= 0.03
    assert db.iloc[-1] == pytest.approx(last_rows(frames["pg_tables"]).total_bytes.sum(), rel=0.05)


def _indexes_at_end(frames) -> pd.DataFrame:
    return last_rows(frames["pg_indexes"]).set_index("indexrelname")


def test_indexdefs_look_like_pg_get_indexdef(frames) -> None:
    pattern = re.compile(
        r"^CREATE (UNIQUE )?INDEX (\w+) ON public\.(\w+) USING (btree|gin|brin) \(.+\)( WHERE \(.+\))?$"
    )
    for name, row in _indexes_at_end(frames).iterrows():
        match = pattern.match(row.indexdef)
        assert match, row.indexdef
        assert (match.group(2), match.group(3)) == (name, row.relname)
        assert bool(match.group(1)) == row["is_unique"]
    end = _indexes_at_end(frames)
    assert (end["is_primary"] <= end["is_unique"]).all()


def test_unused_legacy_index(frames) -> None:
    rows = frames["pg_indexes"].query("indexrelname == 'idx_users_legacy_email'")
    assert (rows.idx_scan == 0).all()
    end = rows.iloc[-1]
    assert not end["is_unique"] and not end["is_primary"] and end["relname"] == "users"
    assert 10e6 <= end.index_bytes <= 100e6
    used = _indexes_at_end(frames).query("is_valid and not is_unique")
    assert list(used.index[used.idx_scan == 0]) == ["idx_users_legacy_email"]


def test_duplicate_index_pair_on_posts(frames) -> None:
    end = _indexes_at_end(frames)
    short, long = end.loc["idx_posts_author"], end.loc["idx_posts_author_created"]
    assert short.relname == long.relname == "posts"
    columns = {}
    for name, row in (("short", short), ("long", long)):
        match = re.search(r"USING (\w+) \(([^)]*)\)$", row.indexdef)
        assert match and " WHERE " not in row.indexdef
        columns[name] = (match.group(1), [c.strip() for c in match.group(2).split(",")])
    assert columns["short"][0] == columns["long"][0] == "btree"
    assert columns["short"][1] == ["author_id"] and columns["long"][1] == ["author_id", "created_at"]


def test_invalid_index(frames) -> None:
    end = _indexes_at_end(frames)
    assert list(end.index[~end.is_valid]) == ["idx_events_log_tmp"]
    assert end.loc["idx_events_log_tmp", "idx_scan"] == 0


def test_audit_log_sequence_nears_int4_limit(frames) -> None:
    seqs = frames["pg_sequences"].query("sequencename == 'audit_log_id_seq'")
    assert (seqs.data_type == "integer").all() and (seqs.max_value == 2_147_483_647).all()
    assert seqs.last_value.iloc[-1] / 2_147_483_647 > 0.90
    assert seqs.last_value.iloc[-1] > seqs.last_value.iloc[0]
    end = last_rows(frames["pg_sequences"])
    others = end[end.sequencename != "audit_log_id_seq"]
    assert (others.last_value / others.max_value < 0.5).all()
    assert set(frames["pg_sequences"].data_type) <= {"smallint", "integer", "bigint"}


def test_audit_log_inserts_and_its_sequence_move_together(demo_warehouse) -> None:
    """The only writer of audit_log is its INSERT statement: the calls pg_stat_statements counted (as deltas,
    across the demo's reset) and the ids its sequence gave out agree."""
    from sre_lib.analysis.postgres.statement_deltas import statement_deltas
    from sre_lib.warehouse.store import Warehouse

    con = Warehouse(demo_warehouse).open_read_only()
    try:
        seqs = con.execute("SELECT taken_at, last_value FROM pg_sequences WHERE sequencename = 'audit_log_id_seq' "
                           "ORDER BY taken_at").df()  # fmt: skip
        deltas = statement_deltas(con, start=seqs.taken_at.iloc[0], end=seqs.taken_at.iloc[-1])
    finally:
        con.close()
    inserts = deltas[deltas["query"] == scenario.AUDIT_INSERT_QUERY]
    drawn = seqs.last_value.iloc[-1] - seqs.last_value.iloc[0]
    assert not inserts["reset"].all()
    assert inserts["calls"].sum() == pytest.approx(drawn, rel=0.1)


# ------------------------------------------------------------------------------------------ sessions


def test_connections_follow_the_day_and_grow(frames) -> None:
    total = frames["pg_activity"].groupby("taken_at").sessions.sum()
    daily_peak = total.groupby(total.index.tz_convert(SPEC.tz).date).max() / 100
    full_days = daily_peak.iloc[1:-1]
    assert full_days.between(0.40, 0.75).all(), full_days.describe()
    assert full_days.iloc[-14:].mean() > full_days.iloc[:14].mean()
    by_hour = total.groupby(total.index.tz_convert(SPEC.tz).hour).mean()
    assert by_hour.idxmax() in (19, 20, 21) and by_hour.min() < 0.6 * by_hour.max()
    assert set(frames["pg_activity"].state) == {"active", "idle", "idle in transaction"}


def test_long_sessions(frames) -> None:
    long = frames["pg_long_sessions"]
    assert (long.duration_seconds > 60).all()
    latest = long[long.taken_at == pd.Timestamp(SPEC.end)]
    assert (latest.state == "idle in transaction").any()
    active = long[long.state == "active"]
    assert len(active) >= 10 and active.taken_at.dt.date.nunique() >= 10
    activity = frames["pg_activity"].set_index(["taken_at", "state"])
    for row in long.itertuples():
        summary = activity.loc[(row.taken_at, row.state)]
        measured = summary.longest_query_seconds if row.state == "active" else summary.longest_xact_seconds
        assert summary.sessions >= 1 and measured >= row.duration_seconds - 1e-6
    assert (long.xact_start <= long.query_start).all() and (long.query_start <= long.taken_at).all()


# ------------------------------------------------------------------------------------------ archiver


def test_archiver_archives_one_wal_every_five_minutes(frames) -> None:
    arch = frames["pg_archiver"].set_index("taken_at")
    assert (arch.archive_mode == "on").all()
    normal = arch.loc[: at(scenario.ARCHIVE_FAILURE_DAY) - pd.Timedelta(minutes=15)]
    assert (normal.archived_count.diff().dropna() == 3).all()
    assert ((normal.index - normal.last_archived_time) <= pd.Timedelta(minutes=5)).all()
    assert normal.failed_count.eq(0).all() and normal.last_failed_time.isna().all()
    assert (arch.archived_count.diff().dropna() >= 0).all() and (arch.failed_count.diff().dropna() >= 0).all()
    names = arch.last_archived_wal
    assert names.str.fullmatch(r"[0-9A-F]{24}").all() and names.is_monotonic_increasing


def test_archive_failure_for_two_hours_then_recovery(frames) -> None:
    arch = frames["pg_archiver"].set_index("taken_at")
    start = at(scenario.ARCHIVE_FAILURE_DAY)
    during = arch.loc[start + pd.Timedelta(minutes=15) : start + pd.Timedelta(hours=2)]
    assert during.archived_count.nunique() == 1  # nothing archived
    assert during.last_archived_time.nunique() == 1 and (during.last_archived_time.iloc[0] < start)
    assert during.failed_count.is_monotonic_increasing and during.failed_count.iloc[-1] >= 100
    assert (during.last_failed_time > during.last_archived_time).all()
    assert during.last_failed_wal.notna().all()
    after = arch.loc[start + pd.Timedelta(hours=2, minutes=15) :]
    assert (after.last_archived_time > after.last_failed_time).all()
    assert after.failed_count.nunique() == 1
    caught_up = after.archived_count.iloc[0] - during.archived_count.iloc[-1]
    assert caught_up >= 2 * 12  # the backlog of two hours was archived at once
