"""Scaling simulation: replay app-tier load through autoscaling policies, vertical triggers, capacity planning.

Load model. The app tier's *demand* is measured in "server-CPU-percent" of the tier's current server size:
the sum over servers of their CPU % (two servers at 60 % = 120). Load is spread evenly, so with ``n`` servers
each runs at ``demand / n`` %, measured capped at 100 %; whatever is above ``100 x n`` is unmet demand and
those samples are *saturated*. Both policies decide on what monitoring would show, ``min(demand / n, 100)``.
A NaN demand sample is unknown load: no policy decides on it, and it is counted in no band.

The modules, in the order the data flows:

* ``horizontal_policies``: ``ThresholdPolicy`` (the configured one), ``HpaPolicy``, ``policy_grid``;
* ``demand_trace``: ``tier_demand`` from warehouse samples, and the checks every simulated series passes;
* ``replay_engines``: the scale events of each policy (event-driven, or numpy across HPA variants);
* ``simulation_results``: ``SimulationResult`` (servers, bands, saturation, cost), ``compare``, charts' frames;
* ``replay``: ``simulate`` and ``simulate_many``, which check their inputs once and run the engines;
* ``vertical_resize``: ``vertical_triggers`` and ``recommend_size``;
* ``capacity_planning``: ``capacity_plan`` (when ``max_servers`` no longer suffice, what to buy) and
  ``estimate_service_time``.

The plain per-sample replay the engines are checked against lives in ``tests/support/reference_scaling.py``.
"""

from sre_lib.analysis.scaling.capacity_planning import (
    SCENARIO_COLUMNS,
    CapacityPlan,
    capacity_plan,
    estimate_service_time,
)
from sre_lib.analysis.scaling.demand_trace import tier_demand
from sre_lib.analysis.scaling.horizontal_policies import HpaPolicy, Policy, ThresholdPolicy, policy_grid
from sre_lib.analysis.scaling.replay import simulate, simulate_many
from sre_lib.analysis.scaling.simulation_results import (
    BANDS,
    MONTH_DAYS,
    SimulationResult,
    compare,
    timeline_frame,
)
from sre_lib.analysis.scaling.vertical_resize import TRIGGER_RESOURCES, recommend_size, vertical_triggers

__all__ = [
    "BANDS",
    "MONTH_DAYS",
    "SCENARIO_COLUMNS",
    "TRIGGER_RESOURCES",
    "CapacityPlan",
    "HpaPolicy",
    "Policy",
    "SimulationResult",
    "ThresholdPolicy",
    "capacity_plan",
    "compare",
    "estimate_service_time",
    "policy_grid",
    "recommend_size",
    "simulate",
    "simulate_many",
    "tier_demand",
    "timeline_frame",
    "vertical_triggers",
]
