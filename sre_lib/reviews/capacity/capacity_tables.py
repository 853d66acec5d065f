"""The capacity review as report tables: local dates, money with currency, plain column names."""

from __future__ import annotations

import pandas as pd

from sre_lib.analysis import scaling
from sre_lib.reviews.blocks import money
from sre_lib.reviews.capacity.review_model import CapacityReview


def actions_table(review: CapacityReview) -> pd.DataFrame:
    """The action list as a manager reads it: local dates, money with currency, plain column names."""
    currency = review.config.platform.currency
    frame = review.actions.copy()
    frame["by"] = frame["by"].map(lambda day: f"{day:%a %d %b %Y}" if pd.notna(day) else "")
    frame["monthly_cost_change"] = frame["monthly_cost_change"].map(lambda value: money(value, currency))
    frame["trustworthy"] = frame["trustworthy"].map(lambda ok: "" if ok else "forecast not trustworthy")
    renamed = frame.rename(
        columns={"action": "what to do", "monthly_cost_change": "cost / month", "trustworthy": "caveat"}
    )
    return renamed[["by", "component", "what to do", "cost / month", "why", "caveat"]]


def policy_table(review: CapacityReview) -> pd.DataFrame:
    """The scaling-policy replay as a manager reads it: one row per policy, whole minutes, money with currency;
    the minutes without load data too, when the window has any (no policy decides on them)."""
    if not review.simulations:
        return pd.DataFrame()
    currency = review.config.platform.currency
    frame = scaling.compare(list(review.simulations)).reset_index()
    minutes = ["warning_minutes", "critical_minutes", "no_data_minutes", "saturation_minutes"]
    shown = frame.assign(
        average_servers=frame["average_servers"].round(2),
        monthly_cost=frame["monthly_cost"].map(lambda value: money(value, currency, signed=False)),
        **{column: frame[column].round().astype("int64") for column in minutes},
    )
    shown.insert(1, "how", [result.policy.describe() for result in review.simulations])
    labels = {
        "policy": "policy", "how": "how it scales", "scale_outs": "servers added", "scale_ins": "servers removed",
        "average_servers": "average servers", "peak_servers": "peak servers", "warning_minutes": "minutes warning",
        "critical_minutes": "minutes critical", "no_data_minutes": "minutes without data",
        "saturation_minutes": "minutes saturated", "monthly_cost": "cost / month",
    }  # fmt: skip
    if not frame["no_data_minutes"].any():
        del labels["no_data_minutes"]
    return shown[list(labels)].rename(columns=labels)
