"""Replaying a demand trace through policies: the ``simulate`` entry points, inputs checked once.

Load is spread evenly, so with ``n`` servers each runs at ``demand / n`` %, measured capped at 100 %;
whatever is above ``100 x n`` is unmet demand and those samples are *saturated*. Both policies decide on what
monitoring would show, ``min(demand / n, 100)``. Samples of unknown demand are counted as ``no_data_minutes``,
in no band and not as saturated.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from sre_lib.analysis.scaling.demand_trace import Trace, as_trace
from sre_lib.analysis.scaling.horizontal_policies import HpaPolicy, Policy, ThresholdPolicy
from sre_lib.analysis.scaling.replay_engines import Event, replay_events
from sre_lib.analysis.scaling.simulation_results import SimulationResult, build_result
from sre_lib.config import Indicator, PlatformConfig
from sre_lib.errors import DataError


@dataclass(frozen=True, eq=False)
class Replay:
    """One checked replay: the trace, each policy with its starting server count, and what results are
    banded and priced with. Any engine's events become results through ``results``."""

    trace: Trace
    policies: tuple[Policy, ...]
    starts: tuple[int, ...]
    cpu_bands: Indicator
    unit_price: float
    currency: str

    def results(self, events: Sequence[Sequence[Event]]) -> list[SimulationResult]:
        """One result per policy from its scale events (in the order of ``policies``)."""
        return [
            build_result(self.trace, p, start, found, self.cpu_bands, self.unit_price, self.currency)
            for p, start, found in zip(self.policies, self.starts, events, strict=True)
        ]


def prepare_replay(
    demand: pd.Series,
    config: PlatformConfig,
    policies: Sequence[Policy],
    *,
    initial_servers: int | None = None,
    component: str | None = None,
) -> Replay:
    """The inputs of ``simulate_many`` checked (DataError naming the bad one) and resolved once."""
    trace = as_trace(demand)
    component = component or config.scaling.horizontal.component
    if component not in config.components:
        raise DataError(f"component: {component!r} is not in the inventory ({', '.join(config.components)})")
    if "cpu" not in config.indicators:
        raise DataError("config: no [indicators.cpu] bands to classify per-server CPU with")
    count = config.components[component].count if initial_servers is None else initial_servers
    if not isinstance(count, numbers.Integral) or count < 1:
        raise ValueError(f"initial_servers: expected a whole number >= 1, got {count!r}")
    policies = tuple(policies)
    for policy in policies:
        if not isinstance(policy, ThresholdPolicy | HpaPolicy):
            raise DataError(f"policies: expected ThresholdPolicy or HpaPolicy, got {type(policy).__name__}")
    return Replay(
        trace=trace,
        policies=policies,
        starts=tuple(min(max(int(count), p.min_servers), p.max_servers) for p in policies),
        cpu_bands=config.indicators["cpu"],
        unit_price=config.unit_price(component),
        currency=config.platform.currency,
    )


def simulate_many(
    demand: pd.Series,
    config: PlatformConfig,
    policies: Sequence[Policy],
    *,
    initial_servers: int | None = None,
    component: str | None = None,
) -> list[SimulationResult]:
    """Replay one demand trace (server-CPU-percent, evenly spaced, NaN where unknown) through every policy.

    Starts at ``initial_servers`` (default: the component's configured count), clipped into each policy's
    bounds, with no cooldown pending. Costs use ``config.unit_price(component)`` (default: the horizontal
    scaling component).
    """
    replay = prepare_replay(demand, config, policies, initial_servers=initial_servers, component=component)
    return replay.results(replay_events(replay.trace, replay.policies, replay.starts))


def simulate(
    demand: pd.Series,
    config: PlatformConfig,
    policy: Policy | None = None,
    *,
    initial_servers: int | None = None,
    component: str | None = None,
) -> SimulationResult:
    """Replay a demand trace through one policy (default: the configured threshold policy)."""
    policy = policy or ThresholdPolicy.from_config(config)
    return simulate_many(demand, config, [policy], initial_servers=initial_servers, component=component)[0]
