"""The capacity report's tables and sentences: every labelled column is one the review produces, the cost
sentence states the review's own numbers, and the notebook's former cell logic reads as before."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from sre_lib.config import DEFAULT_CONFIG_PATH, load_config
from sre_lib.reviews.capacity import (
    COMPONENT_STATUS_LAYOUT,
    CROSSINGS_LAYOUT,
    DISK_ALERT_LAYOUT,
    FIRED_TRIGGERS_LAYOUT,
    PLAN_OPTIONS_LAYOUT,
    POLICY_STATUS_LAYOUT,
    POLICY_STATUS_METRICS,
    TRIGGER_RECENT_DAYS,
    capacity_review,
    component_status,
    cost_sentence,
    crossing_table_rows,
    disk_alert_rows,
    fired_triggers,
    plan_summary,
    policy_status,
)
from sre_lib.warehouse.store import Warehouse

CONFIG = load_config(DEFAULT_CONFIG_PATH)


@pytest.fixture(scope="module")
def demo_review(demo_warehouse: Path):
    con = Warehouse(demo_warehouse).open_read_only()
    try:
        yield capacity_review(con, CONFIG)
    finally:
        con.close()


def test_the_cost_sentence_states_the_reviews_numbers(demo_review) -> None:
    sentence = cost_sentence(demo_review)
    assert sentence.startswith(f"Inventory today: {CONFIG.monthly_cost():,.2f} USD per month; ")
    assert f"add {demo_review.monthly_cost_change:+,.2f} USD per month" in sentence
    assert demo_review.monthly_cost_change > 0  # the demo's third app server costs money
    summary = plan_summary(demo_review)
    assert summary[0] == sentence and summary[-1] == demo_review.planning
    assert (str(demo_review.latency) in summary) == (demo_review.latency is not None)


def test_every_labelled_column_is_one_the_review_produces(demo_review) -> None:
    shown = {
        "status": (COMPONENT_STATUS_LAYOUT, component_status(demo_review)),
        "crossings": (CROSSINGS_LAYOUT, crossing_table_rows(demo_review)),
        "disk alerts": (DISK_ALERT_LAYOUT, disk_alert_rows(demo_review)),
        "plan options": (PLAN_OPTIONS_LAYOUT, demo_review.plan.options),
        "policy status": (POLICY_STATUS_LAYOUT, policy_status(demo_review)),
    }
    for name, (layout, frame) in shown.items():
        assert not frame.empty, name
        missing = set(layout.labels) - set(frame.columns) - {"reason"}  # "why not": only for untrustworthy rows
        assert not missing, f"{name}: labels for columns the review has not: {missing}"
        markup = layout.render(frame, currency="USD")._repr_html_()
        assert all(f">{label}<" in markup for label in layout.labels.values() if label != "why not"), name


def test_the_policy_status_lists_redis_and_connections_only(demo_review) -> None:
    listed = policy_status(demo_review)
    assert set(listed["metric"]) <= set(POLICY_STATUS_METRICS)
    assert {"redis_memory", "redis_hit_ratio", "db_connections"} <= set(listed["metric"])
    assert len(listed) == demo_review.status["metric"].isin(POLICY_STATUS_METRICS).sum()


def test_disk_alert_rows_say_never_and_not_within_the_horizon(demo_review) -> None:
    view = pd.DataFrame({
        "component": ["db"], "instance": ["db-1"], "level": [90.0], "value_now": [50.0], "trend": ["+0.00"],
        "predict_linear_date": [pd.NaT], "forecast_likely_date": [pd.NaT], "predict_linear": ["never"],
    })  # fmt: skip
    rows = disk_alert_rows(replace(demo_review, alert_view=view, horizon_days=45))
    assert rows.loc[0, "predict_linear_date"] == "never (flat or falling)"
    assert rows.loc[0, "forecast_likely_date"] == "not within 45 days"


def test_fired_triggers_say_whether_to_act_or_watch(demo_review) -> None:
    vertical = pd.DataFrame({
        "trigger": ["cpu", "memory", "connections"], "component": ["db", "db", "db"], "fires": [True, True, False],
        "recent": [True, False, False], "last_fired": pd.to_datetime(["2026-10-30", "2026-10-01", None], utc=True),
        "episodes": [2, 1, 0], "recommended_size": ["large", "large", None], "monthly_difference": [80.0, 80.0, 0],
    })  # fmt: skip
    fired = fired_triggers(replace(demo_review, vertical=vertical))
    assert list(fired["recent"]) == ["yes: act", "no: watch"]
    assert fired["last_fired"].iloc[0].startswith("2026-10-30")
    markup = FIRED_TRIGGERS_LAYOUT.render(fired, currency="USD")._repr_html_()
    assert f"fired in the last {TRIGGER_RECENT_DAYS} days" in markup and "80.00 USD" in markup
    quiet = fired_triggers(replace(demo_review, vertical=vertical.assign(fires=False)))
    expected = "<ul><li>No resize trigger fired in the window.</li></ul>"
    assert FIRED_TRIGGERS_LAYOUT.render(quiet)._repr_html_() == expected
