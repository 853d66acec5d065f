"""Scaling simulation: replay app-tier load through autoscaling policies, vertical triggers, capacity planning.

Load model. The app tier's *demand* is measured in "server-CPU-percent" of the tier's current server size:
the sum over servers of their CPU % (two servers at 60 % = 120). Load is spread evenly, so with ``n`` servers
each runs at ``demand / n`` %, measured capped at 100 %; whatever is above ``100 x n`` is unmet demand and
those samples are *saturated*. Both policies decide on what monitoring would show, ``min(demand / n, 100)``.

Timing. Samples are evenly spaced; the servers in ``servers[t]`` serve sample ``t``. A decision taken on
sample ``t`` takes effect from sample ``t + 1``, which is the time an event is stamped with. The cooldown is
counted between decisions in whole samples, rounded up (300 s at 1-minute samples: 5 samples).

Unknown load. A NaN demand sample is a stretch without monitoring data (``tier_demand`` gives one where a
server went unscraped). No policy decides on it: the servers stay as they are, and a scale-in waits until its
whole look-back window is known again (the unknown load could have been the peak). Those samples are counted
as ``no_data_minutes``, in no band and not as saturated.

Policies:

* ``ThresholdPolicy`` (the configured one): scale **out** by one server when per-server CPU > the CPU
  threshold (70 %), below ``max_servers``, once the cooldown since the last scale event has passed. Scale
  **in** by one server when the *peak* demand over the last ``scale_in_window_seconds`` (default: the
  cooldown, 300 s) would keep the remaining ``n - 1`` servers below ``scale_in_cpu_threshold_percent`` (35 %),
  above ``min_servers`` and after the cooldown. Judging the projected load on ``n - 1`` servers (not the
  current per-server load, which is lower) over a window (not one sample), with the two thresholds far
  apart (70 / 35), means a scale-in lands well below the scale-out threshold: steady load does not flap.
* ``HpaPolicy`` (Kubernetes HPA style, for comparison): desired = ceil(n x utilisation / target), no change
  while |utilisation / target - 1| <= tolerance; scale up at once; scale down only to the highest desired
  count of the stabilisation window (300 s); bounded by min/max.

Engines. The threshold policy is simulated event by event: between events the server count is constant,
so the next event is the first sample (found with ``np.searchsorted`` in precomputed crossing indices) where
a rule fires; the cost is one pass over the data per server level and a few microseconds per event. The
HPA policy keeps a window of past recommendations, so it steps through every sample, vectorised across
policy variants. ``engine="reference"`` runs both as plain per-sample Python loops (the baseline the tests
check the fast engines against).

Costs are the inventory's monthly unit prices, pro rata over a 30.4-day month.
"""

from __future__ import annotations

import math
import numbers
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd

from sre_lib.analysis.queueing import servers_for_p95
from sre_lib.config import Indicator, PlatformConfig, ServerSize
from sre_lib.durations import human_duration
from sre_lib.errors import DataError

MONTH_DAYS = 30.4
BANDS = ("healthy", "warning", "critical")
SCENARIO_COLUMNS = ("lo95", "lo80", "mean", "hi80", "hi95")
# Which resource a vertical trigger needs more of; an indicator not listed takes any bigger size.
TRIGGER_RESOURCES = {"cpu": "vcpu", "memory": "ram_gb", "disk": "disk_gb"}
_VECTORISE_FROM = 8  # HPA variants sharing a window: from this many, step them together as numpy vectors
_NICE_FREQS = ("1min", "5min", "15min", "30min", "1h", "3h", "6h", "12h", "1D", "7D")

Engine = Literal["fast", "reference"]


# ------------------------------------------------------------------------------------------- policies


def _check_bounds(name: str, low: int, high: int) -> None:
    if not (isinstance(low, numbers.Integral) and isinstance(high, numbers.Integral)) or low < 1:
        raise DataError(f"{name}: min_servers and max_servers must be whole numbers >= 1, got {low!r}, {high!r}")
    if low > high:
        raise DataError(f"{name}: min_servers ({low}) is above max_servers ({high})")
    if high > 10_000:
        raise DataError(f"{name}: max_servers ({high}) above 10000")


def _check_percent(name: str, key: str, value: float) -> None:
    if not (isinstance(value, numbers.Real) and math.isfinite(value) and 0 < value <= 100):
        raise DataError(f"{name}: {key} must be a percentage in (0, 100], got {value!r}")


def _check_seconds(name: str, key: str, value: float | None) -> None:
    if value is not None and not (isinstance(value, numbers.Real) and math.isfinite(value) and value >= 0):
        raise DataError(f"{name}: {key} must be a number of seconds >= 0, got {value!r}")


@dataclass(frozen=True)
class ThresholdPolicy:
    """Step scaling on a CPU threshold with a cooldown (the configured horizontal policy; rules in the module doc)."""

    cpu_threshold_percent: float = 70.0
    scale_in_cpu_threshold_percent: float = 35.0
    cooldown_seconds: float = 300.0
    min_servers: int = 1
    max_servers: int = 4
    scale_in_window_seconds: float | None = None  # None: the cooldown
    name: str = ""

    def __post_init__(self) -> None:
        label = self.name or "ThresholdPolicy"
        _check_percent(label, "cpu_threshold_percent", self.cpu_threshold_percent)
        _check_percent(label, "scale_in_cpu_threshold_percent", self.scale_in_cpu_threshold_percent)
        if self.scale_in_cpu_threshold_percent >= self.cpu_threshold_percent:
            raise DataError(
                f"{label}: scale_in_cpu_threshold_percent ({self.scale_in_cpu_threshold_percent}) must be below "
                f"cpu_threshold_percent ({self.cpu_threshold_percent})"
            )
        _check_seconds(label, "cooldown_seconds", self.cooldown_seconds)
        _check_seconds(label, "scale_in_window_seconds", self.scale_in_window_seconds)
        _check_bounds(label, self.min_servers, self.max_servers)
        if not self.name:
            object.__setattr__(
                self,
                "name",
                f"threshold {self.cpu_threshold_percent:.4g}/{self.scale_in_cpu_threshold_percent:.4g}% "
                f"cooldown {self.cooldown_seconds:g}s [{self.min_servers}-{self.max_servers}]",
            )

    @classmethod
    def from_config(cls, config: PlatformConfig, **changes: object) -> ThresholdPolicy:
        """The configured ``[scaling.horizontal]`` policy, with any field overridden by keyword."""
        h = config.scaling.horizontal
        fields = {
            "cpu_threshold_percent": h.cpu_threshold_percent,
            "scale_in_cpu_threshold_percent": h.scale_in_cpu_threshold_percent,
            "cooldown_seconds": float(h.cooldown_seconds),
            "min_servers": h.min_servers,
            "max_servers": h.max_servers,
        }
        return cls(**{**fields, **changes})  # type: ignore[arg-type]

    def describe(self) -> str:
        """The policy in words, for a report."""
        return (
            f"add a server above {self.cpu_threshold_percent:g} % CPU, remove one when the rest would stay under "
            f"{self.scale_in_cpu_threshold_percent:g} %; {human_duration(self.cooldown_seconds)} between changes; "
            f"{self.min_servers} to {self.max_servers} servers"
        )

    @property
    def scale_in_window(self) -> float:
        return self.cooldown_seconds if self.scale_in_window_seconds is None else self.scale_in_window_seconds


@dataclass(frozen=True)
class HpaPolicy:
    """Kubernetes-HPA-style proportional scaling on average CPU utilisation."""

    target_percent: float = 70.0
    tolerance: float = 0.1
    scale_down_stabilisation_seconds: float = 300.0
    min_servers: int = 1
    max_servers: int = 4
    name: str = ""

    def __post_init__(self) -> None:
        label = self.name or "HpaPolicy"
        _check_percent(label, "target_percent", self.target_percent)
        if not (isinstance(self.tolerance, numbers.Real) and 0 <= self.tolerance < 1):
            raise DataError(f"{label}: tolerance must be in [0, 1), got {self.tolerance!r}")
        _check_seconds(label, "scale_down_stabilisation_seconds", self.scale_down_stabilisation_seconds)
        _check_bounds(label, self.min_servers, self.max_servers)
        if not self.name:
            object.__setattr__(
                self,
                "name",
                f"hpa target {self.target_percent:.4g}% tol {self.tolerance:g} "
                f"window {self.scale_down_stabilisation_seconds:g}s [{self.min_servers}-{self.max_servers}]",
            )

    def describe(self) -> str:
        """The policy in words, for a report."""
        return (
            f"Kubernetes-HPA style: as many servers as keep the average CPU near {self.target_percent:g} % "
            f"(changes beyond {self.tolerance:.0%} of it); scale-down waits "
            f"{human_duration(self.scale_down_stabilisation_seconds)}; {self.min_servers} to {self.max_servers} servers"
        )

    @classmethod
    def from_config(cls, config: PlatformConfig, **changes: object) -> HpaPolicy:
        """An HPA targeting the configured CPU threshold, within the configured server bounds."""
        h = config.scaling.horizontal
        fields = {"target_percent": h.cpu_threshold_percent, "min_servers": h.min_servers, "max_servers": h.max_servers}
        return cls(**{**fields, **changes})  # type: ignore[arg-type]


Policy = ThresholdPolicy | HpaPolicy


def policy_grid(
    config: PlatformConfig,
    thresholds: Sequence[float] = tuple(range(55, 86, 3)),
    cooldowns: Sequence[float] = (60, 120, 180, 300, 420, 600, 900, 1200, 1800),
    **changes: object,
) -> list[ThresholdPolicy]:
    """Threshold-policy variants around the configured one: every threshold x cooldown pair.

    The scale-in threshold follows the configured ratio (35 / 70 = half the scale-out threshold).
    """
    h = config.scaling.horizontal
    ratio = h.scale_in_cpu_threshold_percent / h.cpu_threshold_percent
    return [
        ThresholdPolicy.from_config(
            config,
            cpu_threshold_percent=float(t),
            scale_in_cpu_threshold_percent=float(t) * ratio,
            cooldown_seconds=float(c),
            **changes,
        )
        for t in thresholds
        for c in cooldowns
    ]


# ------------------------------------------------------------------------------------------- demand


def tier_demand(
    samples: pd.DataFrame,
    component: str = "app",
    metric: str = "cpu",
    *,
    fill_limit: int = 5,
) -> pd.Series:
    """Total demand of a tier in server-CPU-percent: per timestamp, the sum of its servers' CPU %.

    ``samples`` is long format (``series.read_samples``: component, instance, metric, ts, value). The result
    is evenly spaced at the most common sampling step. A server counts from its first to its last sample (one
    that joins or leaves mid-way adds nothing outside its span). Inside that span a hole of up to
    ``fill_limit`` missing samples (a NaN value counts as missing) carries the last value forward; during a
    longer hole the tier's demand is unknown, NaN: neither guessed across the hole nor counted as zero load.
    """
    needed = {"component", "instance", "metric", "ts", "value"}
    if not isinstance(samples, pd.DataFrame) or not needed <= set(samples.columns):
        raise DataError(f"samples: expected a DataFrame with columns {sorted(needed)}")
    if not isinstance(fill_limit, numbers.Integral) or fill_limit < 0:
        raise DataError(f"fill_limit: expected a whole number of samples >= 0, got {fill_limit!r}")
    rows = samples[(samples["component"] == component) & (samples["metric"] == metric)]
    values = _floats("samples value", rows["value"])
    rows = rows[~np.isnan(values)]
    if rows.empty:
        raise DataError(f"samples: no {metric!r} samples for component {component!r}")
    _check_values(f"{component} {metric}", values[~np.isnan(values)], pd.Index(rows["ts"]), 100.0)
    wide = rows.pivot_table(index="ts", columns="instance", values="value", aggfunc="mean").sort_index()
    if len(wide) > 2:  # put back instants no server reported, so holes show and the result is evenly spaced
        gaps = np.diff(wide.index.as_unit("ns").asi8)
        steps, counts = np.unique(gaps, return_counts=True)
        step = pd.Timedelta(int(steps[np.argmax(counts)]))
        wide = wide.reindex(pd.date_range(wide.index[0], wide.index[-1], freq=step, name="ts"))
    for instance in wide.columns:
        column = wide[instance].to_numpy()
        present = ~np.isnan(column)
        first, last = int(np.argmax(present)), len(present) - int(np.argmax(present[::-1]))
        inside = _fill_short_holes(column[first:last], fill_limit)
        wide[instance] = np.concatenate([np.zeros(first), inside, np.zeros(len(column) - last)])
    demand = wide.sum(axis=1, skipna=False)
    demand.name = "demand"
    return demand


def _fill_short_holes(values: np.ndarray, limit: int) -> np.ndarray:
    """``values`` with each run of at most ``limit`` NaNs replaced by the value before it; longer runs stay NaN."""
    missing = np.isnan(values)
    if not missing.any() or limit == 0:
        return values
    starts = np.flatnonzero(missing & ~np.r_[False, missing[:-1]])
    ends = np.flatnonzero(missing & ~np.r_[missing[1:], False]) + 1
    filled = values.copy()
    for start, end in zip(starts, ends, strict=True):
        if end - start <= limit and start > 0:  # start > 0 always holds inside a span: it begins with a sample
            filled[start:end] = values[start - 1]
    return filled


def _floats(what: str, values: pd.Series) -> np.ndarray:
    """A column as float64 (NaN for missing), or DataError when it is not numeric."""
    try:
        return values.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        raise DataError(f"{what}: expected numbers, got values of type {values.dtype}") from None


def _check_values(
    what: str, values: np.ndarray, times: pd.Index, upper: float | None = None, *, unknown_allowed: bool = False
) -> None:
    """DataError for NaN, infinite or negative values (and above ``upper``), naming the first offender.

    With ``unknown_allowed`` NaN marks an unknown value and is accepted, as long as some value is known.
    """
    if len(values) == 0:
        raise DataError(f"{what}: empty series")
    if unknown_allowed:
        if np.isnan(values).all():
            raise DataError(f"{what}: every value is unknown (NaN), from {times[0]} to {times[-1]}")
        values, times = values[~np.isnan(values)], times[~np.isnan(values)]
    finite = np.isfinite(values)
    if not finite.all():
        bad = int(np.argmin(finite))
        kind = "missing (NaN)" if np.isnan(values[bad]) else "infinite"
        raise DataError(f"{what}: {int((~finite).sum())} {kind} value(s), first at {times[bad]}")
    if (values < 0).any():
        bad = int(np.argmax(values < 0))
        raise DataError(f"{what}: negative value {values[bad]:g} at {times[bad]} (load cannot be negative)")
    if upper is not None and (values > upper + 1e-9).any():
        bad = int(np.argmax(values > upper + 1e-9))
        raise DataError(f"{what}: value {values[bad]:g} at {times[bad]} is above {upper:g}")


@dataclass(frozen=True, eq=False)
class _Trace:
    times: pd.DatetimeIndex
    demand: np.ndarray
    step_seconds: float


def _trace(demand: pd.Series) -> _Trace:
    if not isinstance(demand, pd.Series) or not isinstance(demand.index, pd.DatetimeIndex):
        raise DataError("demand: expected a pandas Series indexed by time (a DatetimeIndex)")
    values = _floats("demand", demand).copy()  # results keep it: never a view of the caller's data
    _check_values("demand", values, demand.index, unknown_allowed=True)
    index = demand.index
    if len(index) == 1:
        if index.freq is None:
            raise DataError("demand: a single sample has no sampling step; give the index a freq")
        step = pd.Timedelta(index.freq).total_seconds()
    else:
        gaps = np.diff(index.as_unit("ns").asi8)
        if (gaps <= 0).any():
            bad = int(np.argmax(gaps <= 0))
            raise DataError(f"demand: timestamps must increase strictly; {index[bad + 1]} follows {index[bad]}")
        if (gaps != gaps[0]).any():
            bad = int(np.argmax(gaps != gaps[0]))
            raise DataError(
                f"demand: samples must be evenly spaced (step {pd.Timedelta(int(gaps[0]))}), but "
                f"{pd.Timedelta(int(gaps[bad]))} separate {index[bad]} and {index[bad + 1]}; resample first, "
                "e.g. demand.resample('1min').mean().interpolate()"
            )
        step = pd.Timedelta(int(gaps[0])).total_seconds()
    values.setflags(write=False)
    return _Trace(index, values, step)


def _samples(seconds: float, step_seconds: float) -> int:
    """A duration in whole samples, rounded up (with a little slack for float seconds)."""
    return max(0, math.ceil(seconds / step_seconds - 1e-9))


def _rolling_max(values: np.ndarray, window: int) -> np.ndarray:
    if window <= 1:
        return values
    return pd.Series(values).rolling(window, min_periods=1).max().to_numpy()


# ------------------------------------------------------------------------------------------- engines

# An event: (decision sample, servers before, servers after, reason)
_Event = tuple[int, int, int, str]


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


def _threshold_fast(levels: _Levels, step_s: float, p: ThresholdPolicy, start: int) -> list[_Event]:
    """Event-driven replay: jump from one event to the next with searches in crossing indices."""
    total = len(levels.demand)
    cooldown = _samples(p.cooldown_seconds, step_s)
    window = max(1, _samples(p.scale_in_window, step_s))
    up, down = p.cpu_threshold_percent, p.scale_in_cpu_threshold_percent
    outs: dict[int, np.ndarray] = {}
    ins: dict[int, np.ndarray] = {}
    events: list[_Event] = []
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


def _threshold_reference(demand: np.ndarray, step_s: float, p: ThresholdPolicy, start: int) -> list[_Event]:
    """The same rules as a plain per-sample loop (baseline and test oracle)."""
    cooldown = _samples(p.cooldown_seconds, step_s)
    window = max(1, _samples(p.scale_in_window, step_s))
    up, down = p.cpu_threshold_percent, p.scale_in_cpu_threshold_percent
    recent: deque[float] = deque(maxlen=window)
    events: list[_Event] = []
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


def _hpa_reason(u: float, p: HpaPolicy, desired: int, new: int, old: int) -> str:
    if new > old:
        return f"cpu {u:.1f}% vs target {p.target_percent:g}%: desired {desired}"
    return f"cpu {u:.1f}%: highest desired over {p.scale_down_stabilisation_seconds:g}s is {new}"


def _hpa_reference(demand: np.ndarray, step_s: float, p: HpaPolicy, start: int) -> list[_Event]:
    """HPA replay as a plain per-sample loop (used for few variants, and as the test oracle)."""
    window = max(1, _samples(p.scale_down_stabilisation_seconds, step_s))
    recommendations: deque[float] = deque(maxlen=window)
    target, tolerance, low, high = p.target_percent, p.tolerance, p.min_servers, p.max_servers
    events: list[_Event] = []
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
) -> list[list[_Event]]:
    """Many HPA variants with the same window at once: one pass over time, numpy vectors across variants."""
    window = max(1, _samples(policies[0].scale_down_stabilisation_seconds, step_s))
    target = np.array([p.target_percent for p in policies])
    tolerance = np.array([p.tolerance for p in policies])
    low = np.array([p.min_servers for p in policies], dtype=float)
    high = np.array([p.max_servers for p in policies], dtype=float)
    n = starts.astype(float)
    recommendations = np.full((window, len(policies)), -1.0)
    events: list[list[_Event]] = [[] for _ in policies]
    # The same arithmetic as _hpa_reference, in preallocated buffers (out=): allocation dominates at this size.
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


# ------------------------------------------------------------------------------------------- results


def _band_masks(values: np.ndarray, indicator: Indicator, step_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(warning-or-worse, critical) masks; critical needs ``sustained_minutes`` in a row, else it is warning."""
    if indicator.direction == "above":
        warn, crit = values >= indicator.warning, values > indicator.critical
    else:
        warn, crit = values <= indicator.warning, values < indicator.critical
    needed = _samples(indicator.sustained_minutes * 60.0, step_s)
    if needed > 1:
        runs = np.cumsum(crit, dtype=np.int64)
        in_window = runs.copy()
        in_window[needed:] -= runs[:-needed]
        crit = crit & (in_window >= needed)
    return warn, crit


def _servers_from_events(total: int, start: int, events: Sequence[_Event]) -> np.ndarray:
    bounds = np.array([0] + [e[0] + 1 for e in events] + [total])
    counts = np.array([start] + [e[2] for e in events], dtype=np.int16)
    return np.repeat(counts, np.diff(bounds))


@dataclass(frozen=True, eq=False, repr=False)
class SimulationResult:
    """One policy replayed over one demand trace: servers over time, scale events, bands, saturation, cost."""

    policy: Policy
    times: pd.DatetimeIndex
    demand: np.ndarray
    servers: np.ndarray  # servers serving each sample
    events: pd.DataFrame  # time (effective), from, to, reason
    step_seconds: float
    band_minutes: dict[str, float]  # per-server CPU in the cpu indicator's bands (known samples only)
    saturation_minutes: float  # minutes with demand at or above 100 % of every server
    unmet_server_hours: float  # work that did not fit, in server-hours
    unit_price: float
    currency: str
    cpu_bands: Indicator  # the bands the minutes were counted with
    no_data_minutes: float = 0.0  # samples of unknown demand (NaN): in no band

    @property
    def average_servers(self) -> float:
        return float(self.servers.mean())

    @property
    def monthly_cost(self) -> float:
        """Unit price x average servers: what a 30.4-day month costs at this run's average."""
        return self.unit_price * self.average_servers

    @property
    def period_cost(self) -> float:
        """What the simulated span itself costs, pro rata of the monthly price."""
        days = len(self.servers) * self.step_seconds / 86_400
        return self.monthly_cost * days / MONTH_DAYS

    @property
    def scale_outs(self) -> int:
        return int((self.events["to"] > self.events["from"]).sum())

    @property
    def scale_ins(self) -> int:
        return int((self.events["to"] < self.events["from"]).sum())

    @cached_property
    def timeline(self) -> pd.DataFrame:
        """Per sample: demand, servers, measured per-server CPU %, unmet demand and band."""
        cpu = np.minimum(self.demand / self.servers, 100.0)
        warn, crit = _band_masks(cpu, self.cpu_bands, self.step_seconds)
        codes = np.where(np.isnan(self.demand), -1, warn.astype(np.int8) + crit)  # -1: unknown, no band
        band = pd.Categorical.from_codes(codes, categories=list(BANDS))
        return pd.DataFrame(
            {
                "demand": self.demand,
                "servers": self.servers,
                "cpu_percent": cpu,
                "unmet_percent": np.maximum(self.demand - 100.0 * self.servers, 0.0),  # NaN where unknown
                "band": band,
            },
            index=self.times,
        )

    def downsample(self, freq: str | None = None, max_rows: int = 4_000) -> pd.DataFrame:
        """The timeline aggregated per ``freq`` (default: the finest nice step giving <= ``max_rows`` rows)."""
        freq = freq or _chart_freq(self.times, self.step_seconds, max_rows)
        timeline = self.timeline
        grouped = timeline.resample(freq)
        frame = pd.DataFrame(
            {
                "servers_mean": grouped["servers"].mean(),
                "servers_min": grouped["servers"].min(),
                "servers_max": grouped["servers"].max(),
                "cpu_mean": grouped["cpu_percent"].mean(),
                "cpu_max": grouped["cpu_percent"].max(),
                "demand_max": grouped["demand"].max(),
                "saturation_minutes": (timeline["demand"] >= 100.0 * timeline["servers"]).resample(freq).sum()
                * self.step_seconds
                / 60.0,
            }
        )
        frame.index.name = "ts"
        frame.insert(0, "policy", self.policy.name)
        return frame.reset_index()

    def summary(self) -> dict[str, object]:
        """One comparison-table row."""
        is_hpa = isinstance(self.policy, HpaPolicy)
        return {
            "policy": self.policy.name,
            "kind": "hpa" if is_hpa else "threshold",
            "scale_events": len(self.events),
            "scale_outs": self.scale_outs,
            "scale_ins": self.scale_ins,
            "average_servers": self.average_servers,
            "peak_servers": int(self.servers.max()),
            **{f"{band}_minutes": self.band_minutes[band] for band in BANDS},
            "no_data_minutes": self.no_data_minutes,
            "saturation_minutes": self.saturation_minutes,
            "unmet_server_hours": self.unmet_server_hours,
            "monthly_cost": self.monthly_cost,
        }

    def __repr__(self) -> str:
        bands = ", ".join(f"{b} {self.band_minutes[b]:,.0f}" for b in BANDS)
        if self.no_data_minutes:
            bands += f", no data {self.no_data_minutes:,.0f}"
        return (
            f"SimulationResult({self.policy.name!r}: {len(self.servers):,} samples from {self.times[0]} to "
            f"{self.times[-1]}, {len(self.events)} scale events ({self.scale_outs} out, {self.scale_ins} in), "
            f"average {self.average_servers:.2f} servers, minutes {bands}, saturated "
            f"{self.saturation_minutes:,.0f} min, {self.monthly_cost:,.2f} {self.currency}/month)"
        )


def _chart_freq(times: pd.DatetimeIndex, step_s: float, max_rows: int) -> str:
    span = (times[-1] - times[0]).total_seconds() + step_s
    for freq in _NICE_FREQS:
        seconds = pd.Timedelta(freq).total_seconds()
        if seconds >= step_s and span / seconds + 1 <= max_rows:  # + 1: buckets need not align with the start
            return freq
    return _NICE_FREQS[-1]


def _result(
    trace: _Trace,
    policy: Policy,
    start: int,
    events: Sequence[_Event],
    indicator: Indicator,
    unit_price: float,
    currency: str,
) -> SimulationResult:
    demand, step_s = trace.demand, trace.step_seconds
    servers = _servers_from_events(len(demand), start, events)
    servers.setflags(write=False)
    per_server = np.minimum(demand / servers, 100.0)
    warn, crit = _band_masks(per_server, indicator, step_s)
    minutes = step_s / 60.0
    n_warn, n_crit = int(warn.sum()), int(crit.sum())  # critical samples are among the warning-or-worse ones
    n_unknown = int(np.isnan(demand).sum())  # NaN is in neither mask
    band_minutes = {
        "healthy": (len(demand) - n_unknown - n_warn) * minutes,
        "warning": (n_warn - n_crit) * minutes,
        "critical": n_crit * minutes,
    }
    unmet = np.fmax(demand - 100.0 * servers, 0.0)  # fmax: unknown demand adds no unmet work
    effective = trace.times[[e[0] for e in events]] + pd.Timedelta(seconds=step_s) if events else trace.times[:0]
    event_frame = pd.DataFrame(
        {
            "time": effective,
            "from": np.array([e[1] for e in events], dtype=np.int64),
            "to": np.array([e[2] for e in events], dtype=np.int64),
            "reason": pd.Series([e[3] for e in events], dtype=object),
        }
    )
    return SimulationResult(
        policy=policy,
        times=trace.times,
        demand=demand,
        servers=servers,
        events=event_frame,
        step_seconds=step_s,
        band_minutes=band_minutes,
        saturation_minutes=float((demand >= 100.0 * servers).sum() * minutes),
        unmet_server_hours=float(unmet.sum() / 100.0 * step_s / 3600.0),
        unit_price=unit_price,
        currency=currency,
        cpu_bands=indicator,
        no_data_minutes=n_unknown * minutes,
    )


def simulate_many(
    demand: pd.Series,
    config: PlatformConfig,
    policies: Sequence[Policy],
    *,
    initial_servers: int | None = None,
    component: str | None = None,
    engine: Engine = "fast",
) -> list[SimulationResult]:
    """Replay one demand trace (server-CPU-percent, evenly spaced, NaN where unknown) through every policy.

    Starts at ``initial_servers`` (default: the component's configured count), clipped into each policy's
    bounds, with no cooldown pending. Costs use ``config.unit_price(component)`` (default: the horizontal
    scaling component).
    """
    trace = _trace(demand)
    component = component or config.scaling.horizontal.component
    if component not in config.components:
        raise DataError(f"component: {component!r} is not in the inventory ({', '.join(config.components)})")
    if "cpu" not in config.indicators:
        raise DataError("config: no [indicators.cpu] bands to classify per-server CPU with")
    if engine not in ("fast", "reference"):
        raise DataError(f"engine: expected 'fast' or 'reference', got {engine!r}")
    count = config.components[component].count if initial_servers is None else initial_servers
    if not isinstance(count, numbers.Integral) or count < 1:
        raise DataError(f"initial_servers: expected a whole number >= 1, got {count!r}")
    policies = list(policies)
    for policy in policies:
        if not isinstance(policy, ThresholdPolicy | HpaPolicy):
            raise DataError(f"policies: expected ThresholdPolicy or HpaPolicy, got {type(policy).__name__}")
    starts = [min(max(int(count), p.min_servers), p.max_servers) for p in policies]
    events: list[list[_Event] | None] = [None] * len(policies)

    levels = _Levels(trace.demand)
    hpa_groups: dict[int, list[int]] = {}
    for i, p in enumerate(policies):
        if isinstance(p, ThresholdPolicy) and engine == "fast":
            events[i] = _threshold_fast(levels, trace.step_seconds, p, starts[i])
        elif isinstance(p, ThresholdPolicy):
            events[i] = _threshold_reference(trace.demand, trace.step_seconds, p, starts[i])
        else:
            window = max(1, _samples(p.scale_down_stabilisation_seconds, trace.step_seconds))
            hpa_groups.setdefault(window, []).append(i)
    for members in hpa_groups.values():
        if engine == "fast" and len(members) >= _VECTORISE_FROM:
            group = [policies[i] for i in members]
            group_starts = np.array([starts[i] for i in members])
            found_all = _hpa_vectorised(trace.demand, trace.step_seconds, group, group_starts)
            for i, found in zip(members, found_all, strict=True):
                events[i] = found
        else:
            for i in members:
                events[i] = _hpa_reference(trace.demand, trace.step_seconds, policies[i], starts[i])  # type: ignore[arg-type]

    indicator = config.indicators["cpu"]
    price, currency = config.unit_price(component), config.platform.currency
    return [
        _result(trace, p, start, found or [], indicator, price, currency)
        for p, start, found in zip(policies, starts, events, strict=True)
    ]


def simulate(
    demand: pd.Series,
    config: PlatformConfig,
    policy: Policy | None = None,
    *,
    initial_servers: int | None = None,
    component: str | None = None,
    engine: Engine = "fast",
) -> SimulationResult:
    """Replay a demand trace through one policy (default: the configured threshold policy)."""
    policy = policy or ThresholdPolicy.from_config(config)
    return simulate_many(demand, config, [policy], initial_servers=initial_servers, component=component, engine=engine)[
        0
    ]


def compare(results: Sequence[SimulationResult]) -> pd.DataFrame:
    """The comparison table: one row per policy (events, servers, minutes per band, saturation, cost)."""
    if not results:
        raise DataError("results: nothing to compare")
    return pd.DataFrame([r.summary() for r in results]).set_index("policy")


def timeline_frame(results: Sequence[SimulationResult], max_rows: int = 4_000) -> pd.DataFrame:
    """Long-format servers-over-time for charts: every policy downsampled to share ``max_rows`` rows."""
    if not results:
        raise DataError("results: nothing to chart")
    per_policy = max(1, max_rows // len(results))
    return pd.concat([r.downsample(max_rows=per_policy) for r in results], ignore_index=True)


# ------------------------------------------------------------------------------------------- vertical


def recommend_size(
    config: PlatformConfig, component: str, resource: str | None = None
) -> tuple[str, ServerSize] | None:
    """The cheapest catalogue size bigger than the component's with more ``resource`` (vcpu, ram_gb,
    disk_gb; None: any bigger size), or None when the catalogue has none (or the component is flat-priced)."""
    current = config.component_size(component)
    if current is None:
        return None
    for name, size in config.resize_options(component):  # cheapest first
        if resource is None or getattr(size, resource) > getattr(current, resource):
            return name, size
    return None


def _sustained_runs(
    times: pd.DatetimeIndex, values: np.ndarray, above: float, sustained_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """(mask of samples where the breach has lasted ``sustained_s``, run-start index per sample).

    A run is consecutive samples above the level with no gap over 1.5 sampling steps; a sample of a run
    that started at ``t0`` covers ``t - t0 + step``. One sample alone covers no time.
    """
    seconds = times.as_unit("ns").asi8 / 1e9
    gaps = np.diff(seconds)
    step = float(np.median(gaps)) if len(gaps) else 0.0
    high = values > above
    starts = high.copy()
    starts[1:] &= ~high[:-1] | (gaps > 1.5 * step)
    run_start = np.maximum.accumulate(np.where(starts, np.arange(len(values)), 0))
    covered = seconds - seconds[run_start] + step
    return high & (covered >= sustained_s - 1e-9), run_start


def vertical_triggers(
    samples: pd.DataFrame,
    config: PlatformConfig,
    *,
    value_col: str = "value",
    time_col: str = "ts",
) -> pd.DataFrame:
    """Which configured vertical triggers fire, when, and the next catalogue size to resize into.

    ``samples``: long format with component, metric, time and value columns (``instance`` optional), a
    history from the warehouse or a forecast (pass ``value_col="hi80"``, ``time_col="date"``). A trigger
    without a ``component`` applies to every component with samples of its indicator. It fires at the first
    sample where the indicator has stayed above ``above_percent`` for ``sustained_minutes`` (at daily
    resolution one day above is sustained). The recommendation is the cheapest bigger size with more of the
    resource the trigger is about (``TRIGGER_RESOURCES``; the database bottleneck takes any bigger size).
    """
    needed = {"component", "metric", time_col, value_col}
    if not isinstance(samples, pd.DataFrame) or not needed <= set(samples.columns):
        raise DataError(f"samples: expected a DataFrame with columns {sorted(needed)}")
    if not config.scaling.vertical:
        raise DataError("config: no [[scaling.vertical]] triggers")
    rows = []
    for trigger in config.scaling.vertical:
        of_metric = samples[samples["metric"] == trigger.indicator]
        if trigger.component:
            components = [trigger.component]
        else:
            components = sorted(c for c in of_metric["component"].unique() if c in config.components)
        for component in components:
            rows.append(_trigger_row(trigger, component, of_metric, config, value_col, time_col))
    return pd.DataFrame(rows)


def _trigger_row(trigger, component, of_metric, config, value_col, time_col) -> dict[str, object]:
    part = of_metric[of_metric["component"] == component]
    first, last, instance, firing, episodes, peak, note = pd.NaT, pd.NaT, None, 0, 0, math.nan, ""
    if part.empty:
        note = f"no {trigger.indicator} samples"
    else:
        if "instance" not in part.columns:
            part = part.assign(instance="all")
        for name, series in part.groupby("instance"):
            series = series.sort_values(time_col)
            times = pd.DatetimeIndex(series[time_col])
            values = _floats(f"samples {value_col}", series[value_col])
            _check_values(f"{component}/{name} {trigger.indicator}", values, times)
            fired, run_start = _sustained_runs(times, values, trigger.above_percent, trigger.sustained_minutes * 60)
            peak = np.nanmax([peak, values.max()])
            if len(values) == 1 and trigger.sustained_minutes > 0:
                note = "one sample: cannot show a sustained breach"
            if fired.any():
                firing += 1
                episodes = max(episodes, len(np.unique(run_start[fired])))
                at = times[int(np.argmax(fired))]
                if first is pd.NaT or at < first:
                    first, instance = at, name
                last_at = times[len(fired) - 1 - int(np.argmax(fired[::-1]))]
                last = last_at if last is pd.NaT or last_at > last else last
    current = config.component_size(component)
    found = recommend_size(config, component, TRIGGER_RESOURCES.get(trigger.indicator))
    count = config.components[component].count
    if found is None:
        note = note or ("flat-priced component: nothing to resize" if current is None else "already the biggest size")
    when = first
    if when is not pd.NaT and when.tzinfo is not None:
        when = when.tz_convert(config.tz)
    return {
        "trigger": trigger.trigger,
        "component": component,
        "indicator": trigger.indicator,
        "above_percent": trigger.above_percent,
        "sustained_minutes": trigger.sustained_minutes,
        "fires": first is not pd.NaT,
        "first_fired": first,
        "last_fired": last,
        "necessary_date": when.date() if when is not pd.NaT else None,
        "instance": instance,  # the first to fire
        "instances_firing": firing,
        "episodes": episodes,  # separate sustained breaches, in the instance with the most
        "peak": peak,
        "action": trigger.action,
        "current_size": config.components[component].size,
        "current_price": config.unit_price(component),
        "recommended_size": found[0] if found else None,
        "recommended_vcpu": found[1].vcpu if found else None,
        "recommended_ram_gb": found[1].ram_gb if found else None,
        "recommended_price": found[1].monthly_price if found else None,
        "monthly_difference": (found[1].monthly_price - current.monthly_price) * count if found and current else None,
        "note": note,
    }


# ------------------------------------------------------------------------------------------- planning


@dataclass(frozen=True, eq=False, repr=False)
class CapacityPlan:
    """When the app tier outgrows ``max_servers``, and what to buy about it.

    ``breach``: per forecast column (lo95 .. hi95), the first date the demand spread on ``max_servers`` goes
    over the CPU threshold, the critical band and 100 %. ``options``: per size (the current one and every
    bigger one), the servers that keep the planned peak under the threshold (and p95 latency under target
    when a request rate was given), and what that fleet costs per month if it ran all month (an upper bound:
    the autoscaler runs fewer servers off-peak). ``recommendation``: the cheapest option.
    """

    component: str
    current_size: str
    max_servers: int
    cpu_threshold_percent: float
    critical_percent: float
    plan_on: str
    peak_demand: float
    peak_date: pd.Timestamp
    breach: pd.DataFrame
    options: pd.DataFrame
    currency: str

    @property
    def best(self) -> pd.Series:
        """The current size if ``max_servers`` of it carry the peak (nothing to buy), else the cheapest option."""
        current = self.options[self.options["size"] == self.current_size]
        if len(current) and bool(current["within_max_servers"].iloc[0]):
            return current.iloc[0]
        return self.options.iloc[0]

    @property
    def recommendation(self) -> str:
        best = self.best
        return (
            f"{best['action']}: {int(best['servers_needed'])} x {best['size']} at "
            f"{best['monthly_cost']:,.2f} {self.currency}/month ({best['monthly_change']:+,.2f} vs now)"
        )

    def __repr__(self) -> str:
        when = self.breach.loc[self.plan_on, "threshold_date"] if self.plan_on in self.breach.index else pd.NaT
        crossing = "never within the forecast" if when is pd.NaT or pd.isna(when) else f"from {when:%Y-%m-%d}"
        return (
            f"CapacityPlan({self.component}: {self.max_servers} x {self.current_size} exceed "
            f"{self.cpu_threshold_percent:g}% CPU ({self.plan_on}) {crossing}; peak {self.peak_demand:.0f} "
            f"server-CPU-% on {self.peak_date:%Y-%m-%d}; recommend {self.recommendation})"
        )


def capacity_plan(
    forecast: pd.DataFrame,
    config: PlatformConfig,
    *,
    policy: ThresholdPolicy | None = None,
    plan_on: str = "hi80",
    date_col: str = "date",
    peak_request_rate_per_s: float | None = None,
    service_time_s: float | None = None,
    target_p95_ms: float | None = None,
) -> CapacityPlan:
    """The planning question: from a forecast of the tier's demand (server-CPU-%, e.g. the daily peak; columns
    ``date_col``, ``mean`` and any of lo95/lo80/hi80/hi95), the date even ``max_servers`` servers run over the
    CPU threshold, and the cheapest fix: raise ``max_servers`` or resize to a bigger catalogue size.

    A size with ``v`` vCPUs carries ``v / v_now`` times the load of the current size (CPU-bound work that
    uses every vCPU). With ``peak_request_rate_per_s`` and ``service_time_s`` (CPU-seconds per request), the
    servers must also keep the M/M/c p95 under ``target_p95_ms`` (default: the latency_p95 warning band),
    each vCPU being one queueing server.
    """
    policy = policy or ThresholdPolicy.from_config(config)
    component = config.scaling.horizontal.component
    current = config.component_size(component)
    if current is None:
        raise DataError(f"components.{component}: flat-priced, no server size to plan with")
    if not isinstance(forecast, pd.DataFrame) or date_col not in forecast.columns or forecast.empty:
        raise DataError(f"forecast: expected a non-empty DataFrame with a {date_col!r} column")
    if plan_on not in forecast.columns:
        raise DataError(
            f"forecast: no {plan_on!r} column to plan on (columns: {', '.join(map(str, forecast.columns))})"
        )
    forecast = forecast.sort_values(date_col)
    dates = pd.DatetimeIndex(forecast[date_col])
    scenarios = [c for c in SCENARIO_COLUMNS if c in forecast.columns] or [plan_on]
    if plan_on not in scenarios:
        scenarios.append(plan_on)
    for column in scenarios:  # a lower band may dip below zero; the planned column may not
        values = _floats(f"forecast {column}", forecast[column])
        checked = values if column == plan_on else np.abs(values)
        _check_values(f"forecast {column}", checked, dates)

    critical = config.indicators["cpu"].critical if "cpu" in config.indicators else 100.0
    limits = {"threshold_date": policy.cpu_threshold_percent, "critical_date": critical, "saturation_date": 100.0}
    breach = pd.DataFrame(
        {
            key: [_first_date(dates, forecast[c].to_numpy(dtype=float) / policy.max_servers, level) for c in scenarios]
            for key, level in limits.items()
        },
        index=pd.Index(scenarios, name="scenario"),
    )
    planned = forecast[plan_on].to_numpy(dtype=float)
    peak_at = int(np.argmax(planned))
    peak = float(planned[peak_at])

    latency = peak_request_rate_per_s is not None or service_time_s is not None
    if latency and (peak_request_rate_per_s is None or service_time_s is None):
        raise DataError("give both peak_request_rate_per_s and service_time_s for the latency check")
    target_ms = target_p95_ms
    if latency and target_ms is None:
        target_ms = config.indicators["latency_p95"].warning if "latency_p95" in config.indicators else 200.0
    now_cost = config.components[component].count * current.monthly_price
    rows = []
    for name, size in [(config.components[component].size, current), *config.resize_options(component)]:
        per_size = peak * current.vcpu / size.vcpu
        for_cpu = max(policy.min_servers, math.ceil(per_size / policy.cpu_threshold_percent - 1e-9))
        for_latency = (
            servers_for_p95(peak_request_rate_per_s, service_time_s, target_ms / 1e3, size.vcpu) if latency else 0
        )
        needed = max(for_cpu, for_latency)
        within = needed <= policy.max_servers
        if name == config.components[component].size:
            action = (
                f"keep the size: {needed} at the forecast peak, within max_servers {policy.max_servers}"
                if within
                else f"raise max_servers from {policy.max_servers} to {needed}"
            )
        else:
            action = f"resize to {name}" + ("" if within else f" and raise max_servers to {needed}")
        rows.append(
            {
                "size": name,
                "vcpu": size.vcpu,
                "ram_gb": size.ram_gb,
                "unit_price": size.monthly_price,
                "servers_for_cpu": for_cpu,
                **({"servers_for_p95": for_latency} if latency else {}),
                "servers_needed": needed,
                "within_max_servers": within,
                "peak_cpu_percent": per_size / needed,
                "monthly_cost": needed * size.monthly_price,
                "monthly_change": needed * size.monthly_price - now_cost,
                "action": action,
                "_resize": name != config.components[component].size,
            }
        )
    options = (
        pd.DataFrame(rows)
        .assign(_policy=lambda f: ~f["within_max_servers"])
        .sort_values(["monthly_cost", "_policy", "_resize", "servers_needed"], kind="stable")
        .drop(columns=["_policy", "_resize"])
        .reset_index(drop=True)
    )
    return CapacityPlan(
        component=component,
        current_size=str(config.components[component].size),
        max_servers=policy.max_servers,
        cpu_threshold_percent=policy.cpu_threshold_percent,
        critical_percent=critical,
        plan_on=plan_on,
        peak_demand=peak,
        peak_date=dates[peak_at],
        breach=breach,
        options=options,
        currency=config.platform.currency,
    )


def _first_date(dates: pd.DatetimeIndex, per_server: np.ndarray, level: float) -> pd.Timestamp:
    over = per_server > level if level < 100 else per_server >= level
    return dates[int(np.argmax(over))] if over.any() else pd.NaT


def estimate_service_time(demand: pd.Series, request_rate_per_s: pd.Series, vcpu_per_server: int) -> float:
    """CPU-seconds per request from history: busy vCPUs (demand / 100 x vCPUs) over requests per second,
    as a ratio of sums over the samples both series have (the load-weighted mean)."""
    joined = pd.concat({"demand": demand, "rate": request_rate_per_s}, axis=1, join="inner").dropna()
    if joined.empty or joined["rate"].sum() <= 0:
        raise DataError("request_rate_per_s: no requests in the samples shared with demand")
    busy = joined["demand"].to_numpy() / 100.0 * vcpu_per_server
    return float(busy.sum() / joined["rate"].to_numpy().sum())


__all__ = [
    "BANDS",
    "MONTH_DAYS",
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
