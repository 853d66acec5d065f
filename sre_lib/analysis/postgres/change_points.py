"""When a statement's time per call changed, and what the change has cost since.

A regression compares two windows' means, and a 7-day mean mixes before and after. Here one change point is
searched on the per-snapshot-interval series of mean exec time per call (baseline and window together): the
split minimising the squared error of log(mean per call) on both sides (binary segmentation, one step). Logs
make a slowdown multiplicative, as plan flips are, and keep a few slow intervals from dominating.

The split is kept only when it lowers the cost by more than 3 log n times the noise variance (the leading term
of MBIC, Zhang and Siegmund's modified BIC, for one change). In trials on stable lognormal noise, BIC's
2 log n let 17 % of 30-point series through; 3 log n lets 7 % of those and 0.2 % of 672-point ones (a week of
15-minute intervals). The variance is estimated robustly from first differences (MAD / sqrt 2, which a single
step barely moves). Short series still give a false step now and then: the review dates only statements the
regression test already found. A step at the series' edge is found when MIN_SEGMENT intervals lie on each
side. Over a fortnight of 15-minute intervals even a 4 % drift of a busy statement beats any penalty, so a step
must also change the typical time per call (the geometric mean of each side) by MIN_STEP_RATIO or more, either
way: less is within a statement's daily swing.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from sre_lib.analysis.postgres.snapshots import Instant, resolve_window
from sre_lib.analysis.postgres.statement_windows import statement_intervals

__all__ = [
    "CHANGE_POINT_METHOD",
    "MIN_SEGMENT",
    "MIN_STEP_RATIO",
    "PENALTY_PER_CHANGE",
    "Step",
    "find_step",
    "mean_time_series",
    "statement_change_points",
]

#: Intervals needed on each side of a change point.
MIN_SEGMENT = 3
#: A change point must change the typical time per call by this factor or more (up or down).
MIN_STEP_RATIO = 1.25
#: The penalty for one change point, in units of the noise variance times log(n) (MBIC's 3; BIC's would be 2).
PENALTY_PER_CHANGE = 3.0
CHANGE_POINT_METHOD = "one change point: least squares on log(mean per call), penalty 3 log n x noise variance"
_MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class Step:
    """A change point in a series: ``index`` is the first value after the change; ``ratio`` the geometric mean
    after over the one before; the cost drop and the penalty it beat (both in squared log units)."""

    index: int
    ratio: float
    gain: float
    penalty: float


def find_step(
    values: np.ndarray | pd.Series, min_segment: int = MIN_SEGMENT, min_ratio: float = MIN_STEP_RATIO
) -> Step | None:
    """The one change point of a positive series, or None when no split beats the penalty, its step is under
    ``min_ratio``, or the series is too short.

    Non-positive values are not allowed: they are means per call of intervals with calls."""
    series = np.asarray(values, dtype=float)
    if (series <= 0).any() or not np.isfinite(series).all():
        raise ValueError("find_step: values must be finite and positive (mean time per call of intervals with calls)")
    n = len(series)
    if n < 2 * min_segment:
        return None
    logs = np.log(series)
    sigma = _MAD_TO_SIGMA * np.median(np.abs(np.diff(logs) - np.median(np.diff(logs)))) / np.sqrt(2)
    sums, squares = np.cumsum(logs), np.cumsum(logs**2)
    splits = np.arange(min_segment, n - min_segment + 1)  # first index of the right segment
    left = squares[splits - 1] - sums[splits - 1] ** 2 / splits
    right_n = n - splits
    right_sum = sums[-1] - sums[splits - 1]
    right = (squares[-1] - squares[splits - 1]) - right_sum**2 / right_n
    whole = squares[-1] - sums[-1] ** 2 / n
    gains = whole - (left + right)
    best = int(np.argmax(gains))
    penalty = PENALTY_PER_CHANGE * np.log(n) * max(sigma, 1e-6) ** 2
    split = int(splits[best])
    ratio = float(np.exp(logs[split:].mean() - logs[:split].mean()))
    if gains[best] <= penalty or max(ratio, 1 / ratio) < min_ratio:
        return None
    return Step(index=split, ratio=ratio, gain=float(gains[best]), penalty=float(penalty))


def mean_time_series(
    con: duckdb.DuckDBPyConnection,
    server: str | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    queryids: list[int] | None = None,
) -> pd.DataFrame:
    """Per statement (summed over roles and databases) and snapshot interval ending in (start, end] with calls:
    ``calls``, ``total_exec_time_ms`` and ``mean_ms`` per call; the series ``find_step`` looks at."""
    intervals = statement_intervals(con, resolve_window(con, server, start, end))
    if queryids is not None:
        intervals = intervals[intervals["queryid"].isin(queryids)]
    keys = ["server", "queryid", "interval_start", "interval_end"]
    series = (
        intervals.groupby(keys, as_index=False)
        .agg(calls=("calls", "sum"), total_exec_time_ms=("total_exec_time_ms", "sum"))
        .query("calls > 0")
        .sort_values(["queryid", "interval_end"], kind="stable")
        .reset_index(drop=True)
    )
    return series.assign(mean_ms=series["total_exec_time_ms"] / series["calls"])


_COLUMNS = {
    "server": "object",
    "queryid": "int64",
    "changed_at": "datetime64[us, UTC]",
    "snapshot_interval": "timedelta64[us]",
    "before_mean_ms": "float64",
    "after_mean_ms": "float64",
    "calls_per_day_since": "float64",
    "extra_ms_per_day": "float64",
    "intervals_before": "int64",
    "intervals_after": "int64",
    "method": "object",
}


def statement_change_points(
    con: duckdb.DuckDBPyConnection,
    server: str | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    queryids: list[int] | None = None,
) -> pd.DataFrame:
    """The change point of each statement (all, or ``queryids``) over intervals ending in (start, end].

    ``changed_at``: the end of the last interval before the change (the change lies in the interval after it,
    ``snapshot_interval`` long); ``before_mean_ms`` / ``after_mean_ms``: total time / calls on each side;
    ``calls_per_day_since``: calls after the change per day; ``extra_ms_per_day``: those calls times
    (after - before), the database time the change costs a day. Statements without a change have no row."""
    if queryids is not None and len(queryids) == 0:
        return pd.DataFrame(columns=list(_COLUMNS)).astype(_COLUMNS)
    series = mean_time_series(con, server, start, end, queryids)
    rows = []
    for (server_name, queryid), group in series.groupby(["server", "queryid"], sort=True):
        step = find_step(group["mean_ms"])
        if step is None:
            continue
        before, after = group.iloc[: step.index], group.iloc[step.index :]
        before_mean = before["total_exec_time_ms"].sum() / before["calls"].sum()
        after_mean = after["total_exec_time_ms"].sum() / after["calls"].sum()
        changed_at = before["interval_end"].iloc[-1]
        days_since = (after["interval_end"].iloc[-1] - changed_at) / pd.Timedelta(days=1)
        calls_per_day = after["calls"].sum() / days_since
        rows.append({
            "server": server_name, "queryid": queryid, "changed_at": changed_at,
            "snapshot_interval": after["interval_end"].iloc[0] - after["interval_start"].iloc[0],
            "before_mean_ms": before_mean, "after_mean_ms": after_mean, "calls_per_day_since": calls_per_day,
            "extra_ms_per_day": calls_per_day * (after_mean - before_mean),
            "intervals_before": len(before), "intervals_after": len(after), "method": CHANGE_POINT_METHOD,
        })  # fmt: skip
    frame = pd.DataFrame(rows, columns=list(_COLUMNS))
    if frame.empty:
        return frame.astype(_COLUMNS)
    frame["changed_at"] = pd.to_datetime(frame["changed_at"], utc=True)
    frame["snapshot_interval"] = pd.to_timedelta(frame["snapshot_interval"])
    return frame.sort_values("extra_ms_per_day", ascending=False, kind="stable").reset_index(drop=True)
