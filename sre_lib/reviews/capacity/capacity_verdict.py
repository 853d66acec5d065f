"""The capacity review's verdict and headline: the first thing a manager reads.

**critical** when an indicator is critical now or a critical threshold is likely crossed within ``URGENT_DAYS``;
**warning** when something is in its warning band now, a series stopped ("no data"), or an action is due
within the forecast horizon; **healthy** otherwise. A component or indicator without any series is "not
monitored": listed in the coverage table, never a colour of the verdict. The headline is the first urgent
action, else the first action, else what is missing or wrong.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pandas as pd

from sre_lib.analysis import forecast, health
from sre_lib.reviews.capacity.review_notes import history_text

if TYPE_CHECKING:
    from sre_lib.reviews.capacity.review_model import CapacityReview

URGENT_DAYS = 14


def _verdict(
    rollup: health.HealthRollup, actions: pd.DataFrame, crossings: pd.DataFrame, as_of: pd.Timestamp
) -> tuple[str, str]:
    today = as_of.tz_convert("UTC").tz_localize(None).normalize()
    urgent = actions[(actions["by"] <= today + timedelta(days=URGENT_DAYS))] if not actions.empty else actions
    critical_soon = not crossings.empty and bool(
        (
            crossings["threshold"].isin(["critical", "full"])
            & crossings["likely"].notna()
            & (crossings["likely"] <= today + timedelta(days=URGENT_DAYS))
        ).any()
    )
    if rollup.status == "critical" or critical_soon:
        verdict = "critical"
    elif rollup.status in ("warning", "no data") or not actions.empty:
        verdict = "warning"  # a component we cannot see is not a healthy one
    else:
        verdict = "healthy"
    if not urgent.empty:
        first = urgent.iloc[0]
        headline = f"{first['action']} by {first['by']:%Y-%m-%d}"
    elif not actions.empty:
        first = actions.iloc[0]
        headline = f"{first['action']} by {first['by']:%Y-%m-%d}"
    elif rollup.status == "no data":
        silent = list(rollup.components.loc[rollup.components["status"] == "no data", "component"])
        headline = (
            f"no data for {', '.join(silent)}: collect them before trusting this report"
            if silent
            else "nothing is monitored yet: collect before trusting this report"
        )
    elif rollup.status != "healthy":
        headline = f"{rollup.cause}"
    else:
        headline = "every indicator is healthy and no threshold is likely crossed within the forecast horizon"
    return verdict, headline


def planning_sentence(review: CapacityReview) -> str:
    """The planning question in one sentence: until when can the maximum number of servers carry the load?"""
    if review.plan is None or review.demand_forecast is None:
        if review.simulations:  # load was seen, too little of it for the daily peaks a forecast needs
            return (
                f"Not enough app-tier load history to plan from yet: the forecast needs daily peaks of at least "
                f"{forecast.MIN_POINTS} full days ({history_text(review)} of samples in the window)."
            )
        return "No app-tier load history to plan from."
    policy = review.config.scaling.horizontal
    tier = policy.component
    horizon_end = review.demand_forecast.frame["date"].max()
    breach = review.plan.breach.loc["hi80"] if "hi80" in review.plan.breach.index else None
    if breach is None or pd.isna(breach["threshold_date"]):
        current = review.plan.options[review.plan.options["size"] == review.plan.current_size]
        needed = int(current["servers_needed"].iloc[0]) if not current.empty else policy.max_servers
        return (
            f"At the forecast peak ({review.plan.peak_demand:.0f} % CPU summed over the tier, 80 % upper bound, on "
            f"{review.plan.peak_date:%Y-%m-%d}) {needed} {tier} server{'s' if needed > 1 else ''} of the current "
            f"size stay under {policy.cpu_threshold_percent:g} % CPU each: the policy's maximum of "
            f"{policy.max_servers} carries the load through {horizon_end:%Y-%m-%d}."
        )
    return (
        f"From {breach['threshold_date']:%Y-%m-%d} even {policy.max_servers} {tier} servers run above "
        f"{policy.cpu_threshold_percent:g} % CPU at the forecast peak: {review.plan.recommendation}."
    )
