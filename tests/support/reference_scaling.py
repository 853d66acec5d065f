"""The reference scaling replay: every policy as a plain per-sample Python loop.

The library's engines are fast (event-driven for the threshold policy, numpy across HPA variants); this is
the slow, obvious baseline the tests and ``benchmarks/bench_scaling.py`` check them against. It shares the
library's input checks and result building (``prepare_replay``), so only the events can differ. The HPA
baseline is the library's own per-sample loop (``hpa_stepwise``, which it runs for a few variants).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

import numpy as np
import pandas as pd

from sre_lib.analysis.scaling import Policy, SimulationResult, ThresholdPolicy
from sre_lib.analysis.scaling.demand_trace import samples_in
from sre_lib.analysis.scaling.replay import prepare_replay
from sre_lib.analysis.scaling.replay_engines import Event, hpa_stepwise
from sre_lib.config import PlatformConfig


def threshold_stepwise(demand: np.ndarray, step_s: float, p: ThresholdPolicy, start: int) -> list[Event]:
    """The threshold policy's rules as a plain per-sample loop."""
    cooldown = samples_in(p.cooldown_seconds, step_s)
    window = max(1, samples_in(p.scale_in_window, step_s))
    up, down = p.cpu_threshold_percent, p.scale_in_cpu_threshold_percent
    recent: deque[float] = deque(maxlen=window)
    events: list[Event] = []
    n, last = start, None
    for t, d in enumerate(demand.tolist()):
        recent.append(math.inf if math.isnan(d) else d)
        if last is not None and t - last < cooldown:
            continue
        u = min(d / n, 100.0)
        if u > up and n < p.max_servers:
            events.append((t, n, n + 1, f"cpu {d / n:.1f}% > {up:g}% on {n}"))
            n, last = n + 1, t
        elif n > p.min_servers:
            peak = max(recent) / (n - 1)
            if peak < down:
                events.append((t, n, n - 1, f"peak {window}-sample load on {n - 1} would be {peak:.1f}% < {down:g}%"))
                n, last = n - 1, t
    return events


def simulate_many_reference(
    demand: pd.Series,
    config: PlatformConfig,
    policies: Sequence[Policy],
    *,
    initial_servers: int | None = None,
    component: str | None = None,
) -> list[SimulationResult]:
    """``simulate_many`` with every policy replayed by a per-sample loop."""
    replay = prepare_replay(demand, config, policies, initial_servers=initial_servers, component=component)
    trace = replay.trace
    events = [
        threshold_stepwise(trace.demand, trace.step_seconds, p, start)
        if isinstance(p, ThresholdPolicy)
        else hpa_stepwise(trace.demand, trace.step_seconds, p, start)
        for p, start in zip(replay.policies, replay.starts, strict=True)
    ]
    return replay.results(events)


def simulate_reference(
    demand: pd.Series,
    config: PlatformConfig,
    policy: Policy | None = None,
    *,
    initial_servers: int | None = None,
    component: str | None = None,
) -> SimulationResult:
    """``simulate`` with the per-sample loop (default policy: the configured threshold policy)."""
    policy = policy or ThresholdPolicy.from_config(config)
    return simulate_many_reference(demand, config, [policy], initial_servers=initial_servers, component=component)[0]
