"""Capacity planning: from a demand forecast, when ``max_servers`` no longer carry the tier, and what to buy."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sre_lib.analysis.queueing import servers_for_p95
from sre_lib.analysis.scaling.demand_trace import as_floats, check_values
from sre_lib.analysis.scaling.horizontal_policies import ThresholdPolicy
from sre_lib.config import PlatformConfig
from sre_lib.errors import DataError

SCENARIO_COLUMNS = ("lo95", "lo80", "mean", "hi80", "hi95")


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
        values = as_floats(f"forecast {column}", forecast[column])
        checked = values if column == plan_on else np.abs(values)
        check_values(f"forecast {column}", checked, dates)

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
