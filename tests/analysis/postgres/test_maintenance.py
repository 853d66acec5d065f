"""VACUUM / ANALYZE debt and wraparound (sre_lib.analysis.postgres.maintenance) on the real scenario and
hand-built snapshots; the demo's scripted findings of every check; the names maintenance still re-exports."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from pg_checks_scenario import T0, Scenario, empty_warehouse, insert

from sre_lib.analysis.postgres import (
    cache_hits,
    connections,
    growth,
    index_definitions,
    indexes,
    maintenance,
    sequences,
    table_activity,
)
from sre_lib.warehouse.store import Warehouse


def test_dead_tuples_and_overdue_maintenance(scenario: Scenario) -> None:
    con = scenario.con()
    try:
        dead = maintenance.dead_tuples(con)
        overdue = maintenance.maintenance_overdue(con)
    finally:
        con.close()
    assert list(dead["relname"]) == ["events_log"]
    row = dead.iloc[0]
    assert row["n_dead_tup"] == 20000 and row["n_live_tup"] == 10000
    assert row["dead_ratio"] == pytest.approx(2 / 3)
    # events_log was never vacuumed, but the collector has watched it for seconds, not the weekly schedule's
    # week: its 20,000 dead tuples are the dead-tuple finding above, not yet "overdue"; "clean" was maintained
    assert overdue.empty
    con = scenario.con()
    try:  # with a schedule shorter than the seconds it was watched, never is overdue
        judged = maintenance.maintenance_overdue(con, max_age=timedelta(microseconds=1)).set_index("relname")
    finally:
        con.close()
    assert judged.loc["events_log", "vacuum_overdue"] and judged.loc["events_log", "analyze_overdue"]
    assert pd.isna(judged.loc["events_log", "last_vacuum_any"]) and judged.loc["events_log", "autovacuum_count"] == 0
    assert 0 < judged.loc["events_log", "watched_days"] < maintenance.MAINTENANCE_MAX_AGE.days


def test_wraparound_headroom_is_reported_per_database_and_table(scenario: Scenario) -> None:
    con = scenario.con()
    try:
        wrap = maintenance.xid_wraparound(con)
    finally:
        con.close()
    assert {"database", "table"} == set(wrap["scope"])
    assert "app" in set(wrap.loc[wrap["scope"] == "database", "datname"])
    assert (wrap["status"] == "ok").all() and (wrap["percent_used"] < 1).all()
    assert (wrap["headroom"] == 2**31 - wrap["xid_age"]).all()


def test_overdue_means_older_than_a_week_or_never_for_modified_tables() -> None:
    con = empty_warehouse()
    now = T0 + timedelta(days=30)
    base = {"server": "db", "taken_at": now, "datname": "d", "schemaname": "public", "n_live_tup": 100}
    insert(con, "pg_tables", [
        {**base, "relname": "fresh", "n_dead_tup": 5, "last_autovacuum": now - timedelta(days=6),
         "last_analyze": now - timedelta(days=6, hours=23)},
        {**base, "relname": "stale", "n_dead_tup": 5, "last_vacuum": now - timedelta(days=8),
         "last_autovacuum": now - timedelta(days=7, minutes=1), "last_autoanalyze": now - timedelta(days=1)},
        {**base, "relname": "untouched", "n_dead_tup": 0, "n_mod_since_analyze": 0},
        {**base, "relname": "never", "n_mod_since_analyze": 3},
        {**base, "relname": "never", "n_mod_since_analyze": 1, "taken_at": now - timedelta(days=8)},
        {**base, "relname": "new", "n_dead_tup": 3, "n_mod_since_analyze": 3},  # first seen just now
    ])  # fmt: skip
    overdue = maintenance.maintenance_overdue(con).set_index("relname")
    assert list(overdue.index) == ["never", "stale"]  # "new" has not been watched for a week: not judged yet
    assert overdue.loc["stale", "vacuum_overdue"] and not overdue.loc["stale", "analyze_overdue"]
    assert overdue.loc["stale", "vacuum_age_days"] == pytest.approx(7 + 1 / 1440)
    assert overdue.loc["never", "vacuum_overdue"] and overdue.loc["never", "analyze_overdue"]
    assert overdue.loc["never", "watched_days"] == pytest.approx(8)
    assert maintenance.maintenance_overdue(con, max_age=timedelta(days=9)).empty  # "never": watched 8 days


def test_wraparound_bands() -> None:
    con = empty_warehouse()
    ages = {"ok": int(0.4999 * 2**31), "warn": 2**30, "crit": int(0.75 * 2**31)}
    insert(con, "pg_databases", [{"server": "db", "taken_at": T0, "datname": n, "xid_age": a} for n, a in ages.items()])
    wrap = maintenance.xid_wraparound(con, tables=False).set_index("datname")
    assert wrap["status"].to_dict() == {"ok": "ok", "warn": "warning", "crit": "critical"}
    assert wrap.loc["warn", "percent_used"] == 50.0 and wrap.loc["warn", "headroom"] == 2**30
    assert maintenance.xid_wraparound(con, tables=False, warning_percent=40)["status"].tolist() == [
        "critical",
        "warning",
        "warning",
    ]


def test_the_demo_maintenance_findings_are_found(demo_warehouse: Path) -> None:
    from sre_lib.demo.spec import DemoSpec

    spec = DemoSpec()
    week = {"start": spec.end - timedelta(days=7)}
    con = Warehouse(demo_warehouse).open_read_only()
    try:
        dead = maintenance.dead_tuples(con)
        overdue = maintenance.maintenance_overdue(con, **week).set_index("relname")
        unused = indexes.unused_indexes(con, **week)
        duplicates = indexes.duplicate_indexes(con)
        invalid = indexes.invalid_indexes(con)
        near_limit = sequences.sequences_near_limit(con)
        seq = indexes.seq_scan_tables(con, **week)
        low_cache = cache_hits.tables_low_cache_hit(con, **week)
        idle = connections.idle_in_transaction_sessions(con)
        long = connections.long_sessions(con)
        grown = growth.table_growth(con)
        usage = connections.connection_usage(con)
    finally:
        con.close()
    assert list(dead["relname"]) == ["events_log"]
    assert overdue.loc["events_log", "vacuum_overdue"] and overdue.loc["sessions", "analyze_overdue"]
    assert list(unused["indexrelname"]) == ["idx_users_legacy_email"]
    assert set(zip(duplicates["indexrelname"], duplicates["covered_by"], strict=True)) == {
        ("idx_posts_author", "idx_posts_author_created")
    }
    assert list(invalid["indexrelname"]) == ["idx_events_log_tmp"]
    assert list(near_limit["sequencename"]) == ["audit_log_id_seq"] and near_limit["used_ratio"].iloc[0] > 0.9
    assert list(seq["relname"]) == ["comments"]
    assert "comments" in set(low_cache["relname"])
    assert len(idle) >= 1 and idle["duration_seconds"].min() >= 60
    assert (~long["idle_in_transaction"]).any()  # the nightly report, active for over a minute
    assert (grown["bytes_per_week"] > 0).any()
    assert set(usage["status"]) <= {"healthy", "warning", "critical"} and len(usage) > 1000


def test_maintenance_still_exports_every_check_it_held() -> None:
    homes = (cache_hits, connections, growth, index_definitions, indexes, sequences, table_activity)
    for name in maintenance.__all__:
        value = getattr(maintenance, name)
        moved = [home for home in homes if name in home.__all__]
        assert len(moved) <= 1, name
        if moved:
            assert value is getattr(moved[0], name), name
