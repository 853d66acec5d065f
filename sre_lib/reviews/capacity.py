"""The capacity review: health, forecasts, scaling and cost combined into a verdict and dated actions.

This is what the capacity report shows a manager first. Every number in it comes from the tested analyses
(health, forecast, scaling); this module only joins them and decides what to say:

* verdict: **critical** when an indicator is critical now or a critical threshold is likely crossed within
  ``URGENT_DAYS``; **warning** when something is in its warning band now, a configured component has no data,
  or a critical crossing is likely within the forecast horizon; **healthy** otherwise.
* actions, earliest first: add app servers before the forecast load needs them (with the monthly cost),
  resize a server before its CPU or memory is likely to cross critical (next catalogue size and its price),
  grow a disk before it is likely to fill, answer a vertical trigger that fired within the last
  ``TRIGGER_RECENT_DAYS`` (one that fired earlier in the window and not since is listed, ``recent`` False, but
  is not an action: a breach weeks ago on a server healthy now is not "consistent"), and say when even the
  maximum number of app servers will not carry the load.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from sre_lib.analysis import forecast, health, queueing, scaling
from sre_lib.analysis.predict_linear import linear_time_to_threshold
from sre_lib.analysis.signals import capacity_signal, daily_signal
from sre_lib.analysis.thresholds import thresholds_for, time_to_threshold_many
from sre_lib.config import PlatformConfig
from sre_lib.durations import human_duration, to_utc
from sre_lib.errors import DataError
from sre_lib.reviews.blocks import money
from sre_lib.warehouse.series import read_samples, sample_coverage
from sre_lib.warehouse.store import scalar

URGENT_DAYS = 14
CHARTED_SERIES = 8  # forecast charts a capacity report draws at most
EPISODE_ONGOING_SLACK = pd.Timedelta(minutes=5)  # an episode ending this close to as_of is still going on
# Metrics whose warning level is the policy's action threshold ([redis]: "> 80 %: increase size").
POLICY_LEVEL_METRICS = frozenset({"redis_memory"})
# What the [redis] policy says to do when a trigger holds now (seed: Cache Management, Redis Monitoring).
REDIS_STATUS_ACTIONS = {
    "redis_hit_ratio": "review the caching strategy of Redis on {where}: what is cached, TTLs, key design",
    "redis_evictions": "add Redis capacity on {where}: evictions are rising",
    "redis_clients": "look for connection-pool problems with Redis on {where}: clients are near maxclients",
}
TRIGGER_RECENT_DAYS = 7
# Holes of up to this many samples in a row are bridged (the value carried forward); a longer one is a gap in
# the analyses (unknown, never zero load) and a note in the report.
BRIDGED_SAMPLES = 5
DATA_NOTES_SHOWN = 8  # coverage notes a report lists before it counts the rest
ALERT_WINDOW = timedelta(days=7)  # the range a predict_linear disk alert would typically look back over
FORECAST_METRICS = ("cpu", "memory", "disk", "db_connections", "redis_memory")
CROSSING_COLUMNS = (
    "threshold", "level", "direction", "earliest", "likely", "latest", "already", "summary", "trustworthy", "reason",
)  # fmt: skip
_RESOURCE_OF_METRIC = {"cpu": "vcpu", "memory": "ram_gb", "redis_memory": "ram_gb", "db_connections": "vcpu"}
_ACTION_COLUMNS = [
    "by", "component", "instance", "metric", "action", "monthly_cost_change", "why", "trustworthy", "cost_group",
]  # fmt: skip
# cost_group: actions that are alternatives or steps of one change (the fleet size of a tier, the size of one
# component) share one, and only the dearest of a group counts in the total; an action alone has its own.


@dataclass(frozen=True)
class LatencyPlan:
    """How many app servers keep p95 response time under the latency band at the forecast peak (M/M/c).

    Each vCPU of an app server is one queueing server; the service time is the CPU-seconds per request
    measured over the window (busy vCPUs over requests per second).
    """

    peak_rate_per_s: float
    service_time_ms: float
    vcpu_per_server: int
    target_p95_ms: float
    current_servers: int
    p95_at_current_ms: float
    servers_needed: int

    def __str__(self) -> str:
        now = "overloaded" if math.isinf(self.p95_at_current_ms) else f"{self.p95_at_current_ms:.0f} ms"
        peak = (
            f"at the forecast peak of {self.peak_rate_per_s:,.0f} requests/s ({self.service_time_ms:.1f} ms of CPU "
            "each)"
        )
        if self.servers_needed > self.current_servers:
            return (
                f"{peak}, p95 latency stays under {self.target_p95_ms:g} ms with {self.servers_needed} app servers; "
                f"with today's {self.current_servers} it would be {now}"
            )
        enough = (
            f"; {self.servers_needed} would be enough for latency alone"
            if self.servers_needed < self.current_servers
            else ""
        )
        return (
            f"{peak}, today's {self.current_servers} app servers keep p95 latency at {now}, under the "
            f"{self.target_p95_ms:g} ms target{enough} (the CPU policy above may still ask for more)"
        )


@dataclass(frozen=True)
class CapacityReview:
    """Everything the capacity report shows, computed once. ``actions`` is the short list for a manager."""

    as_of: datetime
    window_start: datetime
    horizon_days: int
    config: PlatformConfig = field(repr=False)
    status: pd.DataFrame = field(repr=False)
    rollup: health.HealthRollup = field(repr=False)
    time_in_bands: pd.DataFrame = field(repr=False)
    episodes: pd.DataFrame = field(repr=False)
    signals: pd.DataFrame = field(repr=False)
    forecasts: pd.DataFrame = field(repr=False)
    crossings: pd.DataFrame = field(repr=False)
    demand_forecast: forecast.Forecast | None = field(repr=False)
    simulations: tuple[scaling.SimulationResult, ...] = field(repr=False)
    plan: scaling.CapacityPlan | None = field(repr=False)
    vertical: pd.DataFrame = field(repr=False)
    actions: pd.DataFrame = field(repr=False)
    alert_view: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    latency: LatencyPlan | None = None
    data_start: datetime | None = None  # the first sample inside the window (later than window_start: less history)
    spans: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)  # sample_coverage spans in the window
    gaps: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)  # holes over BRIDGED_SAMPLES in the window
    verdict: str = "healthy"
    headline: str = ""

    def __repr__(self) -> str:
        lines = [f"CapacityReview as of {self.as_of:%Y-%m-%d %H:%M %Z}: {self.verdict.upper()}: {self.headline}"]
        lines += [f"  - {row.by:%Y-%m-%d}: {row.action}" for row in self.actions.itertuples() if pd.notna(row.by)]
        return "\n".join(lines)

    @property
    def policy_comparison(self) -> pd.DataFrame:
        return scaling.compare(list(self.simulations)) if self.simulations else pd.DataFrame()

    @property
    def monthly_cost(self) -> float:
        """What the inventory costs now, per month."""
        return self.config.monthly_cost()

    @property
    def monthly_cost_change(self) -> float:
        """What the dated actions add per month, when all are taken (unknown costs count as 0). Each row's cost
        is against today; of the steps of one change (run 3, then 4 app servers; resizing one component for
        its CPU and for its memory) only the dearest counts, not their sum."""
        if self.actions.empty:
            return 0.0
        costs = self.actions["monthly_cost_change"].astype("float64").fillna(0.0)
        return float(costs.groupby(self.actions["cost_group"], sort=False).max().sum())

    def series_forecast(self, component: str, instance: str, metric: str) -> pd.DataFrame:
        """History and forecast of one series in ``Forecast.to_frame()`` shape (date, kind, value, mean, bands)."""

        def pick(frame: pd.DataFrame) -> pd.DataFrame:
            chosen = (frame["component"] == component) & (frame["instance"] == instance) & (frame["metric"] == metric)
            return frame[chosen]

        history = pick(self.signals)[["date", "value"]].assign(kind="history")
        future = pick(self.forecasts)[["date", "mean", "lo80", "hi80", "lo95", "hi95"]].assign(kind="forecast")
        return pd.concat([history, future], ignore_index=True)

    def period(self) -> str:
        """The judged window and the forecast horizon in words, in the platform's time zone."""
        tz = self.config.tz
        days = round((self.as_of - self.window_start).total_seconds() / 86_400)
        held = ""
        if self.data_start is not None and self.data_start - self.window_start > timedelta(days=1):
            history, begin = self.as_of - self.data_start, self.data_start.astimezone(tz)
            if history >= timedelta(days=3):
                held = (
                    f" (samples begin {begin:%Y-%m-%d}: {round(history / timedelta(days=1))} days of them, not {days})"
                )
            else:  # under a day reads "0 days": say the hours
                held = f" (samples begin {begin:%Y-%m-%d %H:%M}: {human_duration(history)} of them, not {days} days)"
        return (
            f"Status, time in bands, episodes and the policy replay cover the {days} days to "
            f"{self.as_of.astimezone(tz):%Y-%m-%d %H:%M %Z}{held}; forecasts look {self.horizon_days} days ahead."
        )

    def data_notes(self, limit: int = DATA_NOTES_SHOWN) -> list[str]:
        """Where samples are missing in the window, in words: a stretch without samples longer than
        ``BRIDGED_SAMPLES`` ("app/app-2 cpu: 10 min without samples on 2026-11-20 from 03:10", or a count and
        the longest when there are several), a series that begins after the others (a new server) or ends
        before them (one removed or no longer scraped). Series with the same holes share a line (a collector that
        was down for all); past ``limit`` lines, the rest are counted."""
        lines = _coverage_lines(self.spans, self.gaps, self.config, self.data_start)
        if len(lines) <= limit:
            return lines
        return [*lines[: limit - 1], f"and {len(lines) - limit + 1} more servers or series with missing samples"]

    def forecast_notes(self) -> list[str]:
        """Series the review could not forecast, and why ("needs more history"): one line when none could be;
        and that no threshold is reached, when none is."""
        if self.signals.empty or self.forecasts.empty:
            return [
                "No forecast: a forecast needs daily peaks of at least "
                f"{forecast.MIN_POINTS} days, and the window holds {self._history_text()} of samples."
            ]
        keys = ["component", "instance", "metric"]
        failed = self.forecasts[self.forecasts["date"].isna()].drop_duplicates(keys)
        if len(failed) == self.forecasts.drop_duplicates(keys).shape[0]:
            return [
                f"No forecast yet, every series needs more history: {self._history_text()} of samples, and a "
                f"forecast needs daily peaks of at least {forecast.MIN_POINTS} full days."
            ]
        notes = [f"{row.component}/{row.instance} {row.metric}: not forecast, {row.reason}" for row in
                 failed.itertuples()]  # fmt: skip
        if self.crossing_rows().empty:
            notes.append(f"No forecast reaches a threshold within the {self.horizon_days}-day horizon.")
        return notes

    def crossing_rows(self) -> pd.DataFrame:
        """The crossings a report lists: those the forecast's likely path or its upper band reach."""
        if self.crossings.empty:
            return self.crossings
        return self.crossings[self.crossings["likely"].notna() | self.crossings["earliest"].notna()]

    def _history_text(self) -> str:
        if self.data_start is None:
            return "no days"
        return human_duration(self.as_of - self.data_start)

    def series_to_chart(self, limit: int = CHARTED_SERIES) -> list[tuple[str, str, str]]:
        """The (component, instance, metric) series a report draws, at most ``limit``: first those whose forecast
        mean reaches critical (or full) within the horizon, soonest first; then those already in a band; then a
        likely warning; last those only the outer band reaches. Derived from the data, so a platform with other
        servers than the demo's gets its own charts."""
        if self.crossings.empty:
            return []
        found = self.crossings[self.crossings["already"] | self.crossings["earliest"].notna()]
        severe = found["threshold"].isin(["critical", "full"])
        likely = found["likely"].notna() & ~found["already"]
        group = np.select([likely & severe, found["already"], likely], [0, 1, 2], default=3)
        when = found["likely"].where(likely, found["earliest"]).where(~found["already"], pd.Timestamp.min)
        ranked = found.assign(_group=group, _severe=~severe, _when=when.fillna(pd.Timestamp.max)).sort_values(
            ["_group", "_severe", "_when", "component", "instance", "metric"], kind="stable"
        )
        keys = ranked[["component", "instance", "metric"]].drop_duplicates().head(limit)
        return [tuple(row) for row in keys.itertuples(index=False, name=None)]

    def unit_of(self, metric: str) -> str:
        """The configured unit of a metric, for axis titles."""
        indicator = health.indicator_bands(self.config).get(metric)  # Redis bands come from [redis]
        return indicator.unit if indicator is not None else ""

    @property
    def planning(self) -> str:
        """The planning question in one sentence: until when can the maximum number of servers carry the load?"""
        if self.plan is None or self.demand_forecast is None:
            if self.simulations:  # load was seen, too little of it for the daily peaks a forecast needs
                return (
                    f"Not enough app-tier load history to plan from yet: the forecast needs daily peaks of at least "
                    f"{forecast.MIN_POINTS} full days ({self._history_text()} of samples in the window)."
                )
            return "No app-tier load history to plan from."
        policy = self.config.scaling.horizontal
        tier = policy.component
        horizon_end = self.demand_forecast.frame["date"].max()
        breach = self.plan.breach.loc["hi80"] if "hi80" in self.plan.breach.index else None
        if breach is None or pd.isna(breach["threshold_date"]):
            current = self.plan.options[self.plan.options["size"] == self.plan.current_size]
            needed = int(current["servers_needed"].iloc[0]) if not current.empty else policy.max_servers
            return (
                f"At the forecast peak ({self.plan.peak_demand:.0f} % CPU summed over the tier, 80 % upper bound, on "
                f"{self.plan.peak_date:%Y-%m-%d}) {needed} {tier} server{'s' if needed > 1 else ''} of the current "
                f"size stay under {policy.cpu_threshold_percent:g} % CPU each: the policy's maximum of "
                f"{policy.max_servers} carries the load through {horizon_end:%Y-%m-%d}."
            )
        return (
            f"From {breach['threshold_date']:%Y-%m-%d} even {policy.max_servers} {tier} servers run above "
            f"{policy.cpu_threshold_percent:g} % CPU at the forecast peak: {self.plan.recommendation}."
        )

    def tier_capacity_lines(self) -> dict[str, float]:
        """Load each server count carries at the scale-out threshold, for the tier's load chart."""
        policy = self.config.scaling.horizontal
        return {
            f"{n} server{'s' if n > 1 else ''} at {policy.cpu_threshold_percent:g} %": n * policy.cpu_threshold_percent
            for n in range(1, policy.max_servers + 1)
        }

    def thresholds(self, metric: str) -> dict[str, float]:
        """The warning / critical levels of a metric (and 100 % for disks), as the charts draw them."""
        band = health.indicator_bands(self.config).get(metric)
        return thresholds_for(band, full=100.0 if metric == "disk" else None) if band else {}


def capacity_review(
    con: duckdb.DuckDBPyConnection,
    config: PlatformConfig,
    as_of: datetime | None = None,
    window_days: int = 30,
    horizon_days: int = 90,
    tier: str | None = None,
    components: Sequence[str] | str | None = None,
) -> CapacityReview:
    """Review capacity as of ``as_of`` (default: the newest sample) over the last ``window_days``.

    ``components`` limits the review to some keys of [components] (default: all of them); a text is one key,
    or several separated by commas (as ``-p components=app,redis`` gives it).
    """
    if isinstance(components, str):
        components = [name.strip() for name in components.split(",") if name.strip()]
    if window_days <= 0 or horizon_days <= 0:
        raise DataError(f"capacity review: window_days and horizon_days must be positive, got {window_days}, "
                        f"{horizon_days}")  # fmt: skip
    newest = con.execute("SELECT max(ts) FROM metric_samples").fetchall()[0][0]
    if newest is None:
        raise DataError("capacity review: the warehouse holds no metric samples (run sre demo or sre collect)")
    end = pd.Timestamp(as_of if as_of is not None else newest)
    end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
    start = end - pd.Timedelta(days=window_days)
    data_start = _first_sample_in(con, start, end, config)
    tier = tier or config.scaling.horizontal.component
    if components is not None:
        unknown = sorted(set(components) - set(config.components))
        if unknown:
            raise DataError(f"capacity review: unknown components {unknown}; expected keys of [components] "
                            f"({', '.join(config.components)})")  # fmt: skip
    names = list(components) if components is not None else list(config.components)
    view = config.model_copy(update={"components": {name: config.components[name] for name in names}})

    def chosen(frame: pd.DataFrame) -> pd.DataFrame:
        if components is None or frame.empty:
            return frame
        return frame[frame["component"].isin(list(components))].reset_index(drop=True)

    coverage = sample_coverage(con, start, end, components=names, min_missing=BRIDGED_SAMPLES + 1)
    status = chosen(health.current_status(con, config, as_of=end))
    rollup = health.rollup(status, view)
    bands = chosen(health.time_in_bands(con, config, start, end))
    episodes = chosen(health.episodes(con, config, start, end))
    rollup = replace(rollup, components=_since_from_episodes(rollup.components, episodes, start, end))

    signals = chosen(daily_signal(con, config, metrics=list(FORECAST_METRICS), end=end))
    keys = ["series_id", "component", "instance", "metric"]
    forecasts = (
        forecast.forecast_many(signals, horizon=horizon_days, keys=keys, bounds=(0.0, 100.0), workers=1)
        if not signals.empty
        else pd.DataFrame()
    )
    crossings = _crossings(forecasts, signals, config)

    demand = _tier_demand(con, tier, end) if tier in view.components else None
    demand_forecast, simulations, plan = _tier_scaling(config, tier, demand, start, horizon_days)
    window_samples = chosen(read_samples(con, metrics=["cpu", "memory", "db_connections"], start=start, end=end))
    vertical = chosen(scaling.vertical_triggers(window_samples, config)) if not window_samples.empty else pd.DataFrame()
    if not vertical.empty:
        recent_since = end - pd.Timedelta(days=TRIGGER_RECENT_DAYS)
        vertical["recent"] = [bool(fires) and last >= recent_since for fires, last in
                              zip(vertical["fires"], vertical["last_fired"], strict=True)]  # fmt: skip

    latency = _latency_plan(con, config, tier, demand, start, end, horizon_days)
    alert_view = disk_alert_view(con, config, end, crossings)
    actions = _actions(config, tier, end, crossings, demand_forecast, plan, vertical, status)
    verdict, headline = _verdict(rollup, actions, crossings, end)
    return CapacityReview(
        as_of=end.to_pydatetime(), window_start=start.to_pydatetime(), horizon_days=horizon_days, config=config,
        status=status, rollup=rollup, time_in_bands=bands, episodes=episodes, signals=signals, forecasts=forecasts,
        crossings=crossings, demand_forecast=demand_forecast, simulations=simulations, plan=plan,
        vertical=vertical, actions=actions, alert_view=alert_view, latency=latency, verdict=verdict, headline=headline,
        data_start=data_start, spans=coverage.spans, gaps=coverage.gaps,
    )  # fmt: skip


def _since_from_episodes(
    components: pd.DataFrame, episodes: pd.DataFrame, window_start: pd.Timestamp, as_of: pd.Timestamp
) -> pd.DataFrame:
    """The current status reads only the last 24 h: where a component's state already held then, take the start
    of its ongoing episode in the window instead (still "clipped" if that is the window's start)."""
    if components.empty or episodes.empty or "since_clipped" not in components:
        return components
    out = components.copy()
    ongoing = episodes[pd.to_datetime(episodes["end"], utc=True) >= as_of - EPISODE_ONGOING_SLACK]
    for index, row in out[out["since_clipped"].fillna(False).astype(bool)].iterrows():
        mine = ongoing[(ongoing["component"] == row["component"]) & (ongoing["instance"] == row["instance"])
                       & (ongoing["metric"] == row["metric"]) & (ongoing["status"] == str(row["status"]))]  # fmt: skip
        if mine.empty:
            continue
        began = pd.to_datetime(mine["start"], utc=True).max()
        out.at[index, "since"] = began
        out.at[index, "since_clipped"] = bool(began <= window_start)
    return out


def _crossings(forecasts: pd.DataFrame, signals: pd.DataFrame, config: PlatformConfig) -> pd.DataFrame:
    """Crossing dates per series, with the same bands the health classification uses (Redis included);
    ``already`` judged on each series' last daily value."""
    keys = ["component", "instance", "metric"]
    if forecasts.empty:
        return pd.DataFrame(columns=[*keys, *CROSSING_COLUMNS])
    last = signals.sort_values("date").groupby(keys, sort=False).tail(1)[[*keys, "value"]]
    banded = config.model_copy(update={"indicators": health.indicator_bands(config)})
    found = time_to_threshold_many(forecasts, banded, keys=keys, last_values=last)
    return found if not found.empty else pd.DataFrame(columns=[*keys, *CROSSING_COLUMNS])  # every column, no rows


def disk_alert_view(
    con: duckdb.DuckDBPyConnection, config: PlatformConfig, end: pd.Timestamp, crossings: pd.DataFrame,
    window: timedelta = ALERT_WINDOW,
) -> pd.DataFrame:  # fmt: skip
    """When each disk reaches its critical level by ``predict_linear`` over the last ``window``, next to the
    forecast's likely date: what an alert rule would say against what the forecast says. ``value_now`` is the
    line's value at ``end`` and ``trend`` its slope in percentage points a day, saying how much history it is
    drawn from when that is a day or more short of ``window`` (a young warehouse)."""
    band = config.indicators.get("disk")
    samples = read_samples(con, metrics=["disk"], start=end - window, end=end)
    if band is None or samples.empty:
        return pd.DataFrame()
    rows = []
    for (component, instance), group in samples.groupby(["component", "instance"], sort=True):
        line = linear_time_to_threshold(group["ts"], group["value"].to_numpy(), band.critical, eval_time=end,
                                        window=window)  # fmt: skip
        likely = pd.NaT
        if not crossings.empty:
            match = crossings[(crossings["component"] == component) & (crossings["instance"] == instance)
                              & (crossings["metric"] == "disk") & (crossings["threshold"] == "critical")]  # fmt: skip
            likely = match["likely"].iloc[0] if not match.empty else pd.NaT
        trend = f"{line.slope_per_second * 86_400:+.2f} points a day"
        covered = pd.Timestamp(group["ts"].max()) - pd.Timestamp(group["ts"].min())
        if covered < window - timedelta(days=1):
            trend += f" (from {human_duration(covered)} of samples)"
        rows.append({
            "component": component, "instance": instance, "level": band.critical, "value_now": line.value_at_eval,
            "trend": trend, "predict_linear_date": line.crosses_at,
            "forecast_likely_date": likely, "predict_linear": str(line),
        })  # fmt: skip
    return pd.DataFrame(rows)


def tier_daily_peak(demand: pd.Series, config: PlatformConfig) -> pd.DataFrame:
    """The tier's daily peak demand (server-CPU-%) per local day, partial days dropped: date, value."""
    frame = pd.DataFrame({"ts": demand.index, "value": demand.to_numpy()})
    return capacity_signal(frame, config, stat="max")


def _tier_demand(con: duckdb.DuckDBPyConnection, tier: str, end: pd.Timestamp) -> pd.Series | None:
    """The tier's load (sum of its servers' CPU %) over all history up to ``end``; None without samples."""
    samples = read_samples(con, metrics=["cpu"], components=[tier], end=end)
    return scaling.tier_demand(samples, component=tier, fill_limit=BRIDGED_SAMPLES) if not samples.empty else None


def _tier_scaling(
    config: PlatformConfig, tier: str, demand: pd.Series | None, start: pd.Timestamp, horizon_days: int
) -> tuple[forecast.Forecast | None, tuple[scaling.SimulationResult, ...], scaling.CapacityPlan | None]:
    if demand is None:
        return None, (), None
    window = demand[demand.index > start]
    simulations: tuple[scaling.SimulationResult, ...] = ()
    if window.notna().sum() > 1:
        simulations = (
            scaling.simulate(window, config, component=tier),
            scaling.simulate(window, config, scaling.HpaPolicy.from_config(config), component=tier),
        )
    peaks = tier_daily_peak(demand, config)
    if len(peaks) < 3:
        return None, simulations, None
    demand_forecast = forecast.forecast(peaks, horizon=horizon_days)
    plan = scaling.capacity_plan(demand_forecast.frame, config)
    return demand_forecast, simulations, plan


def _latency_plan(
    con: duckdb.DuckDBPyConnection, config: PlatformConfig, tier: str, demand: pd.Series | None,
    start: pd.Timestamp, end: pd.Timestamp, horizon_days: int,
) -> LatencyPlan | None:  # fmt: skip
    """The M/M/c answer for the tier, when request rates and CPU are both collected for it."""
    size = config.component_size(tier)
    if demand is None or size is None or "latency_p95" not in config.indicators:
        return None
    rates = read_samples(con, metrics=["request_rate"], components=[tier], end=end)
    if rates.empty:
        return None
    rate = rates.groupby("ts")["value"].sum()
    service_time = scaling.estimate_service_time(demand[demand.index >= start], rate[rate.index > start], size.vcpu)
    peaks = capacity_signal(rates.groupby("ts", as_index=False)["value"].sum(), config, stat="max")
    if len(peaks) < 3 or service_time <= 0:
        return None
    predicted = forecast.forecast(peaks, horizon=horizon_days)
    peak_rate = float(predicted.frame["hi80"].max())
    target_ms = config.indicators["latency_p95"].warning
    current = config.components[tier].count
    try:
        needed = queueing.servers_for_p95(peak_rate, service_time, target_ms / 1000, per_server_concurrency=size.vcpu)
    except DataError:
        return None
    p95_now = queueing.p95_response_time(peak_rate, service_time, current * size.vcpu) * 1000
    return LatencyPlan(peak_rate, service_time * 1000, size.vcpu, target_ms, current, p95_now, needed)


def actions_table(review: CapacityReview) -> pd.DataFrame:
    """The action list as a manager reads it: local dates, money with currency, plain column names."""
    currency = review.config.platform.currency
    frame = review.actions.copy()
    frame["by"] = frame["by"].map(lambda day: f"{day:%a %d %b %Y}" if pd.notna(day) else "")
    frame["monthly_cost_change"] = frame["monthly_cost_change"].map(lambda value: money(value, currency))
    frame["trustworthy"] = frame["trustworthy"].map(lambda ok: "" if ok else "forecast not trustworthy")
    renamed = frame.rename(
        columns={"action": "what to do", "monthly_cost_change": "cost / month", "trustworthy": "caveat"}
    )
    return renamed[["by", "component", "what to do", "cost / month", "why", "caveat"]]


def policy_table(review: CapacityReview) -> pd.DataFrame:
    """The scaling-policy replay as a manager reads it: one row per policy, whole minutes, money with currency;
    the minutes without load data too, when the window has any (no policy decides on them)."""
    if not review.simulations:
        return pd.DataFrame()
    currency = review.config.platform.currency
    frame = scaling.compare(list(review.simulations)).reset_index()
    minutes = ["warning_minutes", "critical_minutes", "no_data_minutes", "saturation_minutes"]
    shown = frame.assign(
        average_servers=frame["average_servers"].round(2),
        monthly_cost=frame["monthly_cost"].map(lambda value: money(value, currency, signed=False)),
        **{column: frame[column].round().astype("int64") for column in minutes},
    )
    shown.insert(1, "how", [result.policy.describe() for result in review.simulations])
    labels = {
        "policy": "policy", "how": "how it scales", "scale_outs": "servers added", "scale_ins": "servers removed",
        "average_servers": "average servers", "peak_servers": "peak servers", "warning_minutes": "minutes warning",
        "critical_minutes": "minutes critical", "no_data_minutes": "minutes without data",
        "saturation_minutes": "minutes saturated", "monthly_cost": "cost / month",
    }  # fmt: skip
    if not frame["no_data_minutes"].any():
        del labels["no_data_minutes"]
    return shown[list(labels)].rename(columns=labels)


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
    for row in status[status["status"] == "critical"].itertuples():
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


def _first_sample_in(
    con: duckdb.DuckDBPyConnection, start: pd.Timestamp, end: pd.Timestamp, config: PlatformConfig
) -> datetime:
    """The first sample time in (start, end]. A window without a single sample (an as_of before the data
    begins or after it ends) is refused, naming the span the warehouse holds, rather than failing later on
    the first empty analysis."""
    first_inside = to_utc(scalar(con, "SELECT min(ts) FROM metric_samples WHERE ts > ? AND ts <= ?", [start, end]))
    if first_inside is not None:
        return first_inside
    first, last = con.execute("SELECT min(ts), max(ts) FROM metric_samples").fetchall()[0]
    tz = config.tz

    def local(moment: Any) -> str:
        return f"{pd.Timestamp(moment).tz_convert(tz):%Y-%m-%d %H:%M %Z}"

    raise DataError(
        f"capacity review: no metric samples from {local(start)} to {local(end)} (as_of and window_days); the "
        f"warehouse holds {local(first)} to {local(last)}"
    )


def _coverage_lines(
    spans: pd.DataFrame, gaps: pd.DataFrame, config: PlatformConfig, data_start: datetime | None
) -> list[str]:
    """The lines of ``CapacityReview.data_notes``, every one; series with the same holes share a line."""
    if spans.empty:
        return []
    tz = config.tz
    begin = pd.Timestamp(data_start) if data_start is not None else spans["first_ts"].min()
    end = spans["last_ts"].max()

    def at(stamp: pd.Timestamp) -> str:
        return f"{stamp.tz_convert(tz):%Y-%m-%d %H:%M}"

    def stretch(hole: Any) -> str:
        local = hole.first_missing.tz_convert(tz)
        return f"{human_duration(hole.step * hole.missing)} without samples on {local:%Y-%m-%d} from {local:%H:%M}"

    found: dict[tuple[str, str, str], list[str]] = {}
    for row in spans.itertuples():
        bridged = (row.step if pd.notna(row.step) else pd.Timedelta(0)) * BRIDGED_SAMPLES
        holes = gaps[gaps["series_id"] == row.series_id] if not gaps.empty else gaps
        parts = []
        if row.first_ts - begin > bridged:
            parts.append(f"samples begin {at(row.first_ts)}, after the others'")
        if len(holes) == 1:
            parts.append(stretch(next(holes.itertuples())))
        elif len(holes) > 1:
            total = human_duration((holes["step"] * holes["missing"]).sum())
            longest = holes.loc[(holes["step"] * holes["missing"]).idxmax()]
            parts.append(f"{len(holes)} stretches without samples, {total} in all, the longest {stretch(longest)}")
        if end - row.last_ts > bridged:
            parts.append(f"no samples after {at(row.last_ts)}")
        if parts:
            found.setdefault("; ".join(parts), {}).setdefault(f"{row.component}/{row.instance}", []).append(row.metric)
    lines = []
    for text, servers in found.items():  # a collector down for everyone: one line, not one per server
        if len(servers) == 1:
            ((server, metrics),) = servers.items()
            lines.append(f"{server} {', '.join(metrics)}: {text}")
        else:
            named = ", ".join(list(servers)[:3]) + (", ..." if len(servers) > 3 else "")
            count = sum(len(metrics) for metrics in servers.values())
            lines.append(f"{count} series of {len(servers)} servers ({named}): {text}")
    return lines


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


def _verdict(
    rollup: health.HealthRollup, actions: pd.DataFrame, crossings: pd.DataFrame, as_of: pd.Timestamp
) -> tuple[str, str]:
    today = as_of.tz_convert("UTC").tz_localize(None).normalize()
    urgent = actions[(actions["by"] <= today + timedelta(days=URGENT_DAYS))] if not actions.empty else actions
    critical_soon = not crossings.empty and bool(
        (
            crossings["threshold"].isin(["critical", "full"])
            & crossings["likely"].notna()
            & (crossings["likely"] <= today + timedelta(days=URGENT_DAYS))
        ).any()
    )
    if rollup.status == "critical" or critical_soon:
        verdict = "critical"
    elif rollup.status in ("warning", "no data") or not actions.empty:
        verdict = "warning"  # a component we cannot see is not a healthy one
    else:
        verdict = "healthy"
    if not urgent.empty:
        first = urgent.iloc[0]
        headline = f"{first['action']} by {first['by']:%Y-%m-%d}"
    elif not actions.empty:
        first = actions.iloc[0]
        headline = f"{first['action']} by {first['by']:%Y-%m-%d}"
    elif rollup.status == "no data":
        silent = rollup.components.loc[rollup.components["status"] == "no data", "component"]
        headline = f"no data for {', '.join(silent)}: collect them before trusting this report"
    elif rollup.status != "healthy":
        headline = f"{rollup.cause}"
    else:
        headline = "every indicator is healthy and no threshold is likely crossed within the forecast horizon"
    return verdict, headline


def _ordinal(number: int) -> str:
    words = {2: "a second", 3: "a third", 4: "a fourth", 5: "a fifth", 6: "a sixth"}
    return words.get(number, f"server #{number}")
