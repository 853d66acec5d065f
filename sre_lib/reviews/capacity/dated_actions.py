"""The capacity review's dated actions: add app servers, resize, grow a disk, answer a trigger or a Redis policy.

Actions, earliest first: add app servers before the forecast load needs them (with the monthly cost), resize a
server before its CPU or memory is likely to cross critical (next catalogue size and its price), grow a disk before
it is likely to fill, answer a vertical trigger that fired recently, act on a [redis] policy level that holds now,
and say when even the maximum number of app servers will not carry the load. One row per distinct action.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from sre_lib.analysis import forecast, scaling
from sre_lib.config import PlatformConfig

# Metrics whose warning level is the policy's action threshold ([redis]: "> 80 %: increase size").
POLICY_LEVEL_METRICS = frozenset({"redis_memory"})
# What the [redis] policy says to do when a trigger holds now (seed: Cache Management, Redis Monitoring).
REDIS_STATUS_ACTIONS = {
    "redis_hit_ratio": "review the caching strategy of Redis on {where}: what is cached, TTLs, key design",
    "redis_evictions": "add Redis capacity on {where}: evictions are rising",
    "redis_clients": "look for connection-pool problems with Redis on {where}: clients are near maxclients",
}
CERTIFICATE_METRIC = "tls_cert_days"  # days until a server's TLS certificate expires (blackbox_exporter)
TARGET_METRIC = "up"  # 0 while a scrape target of a server does not answer
_RESOURCE_OF_METRIC = {"cpu": "vcpu", "memory": "ram_gb", "redis_memory": "ram_gb", "db_connections": "vcpu"}
_ACTION_COLUMNS = [
    "by", "component", "instance", "metric", "action", "monthly_cost_change", "why", "trustworthy", "cost_group",
]  # fmt: skip
# cost_group: actions that are alternatives or steps of one change (the fleet size of a tier, the size of one
# component) share one, and only the dearest of a group counts in the total; an action alone has its own.


def servers_needed(demand: float, per_server_limit: float) -> int:
    """Servers that keep each one at or under ``per_server_limit`` % for a tier demand in server-CPU-%."""
    return max(1, math.ceil(demand / per_server_limit - 1e-9))


def server_steps(frame: pd.DataFrame, current: int, per_server_limit: float, column: str = "hi80") -> pd.DataFrame:
    """For each server count above ``current``: the first forecast date the tier needs it (servers, needed_from)."""
    needed = frame[column].map(lambda value: servers_needed(value, per_server_limit))
    rows = []
    for servers in range(current + 1, int(needed.max()) + 1 if len(needed) else current + 1):
        first = frame.loc[needed >= servers, "date"]
        if not first.empty:
            rows.append({"servers": servers, "needed_from": first.iloc[0]})
    return pd.DataFrame(rows, columns=["servers", "needed_from"])


def _actions(
    config: PlatformConfig, tier: str, as_of: pd.Timestamp, crossings: pd.DataFrame,
    demand_forecast: forecast.Forecast | None, plan: scaling.CapacityPlan | None, vertical: pd.DataFrame,
    status: pd.DataFrame,
) -> pd.DataFrame:  # fmt: skip
    rows: list[dict[str, object]] = []
    today = pd.Timestamp(as_of.tz_convert(config.tz).date())
    if demand_forecast is not None:
        rows += _tier_actions(config, tier, demand_forecast, plan)
    if not crossings.empty:
        rows += _crossing_actions(config, tier, crossings, today)
    if not vertical.empty:
        for row in vertical[vertical["recent"]].itertuples():
            rows.append({
                "by": today, "component": row.component, "instance": row.instance, "metric": row.indicator,
                "action": f"{row.trigger} on {row.component}: {row.action} ({row.recommended_size})"
                if isinstance(row.recommended_size, str) else f"{row.trigger} on {row.component}: {row.action}",
                "monthly_cost_change": row.monthly_difference,
                "why": f"above {row.above_percent:g} % for {row.sustained_minutes} min (peak {row.peak:.0f} %), "
                       f"last on {pd.Timestamp(row.last_fired).tz_convert(config.tz):%Y-%m-%d}",
                "trustworthy": True, "cost_group": _size_group(row.component, tier),
            })  # fmt: skip
    rows += _redis_policy_actions(config, status, today)
    rows += _certificate_actions(config, status, today)
    rows += _target_down_actions(config, status, today)
    worded = {CERTIFICATE_METRIC, TARGET_METRIC}  # critical, and acted on above in their own words
    for row in status[(status["status"] == "critical") & ~status["metric"].isin(list(worded))].itertuples():
        rows.append({
            "by": today, "component": row.component, "instance": row.instance, "metric": row.metric,
            "action": f"investigate {row.metric} on {row.component}/{row.instance} now", "monthly_cost_change": 0.0,
            "why": str(row.detail), "trustworthy": True,
        })  # fmt: skip
    actions = pd.DataFrame(rows, columns=_ACTION_COLUMNS)
    if actions.empty:
        return actions
    actions["cost_group"] = actions["cost_group"].astype(object)  # all missing when no action named one
    alone = actions["cost_group"].isna()
    actions.loc[alone, "cost_group"] = [f"action {number}" for number in range(int(alone.sum()))]
    return _merge_same_actions(actions.sort_values(["by", "component"], kind="stable"))


def _size_group(component: str, tier: str) -> str:
    """The cost group of resizing ``component``: the scaled tier's sizes and server count are one change."""
    return f"fleet {tier}" if component == tier else f"size {component}"


def _merge_same_actions(actions: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct action on a component: the same resize asked for by its CPU, memory and
    connections, or by two of its servers, is one action, due by the earliest of their dates, with every
    reason."""
    joined = lambda values: ", ".join(dict.fromkeys(values))  # noqa: E731 - in order, once each
    merged = actions.groupby(["component", "action"], sort=False, as_index=False).agg(
        by=("by", "min"),
        instance=("instance", joined),
        metric=("metric", joined),
        monthly_cost_change=("monthly_cost_change", "first"),
        why=("why", lambda reasons: "; ".join(dict.fromkeys(reasons))),
        trustworthy=("trustworthy", "all"),
        cost_group=("cost_group", "first"),
    )
    return merged.sort_values(["by", "component"], kind="stable")[_ACTION_COLUMNS].reset_index(drop=True)


def _tier_actions(
    config: PlatformConfig, tier: str, demand_forecast: forecast.Forecast, plan: scaling.CapacityPlan | None
) -> list[dict[str, object]]:
    policy = config.scaling.horizontal
    current = config.components[tier].count
    limit = policy.cpu_threshold_percent  # the policy's "add a server when exceeded": the chart's lines too
    steps = server_steps(demand_forecast.frame, current, limit)
    price = config.unit_price(tier)
    rows: list[dict[str, object]] = []
    for step in steps.itertuples():
        if step.servers > policy.max_servers:
            break
        rows.append({
            "by": step.needed_from, "component": tier, "instance": "all", "metric": "cpu",
            "action": f"run {step.servers} {tier} servers (add {_ordinal(step.servers)})",
            "monthly_cost_change": price * (step.servers - current),
            "why": f"forecast daily peak load (80 % upper bound) needs {step.servers} servers to stay under "
                   f"{limit:g} % CPU each, the policy's add-a-server threshold",
            "trustworthy": demand_forecast.trustworthy, "cost_group": f"fleet {tier}",
        })  # fmt: skip
    if plan is not None and plan.best is not None:
        breach = plan.breach.loc["hi80"] if "hi80" in plan.breach.index else None
        date = breach["threshold_date"] if breach is not None else None  # the date the planning sentence gives
        if date is not None and pd.notna(date):
            rows.append({
                "by": pd.Timestamp(date), "component": tier, "instance": "all", "metric": "cpu",
                "action": f"even {policy.max_servers} {tier} servers will not carry the load: {plan.recommendation}",
                "monthly_cost_change": float(plan.best["monthly_change"]),
                "why": f"forecast load (80 % upper bound) runs the maximum of {policy.max_servers} servers above "
                       f"{limit:g} % CPU each",
                "trustworthy": demand_forecast.trustworthy, "cost_group": f"fleet {tier}",
            })  # fmt: skip
    return rows


def _redis_policy_actions(config: PlatformConfig, status: pd.DataFrame, today: pd.Timestamp) -> list[dict[str, object]]:
    """The [redis] action thresholds that hold now (hit ratio, evictions, clients), as the policy words them.
    Memory is acted on from its forecast (``_crossing_actions``), which also covers a level already passed."""
    rows: list[dict[str, object]] = []
    triggered = status[
        status["metric"].isin(list(REDIS_STATUS_ACTIONS)) & status["status"].isin(["warning", "critical"])
    ]
    for row in triggered.itertuples():
        rows.append({
            "by": today, "component": row.component, "instance": row.instance, "metric": row.metric,
            "action": REDIS_STATUS_ACTIONS[str(row.metric)].format(where=f"{row.component}/{row.instance}"),
            "monthly_cost_change": 0.0, "why": f"Redis policy: {row.detail}", "trustworthy": True,
        })  # fmt: skip
    return rows


def _certificate_actions(config: PlatformConfig, status: pd.DataFrame, today: pd.Timestamp) -> list[dict[str, object]]:
    """A certificate in its warning or critical band: renew it before it expires. Due today once critical, else
    by the day it would turn critical (expiry minus the critical days)."""
    band = config.indicators.get(CERTIFICATE_METRIC)
    rows: list[dict[str, object]] = []
    if band is None:
        return rows
    due = status[(status["metric"] == CERTIFICATE_METRIC) & status["status"].isin(["warning", "critical"])]
    for row in due.itertuples():
        if pd.isna(row.value) or pd.isna(row.ts):
            continue
        expires = pd.Timestamp(row.ts) + pd.Timedelta(days=float(row.value))
        expiry_day = pd.Timestamp(expires.tz_convert(config.tz).date())
        by = today if row.status == "critical" else max(today, expiry_day - pd.Timedelta(days=band.critical))
        rows.append({
            "by": by, "component": row.component, "instance": row.instance, "metric": CERTIFICATE_METRIC,
            "action": f"renew the certificate of {row.instance} before {expiry_day:%Y-%m-%d}",
            "monthly_cost_change": 0.0, "trustworthy": True,
            "why": f"it expires {expires.tz_convert(config.tz):%Y-%m-%d %H:%M %Z}, in {float(row.value):.0f} days "
                   f"({row.status}: under {band.warning:g} days is warning, under {band.critical:g} critical)",
        })  # fmt: skip
    return rows


def _target_down_actions(config: PlatformConfig, status: pd.DataFrame, today: pd.Timestamp) -> list[dict[str, object]]:
    """A scrape target down: name the server and since when; the tier meanwhile runs on the servers that answer."""
    rows: list[dict[str, object]] = []
    for row in status[(status["metric"] == TARGET_METRIC) & (status["status"] == "critical")].itertuples():
        since = f" since {pd.Timestamp(row.since).tz_convert(config.tz):%Y-%m-%d %H:%M}" if pd.notna(row.since) else ""
        rows.append({
            "by": today, "component": row.component, "instance": row.instance, "metric": TARGET_METRIC,
            "action": f"bring {row.instance} back: a scrape target of {row.component} is down{since}",
            "monthly_cost_change": 0.0, "trustworthy": True, "why": str(row.detail),
        })  # fmt: skip
    return rows


def _crossing_actions(
    config: PlatformConfig, tier: str, crossings: pd.DataFrame, today: pd.Timestamp
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    # the [redis] levels are the policy's action thresholds ("> 80 %: increase size"), not early warnings
    acting = np.where(
        crossings["metric"].isin(list(POLICY_LEVEL_METRICS)),
        crossings["threshold"] == "warning",
        crossings["threshold"].isin(["critical", "full"]),
    )
    # by the earliest date, as the action is dated: an action due within the horizon is in every report that
    # looks that far, whether or not the likely path also crosses within it
    relevant = crossings[acting & (crossings["earliest"].notna() | crossings["likely"].notna() | crossings["already"])]
    for row in relevant.itertuples():
        if row.component == tier and row.metric == "cpu":
            continue  # the tier's CPU is answered by adding servers
        first = row.earliest if pd.notna(row.earliest) else row.likely
        by = max(pd.Timestamp(first), today) if pd.notna(first) else today
        resource = _RESOURCE_OF_METRIC.get(row.metric)
        cost, what = None, None
        if row.metric == "disk":
            what = f"grow the disk of {row.component}/{row.instance} (or clean up) before it reaches {row.level:g} %"
        elif resource is not None:
            size = scaling.recommend_size(config, row.component, resource)
            if size is not None:
                name, spec = size
                count = config.components[row.component].count
                cost = (spec.monthly_price - config.unit_price(row.component)) * count
                what = f"resize {row.component} to {name} ({spec.vcpu} vCPU, {spec.ram_gb:g} GB)"
            else:
                what = f"add capacity to {row.component}: {row.metric} heads past {row.level:g} %"
            if row.metric == "redis_memory":  # a share of maxmemory: a bigger server alone does not raise it
                what = (
                    f"give Redis on {row.component}/{row.instance} more memory: raise maxmemory if the server has "
                    f"RAM to spare, else {what} and raise maxmemory with it"
                )
        if what is None:
            continue
        rows.append({
            "by": by, "component": row.component, "instance": row.instance, "metric": row.metric, "action": what,
            "monthly_cost_change": cost, "why": _crossing_reason(row), "trustworthy": bool(row.trustworthy),
            "cost_group": _size_group(row.component, tier) if cost is not None else None,
        })  # fmt: skip
    return rows


def _crossing_reason(row: Any) -> str:
    """'forecast: redis_memory of redis-1 at 90 % (critical) around 2026-12-02 (earliest 2026-11-29, latest
    2026-12-05)': the likely date first, the range after, in words a manager reads; or, for a level already
    passed, that the last daily peak is past it."""

    def day(stamp: Any) -> str:
        return f"{pd.Timestamp(stamp):%Y-%m-%d}" if pd.notna(stamp) else "beyond the forecast"

    level = "the policy's action level" if row.metric in POLICY_LEVEL_METRICS else row.threshold
    if bool(row.already):
        return f"{row.metric} of {row.instance}: the last daily peak is already past {row.level:g} % ({level})"
    if pd.isna(row.likely):
        return (
            f"forecast: {row.metric} of {row.instance} may reach {row.level:g} % ({level}) from {day(row.earliest)} "
            "(the forecast's upper band; the likely path stays below it within the horizon)"
        )
    return (
        f"forecast: {row.metric} of {row.instance} at {row.level:g} % ({level}) around {day(row.likely)} "
        f"(earliest {day(row.earliest)}, latest {day(row.latest)})"
    )


def _ordinal(number: int) -> str:
    words = {2: "a second", 3: "a third", 4: "a fourth", 5: "a fifth", 6: "a sixth"}
    return words.get(number, f"server #{number}")
