"""The threshold policy on hand-built load traces with known answers (both engines)."""

from __future__ import annotations

import pandas as pd
import pytest
from support.scaling_inputs import START, both_engines, policy, series_of, trace


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
