"""The HPA-style policy on hand-built load traces with known answers (both engines)."""

from __future__ import annotations

from support.scaling_inputs import CONFIG, both_engines, trace

from sre_lib.analysis.scaling import HpaPolicy


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
