"""Simulation results: minutes per band, cost, the comparison table and chart frames."""

from __future__ import annotations

import pytest
from support.scaling_inputs import CONFIG, CONFIG_TEXT, policy, series_of, trace

from sre_lib.analysis.scaling import (
    HpaPolicy,
    ThresholdPolicy,
    compare,
    policy_grid,
    simulate,
    simulate_many,
    tier_demand,
    timeline_frame,
)
from sre_lib.config import parse_config
from sre_lib.demo.metric_history import metric_frames
from sre_lib.demo.spec import DemoSpec


def test_minutes_in_each_band_use_the_cpu_bands_on_per_server_cpu() -> None:
    # One fixed server: healthy below 60, warning 60..80 inclusive, critical above 80; at or above 100 saturated.
    result = simulate(series_of([50, 60, 70, 80, 90, 100, 120]), CONFIG, policy(min_servers=1, max_servers=1))
    assert result.band_minutes == {"healthy": 1, "warning": 3, "critical": 3}
    assert result.saturation_minutes == 2
    assert result.unmet_server_hours == pytest.approx(0.2 / 60)
    assert list(result.timeline["cpu_percent"]) == [50, 60, 70, 80, 90, 100, 100]
    assert list(result.timeline["band"]) == ["healthy"] + ["warning"] * 3 + ["critical"] * 3


def test_a_sustained_cpu_band_counts_critical_only_after_that_many_minutes() -> None:
    sustained = parse_config(CONFIG_TEXT.replace("critical = 80.0\n", "critical = 80.0\nsustained_minutes = 3\n", 1))
    assert sustained.indicators["cpu"].sustained_minutes == 3
    fixed = ThresholdPolicy(min_servers=1, max_servers=1)
    # 90 % for 2 minutes (warning: not yet sustained), 50 %, then 90 % for 4 minutes (the last 2 critical)
    result = simulate(series_of([90, 90, 50, 90, 90, 90, 90]), sustained, fixed)
    assert result.band_minutes == {"healthy": 1, "warning": 4, "critical": 2}


def test_monthly_cost_is_unit_price_times_average_servers() -> None:
    fixed = simulate(trace((100, 1440)), CONFIG, policy(min_servers=2, max_servers=2))
    assert fixed.monthly_cost == pytest.approx(2 * 24.0)
    assert fixed.period_cost == pytest.approx(2 * 24.0 / 30.4)  # one day of a 30.4-day month
    stepped = simulate(trace((120, 30), (160, 30)), CONFIG)
    assert stepped.average_servers == pytest.approx((31 * 2 + 29 * 3) / 60)
    assert stepped.monthly_cost == pytest.approx(24.0 * 149 / 60)
    assert stepped.currency == "USD"


def test_events_chain_and_servers_stay_within_bounds_on_a_demo_week() -> None:
    series, samples = metric_frames(DemoSpec(days=7))
    samples = samples.merge(series[["series_id", "component", "instance", "metric"]], on="series_id")
    demand = tier_demand(samples)
    assert len(demand) == 7 * 1440
    results = simulate_many(demand, CONFIG, [*policy_grid(CONFIG)[:5], HpaPolicy.from_config(CONFIG)])
    for result in results:
        assert result.servers.min() >= 1 and result.servers.max() <= 4
        assert sum(result.band_minutes.values()) == 7 * 1440
        froms, tos = list(result.events["from"]), list(result.events["to"])
        assert froms[1:] == tos[:-1]
        assert all(abs(a - b) == 1 for a, b in zip(froms, tos, strict=True)) or result.policy.name.startswith("hpa")
    table = compare(results)
    assert len(table) == 6 and {"monthly_cost", "saturation_minutes", "scale_events"} <= set(table.columns)
    chart = timeline_frame(results, max_rows=600)
    assert len(chart) <= 600 and set(chart["policy"]) == {r.policy.name for r in results}
    assert "SimulationResult(" in repr(results[0])


def test_downsample_keeps_under_the_row_limit_and_aggregates_correctly() -> None:
    result = simulate(trace((120, 30), (160, 30)), CONFIG)
    frame = result.downsample("30min")
    assert list(frame["servers_mean"]) == [2.0, pytest.approx((1 * 2 + 29 * 3) / 30)]
    assert list(frame["servers_max"]) == [2, 3]
    assert len(result.downsample(max_rows=10)) <= 10
