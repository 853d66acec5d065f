"""The capacity review: health, forecasts, scaling and cost combined into a verdict and dated actions.

This is what the capacity report shows a manager first. ``capacity_review`` reads the window and runs the
analyses (``assembly``); the result is a ``CapacityReview`` (``review_model``) whose actions come from
``dated_actions``, its verdict and planning sentence from ``capacity_verdict``, its notes on missing data and
forecasts from ``review_notes``; ``capacity_tables`` words it for the report's tables and sentences.
"""

from sre_lib.reviews.capacity.assembly import (
    CROSSING_COLUMNS,
    EPISODE_ONGOING_SLACK,
    FORECAST_METRICS,
    TRIGGER_RECENT_DAYS,
    capacity_review,
    tier_daily_peak,
)
from sre_lib.reviews.capacity.capacity_tables import (
    ACTIONS_LAYOUT,
    COMPONENT_STATUS_LAYOUT,
    COVERAGE_COLOURS,
    COVERAGE_HEADINGS,
    CROSSINGS_LAYOUT,
    DISK_ALERT_LAYOUT,
    FIRED_TRIGGERS_LAYOUT,
    PLAN_OPTIONS_LAYOUT,
    POLICY_REPLAY_LAYOUT,
    POLICY_STATUS_LAYOUT,
    POLICY_STATUS_METRICS,
    actions_table,
    component_status,
    cost_sentence,
    coverage_sentence,
    coverage_table,
    crossing_table_rows,
    disk_alert_rows,
    fired_triggers,
    plan_summary,
    policy_status,
    policy_table,
)
from sre_lib.reviews.capacity.capacity_verdict import URGENT_DAYS, planning_sentence
from sre_lib.reviews.capacity.dated_actions import (
    POLICY_LEVEL_METRICS,
    REDIS_STATUS_ACTIONS,
    server_steps,
    servers_needed,
)
from sre_lib.reviews.capacity.disk_alerts import ALERT_WINDOW, disk_alert_view
from sre_lib.reviews.capacity.review_model import CHARTED_SERIES, CapacityReview, LatencyPlan
from sre_lib.reviews.capacity.review_notes import BRIDGED_SAMPLES, DATA_NOTES_SHOWN

__all__ = [
    "ACTIONS_LAYOUT",
    "ALERT_WINDOW",
    "BRIDGED_SAMPLES",
    "CHARTED_SERIES",
    "COMPONENT_STATUS_LAYOUT",
    "COVERAGE_COLOURS",
    "COVERAGE_HEADINGS",
    "CROSSINGS_LAYOUT",
    "CROSSING_COLUMNS",
    "DATA_NOTES_SHOWN",
    "DISK_ALERT_LAYOUT",
    "EPISODE_ONGOING_SLACK",
    "FIRED_TRIGGERS_LAYOUT",
    "FORECAST_METRICS",
    "PLAN_OPTIONS_LAYOUT",
    "POLICY_LEVEL_METRICS",
    "POLICY_REPLAY_LAYOUT",
    "POLICY_STATUS_LAYOUT",
    "POLICY_STATUS_METRICS",
    "REDIS_STATUS_ACTIONS",
    "TRIGGER_RECENT_DAYS",
    "URGENT_DAYS",
    "CapacityReview",
    "LatencyPlan",
    "actions_table",
    "capacity_review",
    "component_status",
    "cost_sentence",
    "coverage_sentence",
    "coverage_table",
    "crossing_table_rows",
    "disk_alert_rows",
    "disk_alert_view",
    "fired_triggers",
    "plan_summary",
    "planning_sentence",
    "policy_status",
    "policy_table",
    "server_steps",
    "servers_needed",
    "tier_daily_peak",
]
