"""Simulation results: servers over time, scale events, minutes per CPU band, saturation and cost.

Costs are the inventory's monthly unit prices, pro rata over a 30.4-day month.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from sre_lib.analysis.scaling.demand_trace import Trace, samples_in
from sre_lib.analysis.scaling.horizontal_policies import HpaPolicy, Policy
from sre_lib.analysis.scaling.replay_engines import Event
from sre_lib.config import Indicator
from sre_lib.errors import DataError

MONTH_DAYS = 30.4
BANDS = ("healthy", "warning", "critical")
_NICE_FREQS = ("1min", "5min", "15min", "30min", "1h", "3h", "6h", "12h", "1D", "7D")


def _band_masks(values: np.ndarray, indicator: Indicator, step_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(warning-or-worse, critical) masks; critical needs ``sustained_minutes`` in a row, else it is warning."""
    if indicator.direction == "above":
        warn, crit = values >= indicator.warning, values > indicator.critical
    else:
        warn, crit = values <= indicator.warning, values < indicator.critical
    needed = samples_in(indicator.sustained_minutes * 60.0, step_s)
    if needed > 1:
        runs = np.cumsum(crit, dtype=np.int64)
        in_window = runs.copy()
        in_window[needed:] -= runs[:-needed]
        crit = crit & (in_window >= needed)
    return warn, crit


def _servers_from_events(total: int, start: int, events: Sequence[Event]) -> np.ndarray:
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


def build_result(
    trace: Trace,
    policy: Policy,
    start: int,
    events: Sequence[Event],
    indicator: Indicator,
    unit_price: float,
    currency: str,
) -> SimulationResult:
    """A policy's scale events on a trace turned into its result: servers per sample, bands, unmet work."""
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
