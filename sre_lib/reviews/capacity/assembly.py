"""Assembling the capacity review: health, forecasts, scaling and cost read from the warehouse and joined.

Every number in the review comes from the tested analyses (health, forecast, scaling); this module only reads
the window, runs them and hands their results to the actions (``dated_actions``) and the verdict
(``capacity_verdict``). A vertical trigger that fired within the last ``TRIGGER_RECENT_DAYS`` is an action; one
that fired earlier in the window and not since is listed, ``recent`` False, but is not an action: a breach weeks
ago on a server healthy now is not "consistent".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from sre_lib.analysis import forecast, health, queueing, scaling
from sre_lib.analysis.signals import capacity_signal, daily_signal
from sre_lib.analysis.thresholds import time_to_threshold_many
from sre_lib.config import PlatformConfig
from sre_lib.durations import parse_duration, to_utc
from sre_lib.errors import DataError
from sre_lib.reviews.capacity.capacity_verdict import _verdict
from sre_lib.reviews.capacity.dated_actions import _actions
from sre_lib.reviews.capacity.disk_alerts import disk_alert_view
from sre_lib.reviews.capacity.review_model import CapacityReview, LatencyPlan
from sre_lib.reviews.capacity.review_notes import BRIDGED_SAMPLES
from sre_lib.warehouse.series import read_samples, sample_coverage
from sre_lib.warehouse.store import scalar

EPISODE_ONGOING_SLACK = pd.Timedelta(minutes=5)  # an episode ending this close to as_of is still going on
TRIGGER_RECENT_DAYS = 7
FORECAST_METRICS = ("cpu", "memory", "disk", "db_connections", "redis_memory")
CROSSING_COLUMNS = (
    "threshold", "level", "direction", "earliest", "likely", "latest", "already", "summary", "trustworthy", "reason",
)  # fmt: skip


def capacity_review(
    con: duckdb.DuckDBPyConnection,
    config: PlatformConfig,
    as_of: datetime | None = None,
    window_days: int = 30,
    horizon_days: int = 90,
    tier: str | None = None,
    components: Sequence[str] | str | None = None,
    window: timedelta | str | None = None,
) -> CapacityReview:
    """Review capacity as of ``as_of`` (default: the newest sample) over the last ``window`` (a duration, or a
    text such as ``6h`` or ``30d`` as ``-p window=6h`` gives it), else the last ``window_days``.

    ``components`` limits the review to some keys of [components] (default: all of them); a text is one key,
    or several separated by commas (as ``-p components=app,redis`` gives it).
    """
    if isinstance(components, str):
        components = [name.strip() for name in components.split(",") if name.strip()]
    if window_days <= 0 or horizon_days <= 0:
        raise DataError(f"capacity review: window_days and horizon_days must be positive, got {window_days}, "
                        f"{horizon_days}")  # fmt: skip
    span = parse_duration(window, "capacity review: window") if isinstance(window, str) else window
    if span is not None and span <= timedelta(0):
        raise DataError(f"capacity review: window must be a positive duration, got {span}")
    newest = con.execute("SELECT max(ts) FROM metric_samples").fetchall()[0][0]
    if newest is None:
        raise DataError("capacity review: the warehouse holds no metric samples (run sre demo or sre collect)")
    end = pd.Timestamp(as_of if as_of is not None else newest)
    end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
    start = end - (pd.Timedelta(span) if span is not None else pd.Timedelta(days=window_days))
    data_start = _first_sample_in(con, start, end, config, "window" if span is not None else "window_days")
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

    samples_seen = sample_coverage(con, start, end, components=names, min_missing=BRIDGED_SAMPLES + 1)
    status = chosen(health.current_status(con, config, as_of=end))
    rollup = health.rollup(status, view)
    collected = con.execute("SELECT DISTINCT component, metric FROM metric_series").fetchall()
    coverage = health.coverage(status, view, collected=[(str(c), str(m)) for c, m in collected])
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
        data_start=data_start, spans=samples_seen.spans, gaps=samples_seen.gaps, coverage=coverage,
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


def _first_sample_in(
    con: duckdb.DuckDBPyConnection, start: pd.Timestamp, end: pd.Timestamp, config: PlatformConfig, window: str
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
        f"capacity review: no metric samples from {local(start)} to {local(end)} (as_of and {window}); the "
        f"warehouse holds {local(first)} to {local(last)}"
    )
