"""Capacity planning: the date max_servers no longer carry the peak, and what to buy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support.scaling_inputs import CONFIG, series_of

from sre_lib.analysis.queueing import servers_for_p95
from sre_lib.analysis.scaling import capacity_plan, estimate_service_time
from sre_lib.errors import DataError


def linear_forecast(days: int = 30) -> pd.DataFrame:
    day = np.arange(days)
    mean = 200.0 + 10.0 * day
    return pd.DataFrame(
        {
            "date": pd.date_range("2027-01-01", periods=days, freq="D"),
            "mean": mean,
            "hi80": mean + 20,
            "hi95": mean + 40,
        }
    )


def test_the_date_even_max_servers_run_over_the_threshold() -> None:
    plan = capacity_plan(linear_forecast(), CONFIG)
    # 4 servers x 70 % = 280: mean 200 + 10 d > 280 from day 9; hi80 from day 7; hi95 from day 5.
    assert plan.breach.loc["mean", "threshold_date"] == pd.Timestamp("2027-01-10")
    assert plan.breach.loc["hi80", "threshold_date"] == pd.Timestamp("2027-01-08")
    assert plan.breach.loc["hi95", "threshold_date"] == pd.Timestamp("2027-01-06")
    # critical 4 x 80 = 320: mean from day 13; saturation 4 x 100 = 400: mean from day 20.
    assert plan.breach.loc["mean", "critical_date"] == pd.Timestamp("2027-01-14")
    assert plan.breach.loc["mean", "saturation_date"] == pd.Timestamp("2027-01-21")


def test_what_to_buy_is_the_cheapest_fleet_that_carries_the_peak() -> None:
    plan = capacity_plan(linear_forecast(), CONFIG)
    assert plan.peak_demand == 510.0  # hi80 on the last day
    options = plan.options.set_index("size")
    # small (2 vCPU): ceil(510 / 70) = 8 servers, over max 4 -> raise max_servers, 8 x 24 = 192
    assert options.loc["small", "servers_needed"] == 8 and not options.loc["small", "within_max_servers"]
    assert options.loc["small", "action"] == "raise max_servers from 4 to 8"
    # cpu-only (4 vCPU): 255 / 70 -> 4 servers x 30 = 120; big: 4 x 48 = 192; huge (8 vCPU): 2 x 96 = 192
    assert options.loc["cpu-only", "monthly_cost"] == 120.0
    assert (options.loc["big", "monthly_cost"], options.loc["huge", "monthly_cost"]) == (192.0, 192.0)
    assert plan.best["size"] == "cpu-only"
    assert plan.best["monthly_change"] == 120.0 - 2 * 24.0
    assert plan.recommendation.startswith("resize to cpu-only: 4 x cpu-only at 120.00 USD/month")
    # equal cost: a fleet that needs no policy change ranks before one that does
    order = list(plan.options["size"])
    assert order.index("small") > max(order.index("big"), order.index("huge"))
    assert "CapacityPlan(app" in repr(plan)


def test_no_purchase_when_max_servers_carry_the_peak() -> None:
    forecast = linear_forecast().assign(mean=100.0, hi80=150.0, hi95=170.0)
    plan = capacity_plan(forecast, CONFIG)
    assert plan.breach["threshold_date"].isna().all()
    assert plan.best["size"] == "small" and plan.best["servers_needed"] == 3  # ceil(150 / 70)
    assert plan.best["action"] == "keep the size: 3 at the forecast peak, within max_servers 4"


def test_the_latency_target_adds_servers_from_the_queueing_model() -> None:
    plan = capacity_plan(linear_forecast(), CONFIG, peak_request_rate_per_s=2000.0, service_time_s=0.01)
    options = plan.options.set_index("size")
    for size in ("small", "cpu-only", "huge"):
        vcpu = int(options.loc[size, "vcpu"])
        assert options.loc[size, "servers_for_p95"] == servers_for_p95(2000.0, 0.01, 0.2, per_server_concurrency=vcpu)
        assert options.loc[size, "servers_needed"] == max(
            options.loc[size, "servers_for_cpu"], options.loc[size, "servers_for_p95"]
        )
    assert options.loc["small", "servers_for_p95"] > 10  # 20 erlangs need more than 10 two-vCPU servers


def test_planning_refuses_bad_forecasts() -> None:
    with pytest.raises(DataError, match="'hi80' column"):
        capacity_plan(linear_forecast().drop(columns=["hi80"]), CONFIG)
    with pytest.raises(DataError, match="non-empty"):
        capacity_plan(linear_forecast().iloc[:0], CONFIG)
    bad = linear_forecast()
    bad.loc[3, "hi80"] = -1.0
    with pytest.raises(DataError, match="forecast hi80: negative value"):
        capacity_plan(bad, CONFIG)


def test_service_time_from_cpu_and_request_rate() -> None:
    # 2-vCPU servers with a total demand of 150 % = 3 busy vCPUs serving 300 requests/s: 10 ms each.
    demand = series_of([150.0] * 5)
    rate = series_of([300.0] * 5)
    assert estimate_service_time(demand, rate, vcpu_per_server=2) == pytest.approx(0.01)
