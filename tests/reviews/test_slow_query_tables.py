"""The slow-queries report's tables: every labelled column is one the review produces, on the demo."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sre_lib.config import DEFAULT_CONFIG_PATH, load_config
from sre_lib.reviews.slow_queries import TOP_BY_MEAN_MIN_CALLS, slow_query_review
from sre_lib.reviews.slow_query_tables import (
    SLOW_QUERY_LAYOUTS,
    long_session_rows,
    top_by_mean_note,
    wraparound_at_risk,
)
from sre_lib.warehouse.store import Warehouse

CONFIG = load_config(DEFAULT_CONFIG_PATH)


def test_every_layout_labels_columns_the_review_has(demo_warehouse: Path) -> None:
    con = Warehouse(demo_warehouse).open_read_only()
    try:
        review = slow_query_review(con, CONFIG, top=40)
    finally:
        con.close()
    for name, layout in SLOW_QUERY_LAYOUTS.items():
        frame = getattr(review, name)
        missing = set(layout.labels) - set(frame.columns)
        assert not missing, f"{name}: labels for columns the review has not: {missing}"
        if not frame.empty:
            markup = layout.render(frame)._repr_html_()
            assert "<table" in markup and all(f">{label}<" in markup for label in layout.labels.values()), name
    assert not review.regressions.empty and not review.long_sessions.empty
    sessions = long_session_rows(review.long_sessions, CONFIG.tz)
    assert sessions["started_at"].str.endswith(("AEDT", "AEST")).all()


def test_the_small_sentences_and_filters() -> None:
    assert top_by_mean_note() == (
        f"Statements called at least {TOP_BY_MEAN_MIN_CALLS} times in the window (one-off queries left out)."
    )
    wraparound = pd.DataFrame({"scope": ["database", "table"], "status": ["ok", "warning"]})
    assert list(wraparound_at_risk(wraparound)["scope"]) == ["table"]
    calm = SLOW_QUERY_LAYOUTS["wraparound"].render(wraparound_at_risk(wraparound.iloc[:1]))._repr_html_()
    assert "every database and table is far from it" in calm
    assert SLOW_QUERY_LAYOUTS["regressions"].render(pd.DataFrame())._repr_html_() == (
        "<ul><li>No statement regressed.</li></ul>"
    )
