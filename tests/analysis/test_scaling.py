"""Scaling simulation: hand-built load traces with known answers, vertical triggers, the planning question."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from sre_lib.analysis.queueing import servers_for_p95
from sre_lib.analysis.scaling import (
    HpaPolicy,
    ThresholdPolicy,
    capacity_plan,
    compare,
    estimate_service_time,
    policy_grid,
    recommend_size,
    simulate,
    simulate_many,
    tier_demand,
    timeline_frame,
    vertical_triggers,
)
from sre_lib.config import load_config, parse_config
from sre_lib.demo.metric_history import metric_frames
from sre_lib.demo.spec import DemoSpec
from sre_lib.errors import DataError

# Prices and sizes fixed here, so the expected numbers below can be worked out by hand.
CONFIG_TEXT = """
[platform]
name = "test"

[sizes.tiny]
vcpu = 1
ram_gb = 2
disk_gb = 50
monthly_price = 12.0

[sizes.tiny-cpu]
vcpu = 2
ram_gb = 2
disk_gb = 50
monthly_price = 18.0

[sizes.small]
vcpu = 2
ram_gb = 4
disk_gb = 80
monthly_price = 24.0

[sizes.cpu-only]
vcpu = 4
ram_gb = 4
disk_gb = 80
monthly_price = 30.0

[sizes.ram]
vcpu = 2
ram_gb = 8
disk_gb = 80
monthly_price = 36.0

[sizes.big]
vcpu = 4
ram_gb = 8
disk_gb = 160
monthly_price = 48.0

[sizes.huge]
vcpu = 8
ram_gb = 16
disk_gb = 320
monthly_price = 96.0

[components.cdn]
role = "cdn"
monthly_price = 5.0

[components.app]
role = "app"
size = "small"
count = 2

[components.postgresql]
role = "database"
size = "small"

[components.redis]
role = "cache"
size = "tiny"

[indicators.cpu]
unit = "percent"
warning = 60.0
critical = 80.0

[indicators.memory]
unit = "percent"
warning = 70.0
critical = 85.0

[indicators.db_connections]
unit = "percent of pool"
warning = 70.0
critical = 85.0

[indicators.latency_p95]
unit = "ms"
warning = 200.0
critical = 500.0

[scaling.horizontal]
component = "app"
cpu_threshold_percent = 70.0
scale_in_cpu_threshold_percent = 35.0
cooldown_seconds = 300
min_servers = 1
max_servers = 4

[[scaling.vertical]]
trigger = "consistent high CPU"
indicator = "cpu"
above_percent = 80.0
sustained_minutes = 60
action = "resize to more vCPUs"

[[scaling.vertical]]
trigger = "memory pressure"
indicator = "memory"
above_percent = 85.0
sustained_minutes = 30
action = "resize to more RAM"

[[scaling.vertical]]
trigger = "database bottleneck"
indicator = "db_connections"
component = "postgresql"
above_percent = 85.0
sustained_minutes = 15
action = "resize the database Droplet"
"""

CONFIG = parse_config(CONFIG_TEXT)
START = pd.Timestamp("2026-10-01 00:00", tz="UTC")


def trace(*parts: tuple[float, int]) -> pd.Series:
    """A 1-minute demand trace from (level, minutes) pieces."""
    values = np.concatenate([np.full(minutes, float(level)) for level, minutes in parts])
    return pd.Series(values, index=pd.date_range(START, periods=len(values), freq="1min"), name="demand")


def series_of(values: list[float]) -> pd.Series:
    return pd.Series(values, index=pd.date_range(START, periods=len(values), freq="1min"), dtype=float)


def policy(**changes: object) -> ThresholdPolicy:
    return ThresholdPolicy.from_config(CONFIG, **changes)


def both_engines(demand: pd.Series, chosen, **kwargs):
    fast = simulate(demand, CONFIG, chosen, **kwargs)
    reference = simulate(demand, CONFIG, chosen, engine="reference", **kwargs)
    assert np.array_equal(fast.servers, reference.servers)
    pd.testing.assert_frame_equal(fast.events, reference.events)
    return fast


# ------------------------------------------------------------------------------------------- threshold policy


def test_defaults_come_from_the_shipped_config() -> None:
    shipped = load_config()
    p = ThresholdPolicy.from_config(shipped)
    assert (p.cpu_threshold_percent, p.scale_in_cpu_threshold_percent) == (70, 35)
    assert (p.cooldown_seconds, p.min_servers, p.max_servers, p.scale_in_window) == (300, 1, 4, 300)
    assert HpaPolicy.from_config(shipped).target_percent == 70


def test_a_step_up_in_load_adds_exactly_one_server() -> None:
    # 2 servers at 60 % (demand 120), then demand 160: 80 % per server > 70 %, so one more; 3 x 53 % is fine,
    # and 160 on 2 would be 80 % > 35 %, so it never scales back in.
    result = both_engines(trace((120, 30), (160, 30)), policy())
    assert list(result.events[["from", "to"]].itertuples(index=False, name=None)) == [(2, 3)]
    assert result.events["time"].iloc[0] == START + pd.Timedelta(minutes=31)  # decided on minute 30
    assert (result.servers[:31] == 2).all() and (result.servers[31:] == 3).all()
    assert "80.0% > 70%" in result.events["reason"].iloc[0]


def test_scale_in_judges_the_load_on_one_server_fewer() -> None:
    # 2 servers at 30 % each (demand 60) are below 35 %, but one server would carry 60 %: keep both.
    assert both_engines(trace((60, 20)), policy()).events.empty
    # Demand 34 would run one server at 34 % < 35 %: remove one at the first decision.
    result = both_engines(trace((34, 20)), policy())
    assert list(result.events[["from", "to"]].itertuples(index=False, name=None)) == [(2, 1)]


def test_a_scale_out_waits_for_the_cooldown_after_the_previous_event() -> None:
    # Demand 30 on 2 servers: 1 server would carry 30 % < 35 %, so scale in at minute 0. The load jumps to
    # 100 at minute 2, but the next event may only be decided 300 s after the first: minute 5.
    result = both_engines(trace((30, 2), (100, 20)), policy())
    events = list(result.events[["from", "to"]].itertuples(index=False, name=None))
    assert events == [(2, 1), (1, 2)]
    assert list(result.events["time"]) == [START + pd.Timedelta(minutes=1), START + pd.Timedelta(minutes=6)]


def test_the_cooldown_suppresses_flapping_on_oscillating_load() -> None:
    # Demand alternates 80 / 30 every minute; with a one-sample scale-in window one server is too few on the
    # 80 minutes and two are too many on the 30 minutes.
    demand = series_of([80.0, 30.0] * 10)
    no_cooldown = both_engines(demand, policy(cooldown_seconds=0, scale_in_window_seconds=60), initial_servers=1)
    assert len(no_cooldown.events) == 20  # flaps on every sample
    cooled = both_engines(demand, policy(cooldown_seconds=300, scale_in_window_seconds=60), initial_servers=1)
    assert list(cooled.events["time"] - START) == [pd.Timedelta(minutes=m) for m in (1, 6, 11, 16)]
    assert list(cooled.events["to"]) == [2, 1, 2, 1]
    # A 300 s scale-in window sees the 80 % peaks and never removes the server, even without a cooldown.
    windowed = both_engines(demand, policy(cooldown_seconds=0, scale_in_window_seconds=300), initial_servers=1)
    assert list(windowed.events[["from", "to"]].itertuples(index=False, name=None)) == [(1, 2)]


def test_the_maximum_is_respected_and_saturation_counted() -> None:
    # Demand 500 for 20 minutes from 1 server, max 3: out at minute 0 and minute 5, then stuck at 3.
    result = both_engines(trace((500, 20)), policy(max_servers=3), initial_servers=1)
    assert list(result.servers) == [1] + [2] * 5 + [3] * 14
    assert result.servers.max() == 3
    assert result.saturation_minutes == 20
    assert result.band_minutes["critical"] == 20
    # unmet: 400 (1 server) + 5 x 300 (2 servers) + 14 x 200 (3 servers) = 4700 server-% minutes = 47 server-min
    assert result.unmet_server_hours == pytest.approx(47 / 60)


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


# ------------------------------------------------------------------------------------------- HPA


def test_hpa_does_nothing_inside_the_tolerance() -> None:
    # Target 70 % with tolerance 0.1: 64 % (ratio 0.914) and 76 % (ratio 1.086) on 2 servers change nothing.
    result = both_engines(trace((128, 10), (152, 10), (128, 10)), HpaPolicy.from_config(CONFIG))
    assert result.events.empty
    assert (result.servers == 2).all()


def test_hpa_scales_up_at_once_outside_the_tolerance() -> None:
    # 78 % on 2 servers: ratio 1.114 > 1.1, desired ceil(2 x 1.114) = 3, from the next minute.
    result = both_engines(trace((140, 5), (156, 5)), HpaPolicy.from_config(CONFIG))
    assert list(result.servers) == [2] * 6 + [3] * 4


def test_hpa_sees_capped_utilisation_so_saturation_scales_up_step_by_step() -> None:
    # Demand 250 from 1 server: measured 100 % -> desired 2; 2 x 100 % -> 3; 3 x 83.3 % -> 4; 4 x 62.5 % stays.
    result = both_engines(trace((250, 6)), HpaPolicy.from_config(CONFIG), initial_servers=1)
    assert list(result.servers) == [1, 2, 3, 4, 4, 4]


def test_hpa_scale_down_waits_for_the_stabilisation_window() -> None:
    # 70 % on 2 servers, then 20 %: desired 1 from minute 10, but the 300 s window still holds a 2 until minute 14.
    demand = trace((140, 10), (40, 10))
    stabilised = both_engines(demand, HpaPolicy.from_config(CONFIG))
    assert list(stabilised.servers) == [2] * 15 + [1] * 5
    immediate = both_engines(demand, HpaPolicy.from_config(CONFIG, scale_down_stabilisation_seconds=0))
    assert list(immediate.servers) == [2] * 11 + [1] * 9


# ------------------------------------------------------------------------------------------- engines agree


def random_walk_demand(seed: int, minutes: int = 3000) -> pd.Series:
    rng = np.random.default_rng(seed)
    daily = 120 + 90 * np.sin(np.arange(minutes) * 2 * np.pi / 700)
    noisy = np.clip(daily * np.exp(np.cumsum(rng.normal(0, 0.02, minutes)) * 0.3) + rng.normal(0, 8, minutes), 0, None)
    return series_of(list(noisy))


def test_event_driven_threshold_engine_matches_the_per_sample_loop() -> None:
    rng = np.random.default_rng(3)
    policies = [
        ThresholdPolicy(
            cpu_threshold_percent=float(rng.uniform(45, 95)),
            scale_in_cpu_threshold_percent=float(rng.uniform(10, 40)),
            cooldown_seconds=float(rng.choice([0, 60, 90, 300, 900])),
            min_servers=int(rng.integers(1, 3)),
            max_servers=int(rng.integers(3, 7)),
            scale_in_window_seconds=float(rng.choice([60, 300, 1200])),
        )
        for _ in range(30)
    ]
    for seed in (1, 2):
        demand = random_walk_demand(seed)
        fast = simulate_many(demand, CONFIG, policies)
        reference = simulate_many(demand, CONFIG, policies, engine="reference")
        assert sum(len(r.events) for r in fast) > 100  # the traces exercise the rules
        for a, b in zip(fast, reference, strict=True):
            assert np.array_equal(a.servers, b.servers), a.policy.name
            assert list(a.events["reason"]) == list(b.events["reason"])


def test_vectorised_hpa_variants_match_the_per_sample_loop() -> None:
    policies = [HpaPolicy(target_percent=t, min_servers=1, max_servers=5) for t in np.linspace(45, 90, 10)]
    demand = random_walk_demand(5)
    fast = simulate_many(demand, CONFIG, policies)  # 10 variants with one window: stepped as numpy vectors
    reference = simulate_many(demand, CONFIG, policies, engine="reference")
    assert sum(len(r.events) for r in fast) > 50
    for a, b in zip(fast, reference, strict=True):
        assert np.array_equal(a.servers, b.servers), a.policy.name
        pd.testing.assert_frame_equal(a.events, b.events)


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


# ------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("demand", "match"),
    [
        (pd.Series([], index=pd.DatetimeIndex([], tz="UTC"), dtype=float), "empty"),
        (series_of([math.nan, math.nan]), r"every value is unknown \(NaN\), from 2026-10-01 00:00"),
        (series_of([100.0, math.inf]), r"1 infinite value\(s\), first at 2026-10-01 00:01"),
        (series_of([100.0, -5.0]), "negative value -5 at 2026-10-01 00:01"),
        (
            pd.Series(
                [1.0, 2.0, 3.0], index=pd.to_datetime(["2026-10-01 00:00", "2026-10-01 00:01", "2026-10-01 00:05"])
            ),
            "evenly spaced",
        ),
        (pd.Series([1.0, 2.0]), "DatetimeIndex"),
        (pd.Series([1.0], index=pd.DatetimeIndex(["2026-10-01"])), "single sample"),
    ],
)
def test_bad_demand_is_a_data_error_naming_what_and_where(demand: pd.Series, match: str) -> None:
    with pytest.raises(DataError, match=match):
        simulate(demand, CONFIG)


def test_a_single_sample_with_a_frequency_is_simulated() -> None:
    one = pd.Series([100.0], index=pd.date_range(START, periods=1, freq="1min"))
    result = simulate(one, CONFIG)
    assert list(result.servers) == [2]


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: ThresholdPolicy(min_servers=5, max_servers=4), r"min_servers \(5\) is above max_servers \(4\)"),
        (lambda: ThresholdPolicy(min_servers=0), "min_servers"),
        (lambda: ThresholdPolicy(cpu_threshold_percent=60, scale_in_cpu_threshold_percent=60), "must be below"),
        (lambda: ThresholdPolicy(cooldown_seconds=-1), "cooldown_seconds"),
        (lambda: HpaPolicy(min_servers=3, max_servers=2), "min_servers"),
        (lambda: HpaPolicy(tolerance=1.5), "tolerance"),
        (lambda: HpaPolicy(target_percent=0), "target_percent"),
    ],
)
def test_bad_policies_are_refused(make, match: str) -> None:
    with pytest.raises(DataError, match=match):
        make()


def test_tier_demand_sums_servers_and_names_holes() -> None:
    ts = pd.date_range(START, periods=4, freq="1min")
    rows = [("app", "app-1", "cpu", t, 40.0 + i) for i, t in enumerate(ts)]
    rows += [("app", "app-2", "cpu", t, 20.0) for t in ts[2:]]  # joins at minute 2
    rows += [("postgresql", "pg-1", "cpu", t, 99.0) for t in ts]
    samples = pd.DataFrame(rows, columns=["component", "instance", "metric", "ts", "value"])
    assert list(tier_demand(samples)) == [40.0, 41.0, 62.0, 63.0]
    gappy = samples.drop(index=[1, 2])  # app-1 misses minutes 1 and 2
    assert list(tier_demand(gappy, fill_limit=2)) == [40.0, 40.0, 60.0, 63.0]
    # a longer hole is unknown load for all of it: not carried part-way, not zero
    assert tier_demand(gappy, fill_limit=1).tolist() == pytest.approx([40.0, math.nan, math.nan, 63.0], nan_ok=True)
    assert tier_demand(gappy, fill_limit=0).tolist() == pytest.approx([40.0, math.nan, math.nan, 63.0], nan_ok=True)
    with pytest.raises(DataError, match="no 'cpu' samples for component 'search'"):
        tier_demand(samples, component="search")


def cpu_rows(instance: str, minutes: range, value: float = 50.0) -> list[tuple[str, str, str, pd.Timestamp, float]]:
    return [("app", instance, "cpu", START + pd.Timedelta(minutes=m), value) for m in minutes]


def test_a_server_unscraped_for_ten_minutes_makes_the_demand_unknown_for_exactly_those_minutes() -> None:
    """Issue 13: one of two servers without samples for 10 minutes failed the whole capacity report."""
    rows = cpu_rows("app-1", range(60), 50.0)
    rows += cpu_rows("app-2", [*range(20), *range(30, 60)], 30.0)  # minutes 20-29 missing
    demand = tier_demand(pd.DataFrame(rows, columns=["component", "instance", "metric", "ts", "value"]))
    assert len(demand) == 60 and demand.index.freq == "min"
    unknown = demand.index[demand.isna()]
    assert list(unknown) == list(pd.date_range(START + pd.Timedelta(minutes=20), periods=10, freq="1min"))
    assert (demand.dropna() == 80.0).all()  # not carried part-way into the hole, not summed as zero


def test_short_holes_and_nan_values_are_carried_forward() -> None:
    rows = cpu_rows("app-1", [m for m in range(30) if m != 7], 50.0)  # one sample missing
    rows += cpu_rows("app-2", range(30), 30.0)
    samples = pd.DataFrame(rows, columns=["component", "instance", "metric", "ts", "value"])
    samples.loc[(samples["instance"] == "app-2") & (samples["ts"] == START + pd.Timedelta(minutes=12)), "value"] = (
        math.nan
    )  # a stored NaN is a missing sample
    demand = tier_demand(samples)
    assert demand.notna().all() and (demand == 80.0).all()


def test_a_server_that_joins_or_leaves_adds_load_only_while_it_reports() -> None:
    rows = cpu_rows("app-1", range(60), 50.0)
    rows += cpu_rows("app-2", range(20, 60), 30.0)  # a new server from minute 20
    rows += cpu_rows("app-3", range(40), 10.0)  # removed after minute 39
    demand = tier_demand(pd.DataFrame(rows, columns=["component", "instance", "metric", "ts", "value"]))
    expected = [50.0 + (30.0 if m >= 20 else 0.0) + (10.0 if m < 40 else 0.0) for m in range(60)]
    assert demand.tolist() == expected


def test_unknown_demand_is_no_data_in_the_replay_and_no_policy_decides_on_it() -> None:
    # 100 on 2 servers (50 %), 10 unknown minutes, then 200 (100 % each): the scale-out waits for known load.
    demand = pd.concat([trace((100, 10)), series_of([math.nan] * 10), trace((200, 10))], ignore_index=True)
    demand.index = pd.date_range(START, periods=30, freq="1min")
    result = both_engines(demand, policy())
    assert list(result.events[["from", "to"]].itertuples(index=False, name=None)) == [(2, 3)]
    assert result.events["time"].iloc[0] == START + pd.Timedelta(minutes=21)
    assert result.no_data_minutes == 10
    # 50 % healthy; 100 % critical at minute 20; 200 on 3 servers (66.7 %) warning; none for the unknown ones
    assert result.band_minutes == {"healthy": 10, "warning": 9, "critical": 1}
    assert result.saturation_minutes == 1  # minute 20 only; unknown minutes are not saturated
    assert result.timeline["band"].isna().sum() == 10
    assert result.summary()["no_data_minutes"] == 10
    assert "no data 10" in repr(result)


def test_a_scale_in_waits_until_its_whole_window_is_known() -> None:
    # Demand 30 would fit one server at 30 % < 35 %: at once with known load, but 3 unknown minutes first keep
    # the 5-minute scale-in window unknown until minute 7.
    known = both_engines(trace((30, 13)), policy())
    assert known.events["time"].iloc[0] == START + pd.Timedelta(minutes=1)
    gappy = both_engines(series_of([math.nan] * 3 + [30.0] * 10), policy())
    assert gappy.events["time"].iloc[0] == START + pd.Timedelta(minutes=8)
    hpa = both_engines(series_of([math.nan] * 3 + [40.0] * 10), HpaPolicy.from_config(CONFIG))
    assert list(hpa.servers) == [2] * 8 + [1] * 5


def test_engines_agree_on_traces_with_unknown_stretches() -> None:
    demand = random_walk_demand(7)
    for first, length in ((100, 10), (700, 1), (1500, 240), (2990, 10)):
        demand.iloc[first : first + length] = math.nan
    thresholds = [
        policy(cooldown_seconds=float(c), scale_in_window_seconds=float(w)) for c in (0, 300) for w in (60, 600)
    ]
    hpas = [HpaPolicy(target_percent=t, min_servers=1, max_servers=5) for t in np.linspace(45, 90, 10)]
    fast = simulate_many(demand, CONFIG, [*thresholds, *hpas])
    reference = simulate_many(demand, CONFIG, [*thresholds, *hpas], engine="reference")
    for a, b in zip(fast, reference, strict=True):
        assert np.array_equal(a.servers, b.servers), a.policy.name
        pd.testing.assert_frame_equal(a.events, b.events)
        assert a.no_data_minutes == 261
        assert sum(a.band_minutes.values()) + a.no_data_minutes == len(demand)
        assert not (a.events["time"] - pd.Timedelta(minutes=1)).isin(demand.index[demand.isna()]).any()


# ------------------------------------------------------------------------------------------- vertical triggers


def breach_samples(component: str, metric: str, level: float, minutes: int, start: pd.Timestamp) -> pd.DataFrame:
    """Two hours at 50 %, with ``minutes`` at ``level`` starting at ``start``."""
    ts = pd.date_range(start - pd.Timedelta(minutes=30), periods=120, freq="1min")
    values = np.where((ts >= start) & (ts < start + pd.Timedelta(minutes=minutes)), level, 50.0)
    return pd.DataFrame(
        {"component": component, "instance": f"{component}-1", "metric": metric, "ts": ts, "value": values}
    )


def test_cheapest_bigger_size_with_more_of_the_resource() -> None:
    # Redis on tiny (1 vCPU, 2 GB): tiny-cpu (18) adds vCPUs but no RAM; small (24) is the cheapest with more RAM.
    assert recommend_size(CONFIG, "redis", "vcpu")[0] == "tiny-cpu"
    assert recommend_size(CONFIG, "redis", "ram_gb")[0] == "small"
    # The app on small (2 vCPU, 4 GB): cpu-only (30) for vCPUs, ram (36) for memory, any bigger: cpu-only.
    assert recommend_size(CONFIG, "app", "vcpu")[0] == "cpu-only"
    assert recommend_size(CONFIG, "app", "ram_gb")[0] == "ram"
    assert recommend_size(CONFIG, "app")[0] == "cpu-only"
    assert recommend_size(CONFIG, "cdn") is None
    assert recommend_size(CONFIG, "postgresql", "disk_gb")[0] == "big"


def test_vertical_triggers_fire_after_the_sustained_minutes_and_price_the_resize() -> None:
    at = pd.Timestamp("2026-10-12 14:00", tz="UTC")  # 01:00 on 13 October in Sydney (AEDT)
    samples = pd.concat(
        [
            breach_samples("redis", "memory", 90.0, 30, at),  # exactly 30 minutes over 85 %: fires
            breach_samples("app", "memory", 90.0, 29, at),  # one minute short: does not fire
            breach_samples("app", "cpu", 95.0, 60, at),  # 60 minutes over 80 %: fires
            breach_samples("postgresql", "db_connections", 86.0, 20, at),
        ]
    )
    table = vertical_triggers(samples, CONFIG).set_index(["trigger", "component"])
    redis = table.loc[("memory pressure", "redis")]
    assert redis["fires"] and redis["first_fired"] == at + pd.Timedelta(minutes=29)
    assert redis["necessary_date"] == date(2026, 10, 13)
    assert (redis["recommended_size"], redis["recommended_price"], redis["monthly_difference"]) == ("small", 24.0, 12.0)
    assert not table.loc[("memory pressure", "app"), "fires"]
    cpu = table.loc[("consistent high CPU", "app")]
    assert cpu["fires"] and cpu["first_fired"] == at + pd.Timedelta(minutes=59)
    assert (cpu["recommended_size"], cpu["monthly_difference"]) == ("cpu-only", 2 * (30.0 - 24.0))
    database = table.loc[("database bottleneck", "postgresql")]
    assert database["fires"] and database["first_fired"] == at + pd.Timedelta(minutes=14)
    assert database["recommended_size"] == "cpu-only"


def test_a_gap_restarts_the_sustained_clock() -> None:
    at = pd.Timestamp("2026-10-12 14:00", tz="UTC")
    samples = breach_samples("redis", "memory", 90.0, 40, at)
    samples = samples[
        (samples["ts"] < at + pd.Timedelta(minutes=15)) | (samples["ts"] >= at + pd.Timedelta(minutes=20))
    ]
    row = vertical_triggers(samples, CONFIG).set_index(["trigger", "component"]).loc[("memory pressure", "redis")]
    assert not row["fires"]  # 15 minutes, a 5-minute hole, then 20 minutes: never 30 in a row


def test_vertical_triggers_on_a_daily_forecast() -> None:
    dates = pd.date_range("2027-01-01", periods=10, freq="D")
    forecast = pd.DataFrame(
        {"component": "redis", "metric": "memory", "date": dates, "mean": 80.0, "hi80": np.linspace(80, 89, 10)}
    )
    table = vertical_triggers(forecast, CONFIG, value_col="hi80", time_col="date")
    row = table.set_index(["trigger", "component"]).loc[("memory pressure", "redis")]
    assert row["fires"] and row["first_fired"] == pd.Timestamp("2027-01-07")  # 86 > 85 on day 6
    assert row["necessary_date"] == date(2027, 1, 7)


def test_vertical_triggers_refuse_bad_values() -> None:
    samples = breach_samples("redis", "memory", 90.0, 30, START)
    samples.loc[samples.index[3], "value"] = math.nan
    with pytest.raises(DataError, match="redis/redis-1 memory: 1 missing"):
        vertical_triggers(samples, CONFIG)


# ------------------------------------------------------------------------------------------- planning


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


def test_policies_describe_themselves_in_words() -> None:
    threshold = ThresholdPolicy(cpu_threshold_percent=70, scale_in_cpu_threshold_percent=35, cooldown_seconds=300,
                                min_servers=1, max_servers=4)  # fmt: skip
    assert threshold.describe() == (
        "add a server above 70 % CPU, remove one when the rest would stay under 35 %; 5 min between changes; "
        "1 to 4 servers"
    )
    hpa = HpaPolicy(
        target_percent=60, tolerance=0.1, scale_down_stabilisation_seconds=600, min_servers=2, max_servers=6
    )
    assert hpa.describe() == (
        "Kubernetes-HPA style: as many servers as keep the average CPU near 60 % (changes beyond 10% of it); "
        "scale-down waits 10 min; 2 to 6 servers"
    )
