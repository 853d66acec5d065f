"""What a ``predict_linear`` disk alert would say, next to what the capacity forecast says."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pandas as pd

from sre_lib.analysis.predict_linear import MIN_SPAN, linear_time_to_threshold
from sre_lib.config import PlatformConfig
from sre_lib.durations import human_duration
from sre_lib.warehouse.series import read_samples

ALERT_WINDOW = timedelta(days=7)  # the range a predict_linear disk alert would typically look back over


def disk_alert_view(
    con: duckdb.DuckDBPyConnection, config: PlatformConfig, end: pd.Timestamp, crossings: pd.DataFrame,
    window: timedelta = ALERT_WINDOW,
) -> pd.DataFrame:  # fmt: skip
    """When each disk reaches its critical level by ``predict_linear`` over the last ``window``, next to the
    forecast's likely date: what an alert rule would say against what the forecast says. ``value_now`` is the
    line's value at ``end`` and ``trend`` its slope in percentage points a day, saying how much history it is
    drawn from when that is a day or more short of ``window`` (a young warehouse). Under ``MIN_SPAN`` of samples
    the line is not judged: ``trend`` says how much is needed and collected, there is no date (``judged``
    False), and ``value_now`` is the newest sample."""
    band = config.indicators.get("disk")
    samples = read_samples(con, metrics=["disk"], start=end - window, end=end)
    if band is None or samples.empty:
        return pd.DataFrame()
    rows = []
    for (component, instance), group in samples.groupby(["component", "instance"], sort=True):
        line = linear_time_to_threshold(group["ts"], group["value"].to_numpy(), band.critical, eval_time=end,
                                        window=window, min_span=MIN_SPAN)  # fmt: skip
        likely = pd.NaT
        if not crossings.empty:
            match = crossings[(crossings["component"] == component) & (crossings["instance"] == instance)
                              & (crossings["metric"] == "disk") & (crossings["threshold"] == "critical")]  # fmt: skip
            likely = match["likely"].iloc[0] if not match.empty else pd.NaT
        trend = f"{line.slope_per_second * 86_400:+.2f} points a day" if line.judged else line.note
        if line.judged and line.span < window - timedelta(days=1):
            trend += f" (from {human_duration(line.span.to_pytimedelta())} of samples)"
        rows.append({
            "component": component, "instance": instance, "level": band.critical, "value_now": line.value_at_eval,
            "trend": trend, "predict_linear_date": line.crosses_at,
            "forecast_likely_date": likely, "predict_linear": str(line), "judged": line.judged,
        })  # fmt: skip
    return pd.DataFrame(rows)
