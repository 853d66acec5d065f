"""The slow-queries review ties its index suggestions to the sequential-scan finding and shows them."""

from __future__ import annotations

from pathlib import Path

from sre_lib.config import DEFAULT_CONFIG_PATH, load_config
from sre_lib.reviews.slow_queries import slow_query_review
from sre_lib.reviews.slow_query_tables import section_table
from sre_lib.warehouse.store import Warehouse


def test_the_comments_finding_names_its_index_and_the_table_shows_it(demo_warehouse: Path) -> None:
    con = Warehouse(demo_warehouse).open_read_only()
    try:
        review = slow_query_review(con, load_config(DEFAULT_CONFIG_PATH))
    finally:
        con.close()
    (finding,) = [f for f in review.findings if f.startswith("comments: sequential scans dominate")]
    best = review.index_suggestions[review.index_suggestions["relname"] == "comments"].iloc[0]
    assert f"-> {best['action']} (serves 1 statement, {best['share_total_time']:.0%} of database time)" in finding
    assert "(author_id, created_at)" in finding
    markup = section_table(review, "index_suggestions").markup
    assert "CREATE INDEX CONCURRENTLY ON public.comments (author_id, created_at)" in markup
