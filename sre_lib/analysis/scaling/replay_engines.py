"""Replay engines: the scale events a policy takes on a demand trace, computed fast.

Timing. Samples are evenly spaced; the servers in ``servers[t]`` serve sample ``t``. A decision taken on
sample ``t`` takes effect from sample ``t + 1``. The cooldown is counted between decisions in whole samples,
rounded up (300 s at 1-minute samples: 5 samples). No policy decides on an unknown (NaN) sample: the servers
stay as they are, and a scale-in waits until its whole look-back window is known again (the unknown load
could have been the peak).

The threshold policy is simulated event by event: between events the server count is constant, so the next
event is the first sample (found with ``np.searchsorted`` in precomputed crossing indices) where a rule
fires; the cost is one pass over the data per server level and a few microseconds per event. The HPA policy
keeps a window of past recommendations, so it steps through every sample: a plain loop for a few variants,
numpy vectors across variants from ``_VECTORISE_FROM`` variants sharing a window. The plain per-sample loop
for the threshold policy, the baseline these engines are checked against, lives with its users in
``tests/support/reference_scaling.py``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

import numpy as np
import pandas as pd

from sre_lib.analysis.scaling.demand_trace import Trace, samples_in
from sre_lib.analysis.scaling.horizontal_policies import HpaPolicy, Policy, ThresholdPolicy

_VECTORISE_FROM = 8  # HPA variants sharing a window: from this many, step them together as numpy vectors

# An event: (decision sample, servers before, servers after, reason)
Event = tuple[int, int, int, str]


def _rolling_max(values: np.ndarray, window: int) -> np.ndarray:
    if window <= 1:
        return values
    return pd.Series(values).rolling(window, min_periods=1).max().to_numpy()


class _Levels:
    """Per-trace caches shared by all variants: per-server load at each server count, rolling peaks."""

    def __init__(self, demand: np.ndarray) -> None:
        self.demand = demand
        self._per_server: dict[int, np.ndarray] = {}
        self._peaks: dict[int, np.ndarray] = {}
        self._projected: dict[tuple[int, int], np.ndarray] = {}

    def per_server(self, n: int) -> np.ndarray:
        if n not in self._per_server:
            self._per_server[n] = self.demand / n
        return self._per_server[n]

    def projected(self, window: int, n: int) -> np.ndarray:
        """Peak demand over the last ``window`` samples spread on ``n`` servers."""
        key = (window, n)
        if key not in self._projected:
            if window not in self._peaks:  # an unknown sample could have been the peak: it counts as the largest
                # float (pandas' rolling functions read infinity as missing and would skip it)
                self._peaks[window] = _rolling_max(np.nan_to_num(self.demand, nan=np.finfo(float).max), window)
            self._projected[key] = self._peaks[window] / n
        return self._projected[key]


def _threshold_events(levels: _Levels, step_s: float, p: ThresholdPolicy, start: int) -> list[Event]:
    """Event-driven replay: jump from one event to the next with searches in crossing indices."""
    total = len(levels.demand)
    cooldown = samples_in(p.cooldown_seconds, step_s)
    window = max(1, samples_in(p.scale_in_window, step_s))
    up, down = p.cpu_threshold_percent, p.scale_in_cpu_threshold_percent
    outs: dict[int, np.ndarray] = {}
    ins: dict[int, np.ndarray] = {}
    events: list[Event] = []
    n, t, allowed = start, 0, 0
    while True:
        s = max(t, allowed)
        if s >= total:
            break
        j_out = j_in = total
        if n < p.max_servers and up < 100:  # measured CPU is capped at 100 %: a 100 % threshold never fires
            if n not in outs:
                outs[n] = np.flatnonzero(levels.per_server(n) > up)
            k = np.searchsorted(outs[n], s)
            j_out = int(outs[n][k]) if k < len(outs[n]) else total
        if n > p.min_servers:
            if n not in ins:
                ins[n] = np.flatnonzero(levels.projected(window, n - 1) < down)
            k = np.searchsorted(ins[n], s)
            j_in = int(ins[n][k]) if k < len(ins[n]) else total
        j = min(j_out, j_in)
        if j >= total:
            break
        if j_out <= j_in:
            events.append((j, n, n + 1, f"cpu {levels.per_server(n)[j]:.1f}% > {up:g}% on {n}"))
            n += 1
        else:
            peak = levels.projected(window, n - 1)[j]
            events.append((j, n, n - 1, f"peak {window}-sample load on {n - 1} would be {peak:.1f}% < {down:g}%"))
            n -= 1
        t, allowed = j + 1, j + cooldown
    return events


def _hpa_reason(u: float, p: HpaPolicy, desired: int, new: int, old: int) -> str:
    if new > old:
        return f"cpu {u:.1f}% vs target {p.target_percent:g}%: desired {desired}"
    return f"cpu {u:.1f}%: highest desired over {p.scale_down_stabilisation_seconds:g}s is {new}"


def hpa_stepwise(demand: np.ndarray, step_s: float, p: HpaPolicy, start: int) -> list[Event]:
    """HPA replay as a plain per-sample loop (for a few variants; the baseline of the vectorised engine)."""
    window = max(1, samples_in(p.scale_down_stabilisation_seconds, step_s))
    recommendations: deque[float] = deque(maxlen=window)
    target, tolerance, low, high = p.target_percent, p.tolerance, p.min_servers, p.max_servers
    events: list[Event] = []
    n = float(start)
    for t, d in enumerate(demand.tolist()):
        u = min(d / n, 100.0)
        ratio = u / target
        desired = n if math.isnan(d) or abs(ratio - 1.0) <= tolerance else float(math.ceil(ratio * n))
        recommendations.append(desired)
        new = min(max(n, desired), max(recommendations))
        new = min(max(new, low), high)
        if new != n:
            events.append((t, int(n), int(new), _hpa_reason(u, p, int(desired), int(new), int(n))))
            n = new
    return events


def _hpa_vectorised(
    demand: np.ndarray, step_s: float, policies: Sequence[HpaPolicy], starts: np.ndarray
) -> list[list[Event]]:
    """Many HPA variants with the same window at once: one pass over time, numpy vectors across variants."""
    window = max(1, samples_in(policies[0].scale_down_stabilisation_seconds, step_s))
    target = np.array([p.target_percent for p in policies])
    tolerance = np.array([p.tolerance for p in policies])
    low = np.array([p.min_servers for p in policies], dtype=float)
    high = np.array([p.max_servers for p in policies], dtype=float)
    n = starts.astype(float)
    recommendations = np.full((window, len(policies)), -1.0)
    events: list[list[Event]] = [[] for _ in policies]
    # The same arithmetic as hpa_stepwise, in preallocated buffers (out=): allocation dominates at this size.
    u, ratio, spread, desired, new, peak = (np.empty(len(policies)) for _ in range(6))
    within, changed = np.empty(len(policies), dtype=bool), np.empty(len(policies), dtype=bool)
    for t, d in enumerate(demand.tolist()):
        if math.isnan(d):  # unknown load: every variant recommends what it runs, and nothing changes
            recommendations[t % window] = n
            continue
        np.minimum(np.divide(d, n, out=u), 100.0, out=u)
        np.divide(u, target, out=ratio)
        np.less_equal(np.abs(np.subtract(ratio, 1.0, out=spread), out=spread), tolerance, out=within)
        np.ceil(np.multiply(ratio, n, out=desired), out=desired)
        np.copyto(desired, n, where=within)
        recommendations[t % window] = desired
        np.minimum(np.maximum(n, desired, out=new), np.max(recommendations, axis=0, out=peak), out=new)
        np.minimum(np.maximum(new, low, out=new), high, out=new)
        if np.not_equal(new, n, out=changed).any():
            for v in np.flatnonzero(changed):
                old, to = int(n[v]), int(new[v])
                events[v].append((t, old, to, _hpa_reason(float(u[v]), policies[v], int(desired[v]), to, old)))
            n[:] = new
    return events


def replay_events(trace: Trace, policies: Sequence[Policy], starts: Sequence[int]) -> list[list[Event]]:
    """The scale events of every policy on one trace, each starting from its ``starts`` server count.

    Threshold policies share per-level caches; HPA policies with the same stabilisation window are grouped,
    and a group of ``_VECTORISE_FROM`` or more is stepped as numpy vectors across its variants.
    """
    events: list[list[Event] | None] = [None] * len(policies)
    levels = _Levels(trace.demand)
    hpa_groups: dict[int, list[int]] = {}
    for i, p in enumerate(policies):
        if isinstance(p, ThresholdPolicy):
            events[i] = _threshold_events(levels, trace.step_seconds, p, starts[i])
        else:
            window = max(1, samples_in(p.scale_down_stabilisation_seconds, trace.step_seconds))
            hpa_groups.setdefault(window, []).append(i)
    for members in hpa_groups.values():
        if len(members) >= _VECTORISE_FROM:
            group = [policies[i] for i in members]
            group_starts = np.array([starts[i] for i in members])
            found_all = _hpa_vectorised(trace.demand, trace.step_seconds, group, group_starts)
            for i, found in zip(members, found_all, strict=True):
                events[i] = found
        else:
            for i in members:
                events[i] = hpa_stepwise(trace.demand, trace.step_seconds, policies[i], starts[i])  # type: ignore[arg-type]
    return [found or [] for found in events]
