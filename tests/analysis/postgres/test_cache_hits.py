"""Sequential scans and cache hit ratios (sre_lib.analysis.postgres.indexes, .cache_hits) on the real scenario."""

from __future__ import annotations

from pg_checks_scenario import PHASES, Scenario, names_in

from sre_lib.analysis.postgres import cache_hits, indexes


def test_sequential_scans_dominate_the_big_unindexed_table_with_low_cache_hits(scenario: Scenario) -> None:
    con = scenario.con()
    try:
        seq = indexes.seq_scan_tables(con)
        low = cache_hits.tables_low_cache_hit(con)
        databases = cache_hits.cache_hit_ratios(con).set_index("datname")
    finally:
        con.close()
    assert "lookup" not in names_in(seq, "relname")  # 15,000 rows, but index scans dominate
    comments = seq.set_index("relname").loc["comments"]
    assert comments["seq_scan"] == 5 * PHASES and comments["idx_scan"] == 0 and comments["n_live_tup"] == 30000
    assert comments["seq_scan_share"] == 1.0
    assert "comments" in names_in(low, "relname")
    assert low.set_index("relname").loc["comments", "heap_hit_ratio"] < 0.99
    assert databases.loc["app", "heap_hit_ratio"] < 0.99 and databases.loc["app", "below"]
    assert 0 < databases.loc["app", "hit_ratio"] < 1
