"""The capacity review's result: what the capacity report shows, computed once, and the M/M/c latency answer.

The dataclasses only hold and word what ``assembly.capacity_review`` computed; the sentences about missing data,
the verdict and the plan live in ``review_notes`` and ``capacity_verdict``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from sre_lib.analysis import forecast, health, scaling
from sre_lib.analysis.thresholds import thresholds_for
from sre_lib.config import PlatformConfig
from sre_lib.reviews.capacity.capacity_verdict import planning_sentence
from sre_lib.reviews.capacity.review_notes import (
    DATA_NOTES_SHOWN,
    coverage_lines,
    forecast_note_lines,
    period_text,
)

CHARTED_SERIES = 8  # forecast charts a capacity report draws at most


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
    coverage: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)  # health.coverage: not monitored too
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
        return period_text(self)

    def data_notes(self, limit: int = DATA_NOTES_SHOWN) -> list[str]:
        """Where samples are missing in the window, in words: a stretch without samples longer than
        ``BRIDGED_SAMPLES`` ("app/app-2 cpu: 10 min without samples on 2026-11-20 from 03:10", or a count and
        the longest when there are several), a series that begins after the others (a new server) or ends
        before them (one removed or no longer scraped). Series with the same holes share a line (a collector that
        was down for all); past ``limit`` lines, the rest are counted."""
        lines = coverage_lines(self.spans, self.gaps, self.config, self.data_start)
        if len(lines) <= limit:
            return lines
        return [*lines[: limit - 1], f"and {len(lines) - limit + 1} more servers or series with missing samples"]

    def forecast_notes(self) -> list[str]:
        """Series the review could not forecast, and why ("needs more history"): one line when none could be;
        and that no threshold is reached, when none is."""
        return forecast_note_lines(self)

    def crossing_rows(self) -> pd.DataFrame:
        """The crossings a report lists: those the forecast's likely path or its upper band reach."""
        if self.crossings.empty:
            return self.crossings
        return self.crossings[self.crossings["likely"].notna() | self.crossings["earliest"].notna()]

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
        return planning_sentence(self)

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
