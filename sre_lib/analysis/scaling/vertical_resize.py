"""Vertical scaling: which configured resize triggers fire, when, and the catalogue size to resize into."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sre_lib.analysis.scaling.demand_trace import as_floats, check_values
from sre_lib.config import PlatformConfig, ServerSize
from sre_lib.errors import DataError

# Which resource a vertical trigger needs more of; an indicator not listed takes any bigger size.
TRIGGER_RESOURCES = {"cpu": "vcpu", "memory": "ram_gb", "disk": "disk_gb"}


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
            values = as_floats(f"samples {value_col}", series[value_col])
            check_values(f"{component}/{name} {trigger.indicator}", values, times)
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
