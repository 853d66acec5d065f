"""The slow-query review on the demo: the regression leads, every kind of finding is there, nothing twice."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sre_lib.config import DEFAULT_CONFIG_PATH, load_config
from sre_lib.demo import postgres_history as demo
from sre_lib.demo.spec import DemoSpec
from sre_lib.durations import human_duration, rough_duration
from sre_lib.errors import DataError
from sre_lib.reviews.slow_queries import slow_query_review
from sre_lib.warehouse.store import Warehouse

CONFIG = load_config(DEFAULT_CONFIG_PATH)


def test_the_demo_week_is_red_because_of_the_regression(demo_warehouse: Path) -> None:
    con = Warehouse(demo_warehouse).open_read_only()
    try:
        review = slow_query_review(con, CONFIG)
    finally:
        con.close()
    assert review.verdict == "critical"
    row = review.regressions.iloc[0]
    step = review.change_points.set_index("queryid").loc[row["queryid"]]
    made = pd.Timestamp(DemoSpec().at_day(demo.REGRESSION_DAY))
    assert abs(step["changed_at"] - made) <= step["snapshot_interval"]  # the moment, not a mixed 7-day mean
    cost = human_duration(step["extra_ms_per_day"] / 1000)
    assert review.headline.startswith(
        f"statement stepped from {step['before_mean_ms']:.1f} to {step['after_mean_ms']:.1f} ms per call at "
        f"{step['changed_at'].astimezone(CONFIG.tz):%Y-%m-%d %H:%M %Z} (+{cost} of database time a day since; "
    )
    assert ("not chance: p < 0.001)" in review.headline) == (row["p_value"] < 0.001)
    assert list(review.regressions["query"]) == [demo.REGRESSION_QUERY]
    assert demo.NEW_SLOW_QUERY in set(review.new_slow["query"])
    assert demo.REGRESSION_QUERY not in set(review.new_slow["query"])  # listed once: as regressed
    sequence = review.sequences.set_index("sequencename").loc["audit_log_id_seq"]
    assert any(f"lasts {rough_duration(sequence['days_left'])}" in finding for finding in review.findings)
    top = review.top_by_total_time
    assert (top["shared_read_bytes"] == top["shared_blks_read"] * 8192).all()
    assert review.period(CONFIG.tz) == "The 7 days to 2026-11-01 11:00 AEDT, compared with the 7 days before."
    text = "\n".join(review.findings)
    for expected in (
        "idx_users_legacy_email",
        "idx_posts_author is covered by idx_posts_author_created",
        "idx_events_log_tmp",
        "audit_log_id_seq",
        "events_log",
        "idle in transaction for 50 min",  # 3,000 s, said as people say it
        "comments",
    ):
        assert expected in text, expected  # fmt: skip
    assert sum("SELECT p.id, p.author_id" in finding for finding in review.findings) == 1


def test_no_postgres_data_is_a_clear_error(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    warehouse.ensure_created()
    con = warehouse.open_read_only()
    try:
        with pytest.raises(DataError, match="no PostgreSQL snapshots"):
            slow_query_review(con, CONFIG)
    finally:
        con.close()


def test_a_sequence_with_years_of_runway_is_a_note_that_leaves_the_verdict_alone(demo_warehouse: Path) -> None:
    """The demo's audit_log sequence is past 90 % of integer but lasts years at its pace: listed last, and a
    week with nothing else to say is healthy."""
    import dataclasses

    import pandas as pd

    from sre_lib.reviews.slow_queries import SEQUENCE_NOTE_DAYS, _judge

    con = Warehouse(demo_warehouse).open_read_only()
    try:
        review = slow_query_review(con, CONFIG)
    finally:
        con.close()
    sequence = review.sequences.set_index("sequencename").loc["audit_log_id_seq"]
    assert sequence["days_left"] > SEQUENCE_NOTE_DAYS
    assert "audit_log_id_seq" in review.findings[-1]
    frames = {f.name: pd.DataFrame(columns=getattr(review, f.name).columns) for f in dataclasses.fields(review)
              if isinstance(getattr(review, f.name), pd.DataFrame) and f.name != "sequences"}  # fmt: skip
    calm = dataclasses.replace(review, **frames, connections=dataclasses.replace(
        review.connections, status="healthy", peak_status="healthy"))  # fmt: skip
    findings, verdict = _judge(calm)
    assert verdict == "healthy" and len(findings) == 1 and "audit_log_id_seq" in findings[0]
    soon = review.sequences.assign(days_left=SEQUENCE_NOTE_DAYS / 2)
    assert _judge(dataclasses.replace(calm, sequences=soon))[1] == "warning"


def test_a_low_cache_finding_names_the_part_that_is_low() -> None:
    """A table flagged for its indexes is not reported with its (healthy) heap ratio."""
    from collections import namedtuple

    from sre_lib.reviews.slow_queries import _low_cache_parts

    Row = namedtuple("Row", "heap_hit_ratio heap_blks_hit heap_blks_read index_hit_ratio idx_blks_hit idx_blks_read")
    assert _low_cache_parts(Row(0.999, 99_900, 100, 0.95, 9_500, 500)) == "index cache hit ratio 95.0%"
    assert _low_cache_parts(Row(0.9, 900, 100, 0.5, 5, 5)) == "heap cache hit ratio 90.0%"  # 10 index blocks: too few
    both = _low_cache_parts(Row(0.9, 9_000, 1_000, 0.9, 9_000, 1_000))
    assert both == "heap cache hit ratio 90.0% and index cache hit ratio 90.0%"
