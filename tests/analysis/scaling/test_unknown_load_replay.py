"""Unknown load in the replay: no decision on it, no band, and scale-ins wait for a known window."""

from __future__ import annotations

import math

import pandas as pd
from support.scaling_inputs import CONFIG, START, both_engines, policy, series_of, trace

from sre_lib.analysis.scaling import HpaPolicy


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
