"""Demand traces: a tier's demand from samples, holes and joins, and refused traces."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from support.scaling_inputs import CONFIG, START, series_of

from sre_lib.analysis.scaling import simulate, tier_demand
from sre_lib.errors import DataError


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
