"""Index checks (sre_lib.analysis.postgres.indexes): unused, duplicate and invalid indexes on the real scenario
and on hand-built snapshots."""

from __future__ import annotations

from datetime import timedelta

from pg_checks_scenario import PHASES, T0, Scenario, empty_warehouse, insert, names_in

from sre_lib.analysis.postgres import indexes
from sre_lib.analysis.postgres.snapshots import window_deltas_sql


def test_unused_index_is_found_and_used_unique_and_invalid_ones_are_not(scenario: Scenario) -> None:
    con = scenario.con()
    try:
        unused = indexes.unused_indexes(con)
        last_interval = indexes.unused_indexes(con, start=scenario.snaps[-2])
    finally:
        con.close()
    names = names_in(unused, "indexrelname")
    assert "idx_users_legacy_email" in names
    assert "idx_users_email" not in names  # scanned in every phase
    assert not names & {"users_pkey", "posts_pkey", "posts_title_key", "idx_users_legacy_tmp"}
    row = unused.set_index("indexrelname").loc["idx_users_legacy_email"]
    assert row["index_bytes"] > 0 and row["idx_scan"] == 0 and row["intervals"] == PHASES
    assert row["observed_since"] == scenario.snaps[0]
    assert last_interval.set_index("indexrelname").loc["idx_users_legacy_email", "intervals"] == 1
    assert unused["index_bytes"].is_monotonic_decreasing


def test_duplicate_indexes_are_prefixes_with_the_same_method_and_predicate(scenario: Scenario) -> None:
    con = scenario.con()
    try:
        duplicates = indexes.duplicate_indexes(con)
    finally:
        con.close()
    found = set(zip(duplicates["indexrelname"], duplicates["covered_by"], strict=True))
    assert found == {
        ("idx_posts_author", "idx_posts_author_created"),
        ("idx_posts_title_lower", "idx_posts_title_lower_id"),
        ("idx_posts_twin_b", "idx_posts_twin_a"),
    }
    identical = duplicates.set_index("indexrelname")["identical"]
    assert identical["idx_posts_twin_b"] and not identical["idx_posts_author"]


def test_invalid_index_is_reported_with_what_to_do(scenario: Scenario) -> None:
    con = scenario.con()
    try:
        invalid = indexes.invalid_indexes(con)
    finally:
        con.close()
    assert list(invalid["indexrelname"]) == ["idx_users_legacy_tmp"]
    assert invalid["action"].iloc[0].startswith("DROP INDEX CONCURRENTLY public.idx_users_legacy_tmp")


def test_window_deltas_survive_a_counter_reset_and_count_new_objects_from_zero() -> None:
    con = empty_warehouse()
    base = {"server": "db", "datname": "d", "schemaname": "public", "relname": "t", "is_unique": False,
            "is_primary": False, "is_valid": True, "index_bytes": 8192, "indexdef": "CREATE INDEX"}  # fmt: skip
    scans = {"old": [10, 15, 3, 3], "late": [None, None, 0, 0]}
    rows = [{**base, "taken_at": T0 + timedelta(hours=i), "indexrelname": name, "idx_scan": value}
            for name, values in scans.items() for i, value in enumerate(values) if value is not None]  # fmt: skip
    insert(con, "pg_indexes", rows)
    sql, params = window_deltas_sql("pg_indexes", ("indexrelname",), ("idx_scan",), "db", None, None)
    deltas = con.execute(sql, params).df().set_index("indexrelname")
    assert deltas.loc["old", "idx_scan"] == 5 + 3 + 0 and deltas.loc["old", "reset"]
    assert deltas.loc["old", "intervals"] == 3
    assert deltas.loc["late", "idx_scan"] == 0 and deltas.loc["late", "intervals"] == 2
    unused = indexes.unused_indexes(con)
    assert list(unused["indexrelname"]) == ["late"]
    assert list(indexes.unused_indexes(con, start=T0 + timedelta(hours=2))["indexrelname"]) == ["late", "old"]
    assert indexes.unused_indexes(con, end=T0).empty  # one snapshot: no interval observed, nothing can be said
