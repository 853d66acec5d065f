"""Prometheus's predict_linear, computed exactly as Prometheus does, and the time-to-threshold it implies.

Users compare the workbench's forecasts with their alerts (``predict_linear(v[6h], 4 * 3600) > 85``), so this
reproduces ``funcPredictLinear`` and ``linearRegression`` of the Prometheus source bit for bit: compensated
(Kahan) sums, the intercept at the evaluation time, millisecond timestamps, range selection (end - window, end]
(3.x) or [end - window, end] (2.x). Tested against a real Prometheus on the same samples.

A date drawn through a few seconds of samples is noise, so ``linear_time_to_threshold`` can refuse to date a
line through less than a minimum span (``MIN_SPAN``, the 6 h lookback of node-mixin's disk-fill alerts).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

import numpy as np
import pandas as pd

from sre_lib.durations import human_duration
from sre_lib.errors import DataError

__all__ = ["MIN_SPAN", "LinearPrediction", "linear_regression", "linear_time_to_threshold", "predict_linear"]

Direction = Literal["above", "below"]

#: The least history a predict_linear date is drawn from: node-mixin's disk-fill alerts use
#: ``predict_linear(node_filesystem_avail_bytes[6h], ...)``; a line through less is dated by noise.
MIN_SPAN = timedelta(hours=6)
_NO_SPAN = pd.Timedelta(0)


def _milliseconds(stamps: object) -> np.ndarray:
    """Prometheus timestamps: int64 milliseconds since the epoch, from datetimes (naive = UTC) or unix seconds.

    Rounded to the nearest millisecond, so a float such as 1700000000.123 (as the HTTP API returns) or a datetime
    made from one gets back the exact millisecond Prometheus stored.
    """
    array = np.atleast_1d(np.asarray(stamps.to_numpy() if isinstance(stamps, pd.Series | pd.Index) else stamps))
    if array.dtype.kind in "iuf":
        return np.round(array.astype(float) * 1000.0).astype(np.int64)
    try:
        index = pd.DatetimeIndex(pd.to_datetime(array, utc=True))
    except (TypeError, ValueError) as exc:
        raise DataError(f"timestamps: expected datetimes or unix seconds: {exc}") from None
    nanoseconds = index.as_unit("ns").asi8
    return np.asarray((nanoseconds + 500_000) // 1_000_000, dtype=np.int64)


def _seconds(duration: float | timedelta | pd.Timedelta | np.timedelta64) -> float:
    if isinstance(duration, timedelta | np.timedelta64):
        return pd.Timedelta(duration).total_seconds()
    return float(duration)


def _kahan_inc(inc: float, total: float, c: float) -> tuple[float, float]:
    """Prometheus's kahansum.Inc (Neumaier's variant), operation for operation."""
    t = total + inc
    if math.isinf(t):
        c = 0.0
    elif abs(total) >= abs(inc):
        c += (total - t) + inc
    else:
        c += (inc - t) + total
    return t, c


def linear_regression(ts: object, values: Sequence[float] | np.ndarray, intercept_time: object) -> tuple[float, float]:
    """Prometheus's ``linearRegression``: (slope per second, value of the fitted line at ``intercept_time``).

    Ordinary least squares of value on x = (sample time - intercept_time) / 1000, with times in whole
    milliseconds as Prometheus stores them; the sums of x, y, x*y and x*x are accumulated in sample order with
    Kahan-Neumaier compensation, then covXY = sumXY - sumX*sumY/n, varX = sumX2 - sumX*sumX/n,
    slope = covXY / varX, intercept = sumY/n - slope*sumX/n. If every value equals the first, the result is
    exactly (0, that value), or (NaN, NaN) when that value is infinite. ``deriv()`` is the slope with
    ``intercept_time`` = the first sample's time.
    """
    t_ms = _milliseconds(ts)
    y = np.asarray(values, dtype=float)
    if len(t_ms) != len(y):
        raise DataError(f"{len(t_ms)} timestamps but {len(y)} values")
    if len(y) == 0:
        raise DataError("linear regression of no samples")
    origin = int(_milliseconds(intercept_time)[0])
    n = 0.0
    sum_x = c_x = sum_y = c_y = sum_xy = c_xy = sum_x2 = c_x2 = 0.0
    init_y = float(y[0])
    const_y = True
    for i, (stamp, sample) in enumerate(zip(t_ms.tolist(), y.tolist(), strict=True)):
        if const_y and i > 0 and sample != init_y:
            const_y = False
        n += 1.0
        x = float(stamp - origin) / 1e3
        sum_x, c_x = _kahan_inc(x, sum_x, c_x)
        sum_y, c_y = _kahan_inc(sample, sum_y, c_y)
        sum_xy, c_xy = _kahan_inc(x * sample, sum_xy, c_xy)
        sum_x2, c_x2 = _kahan_inc(x * x, sum_x2, c_x2)
    if const_y:
        return (math.nan, math.nan) if math.isinf(init_y) else (0.0, init_y)
    sum_x += c_x
    sum_y += c_y
    sum_xy += c_xy
    sum_x2 += c_x2
    cov_xy = sum_xy - sum_x * sum_y / n
    var_x = sum_x2 - sum_x * sum_x / n
    slope = _go_divide(cov_xy, var_x)
    intercept = sum_y / n - slope * sum_x / n
    return slope, intercept


def _go_divide(a: float, b: float) -> float:
    """a / b with Go's float semantics: ±Inf or NaN on a zero divisor, where Python would raise."""
    if b == 0:
        return math.copysign(math.inf, a) * math.copysign(1.0, b) if a and not math.isnan(a) else math.nan
    return a / b


def _window(
    ts: object,
    values: Sequence[float] | np.ndarray,
    eval_time: object | None,
    window: float | timedelta | None,
    at: object | None,
    include_window_start: bool,
) -> tuple[np.ndarray, np.ndarray, int]:
    """The samples a range selector would return, and the evaluation time in milliseconds."""
    t_ms = _milliseconds(ts)
    y = np.asarray(values, dtype=float)
    if len(t_ms) != len(y):
        raise DataError(f"{len(t_ms)} timestamps but {len(y)} values")
    if len(t_ms) == 0:
        raise DataError("predict_linear of no samples")
    order = np.argsort(t_ms, kind="stable")
    t_ms, y = t_ms[order], y[order]
    eval_ms = int(t_ms[-1]) if eval_time is None else int(_milliseconds(eval_time)[0])
    if window is not None:
        end = eval_ms if at is None else int(_milliseconds(at)[0])
        start = end - round(_seconds(window) * 1000)
        keep = (t_ms >= start if include_window_start else t_ms > start) & (t_ms <= end)
        t_ms, y = t_ms[keep], y[keep]
    return t_ms, y, eval_ms


def predict_linear(
    ts: object,
    values: Sequence[float] | np.ndarray,
    t: float | timedelta,
    *,
    eval_time: object | None = None,
    window: float | timedelta | None = None,
    at: object | None = None,
    include_window_start: bool = False,
) -> float | None:
    """What PromQL ``predict_linear(v[window], t)`` returns when the query is evaluated at ``eval_time``.

    Exactly Prometheus's ``funcPredictLinear`` (2.x and 3.x): ``slope, intercept := linearRegression(samples,
    interceptTime = evaluation timestamp)`` and the result is ``slope * t + intercept`` (see
    ``linear_regression``). So it is the value of the least-squares line (value on time in seconds, over the
    window's samples) ``t`` seconds after the *evaluation time*, not after the last sample. Fewer than two
    samples: None (Prometheus drops the series). All values equal: that value, whatever ``t``.

    ``ts``: sample times (datetimes, naive meaning UTC, or unix seconds), rounded to whole milliseconds as
    Prometheus stores them. ``t``: seconds or a timedelta. ``eval_time``: the query's evaluation time (default:
    the last sample's time). ``window``: the range selector's duration; when given, only samples in
    (end - window, end] are used, where end is ``at`` (the ``@`` modifier) or else ``eval_time``: Prometheus 3.x
    selection (``include_window_start=True`` also keeps a sample exactly at the window start, as 2.x did).
    Without ``window``, every sample passed is used as given.
    """
    t_ms, y, eval_ms = _window(ts, values, eval_time, window, at, include_window_start)
    if len(y) < 2:
        return None
    slope, intercept = linear_regression(t_ms / 1000.0, y, eval_ms / 1000.0)
    return slope * _seconds(t) + intercept


@dataclass(frozen=True)
class LinearPrediction:
    """The predict_linear view of a threshold: the line through the window and when it reaches the threshold.

    ``span`` is how much time the window's samples cover; ``judged`` is False when that is less than the minimum
    asked for, and then there is no slope, no date, and ``note`` says how much history is needed and collected.
    """

    eval_time: pd.Timestamp
    samples: int
    slope_per_second: float
    value_at_eval: float
    threshold: float
    direction: Direction
    seconds_to_threshold: float | None
    crosses_at: pd.Timestamp | None
    note: str
    span: pd.Timedelta = _NO_SPAN
    judged: bool = True

    def __str__(self) -> str:
        if self.crosses_at is None:
            return f"predict_linear: {self.note}"
        return f"predict_linear: reaches {self.threshold:g} at {self.crosses_at:%Y-%m-%d %H:%M} UTC ({self.note})"


def _duration(seconds: float) -> str:
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.1f} days"


def _collected(span: pd.Timedelta) -> str:
    """``span`` rounded down to what ``human_duration`` shows, so 5 h 59 min 45 s never reads as the 6 h needed."""
    seconds = span.total_seconds()
    return human_duration(seconds // 60 * 60 if seconds >= 3600 else seconds // 1)


def linear_time_to_threshold(
    ts: object,
    values: Sequence[float] | np.ndarray,
    threshold: float,
    *,
    eval_time: object | None = None,
    window: float | timedelta | None = None,
    direction: Direction = "above",
    at: object | None = None,
    include_window_start: bool = False,
    min_span: float | timedelta | None = None,
) -> LinearPrediction:
    """When the ``predict_linear`` line reaches ``threshold``: the t at which ``predict_linear(v, t)`` equals it.

    Same sample selection and regression as ``predict_linear``; t = (threshold - intercept) / slope seconds after
    the evaluation time. 0 when the line is already at or beyond the threshold at the evaluation time, None
    when it never gets there (flat, or moving away). An alert ``predict_linear(v[w], T) > threshold`` fires
    exactly when ``seconds_to_threshold <= T``.

    ``min_span`` (seconds or a timedelta, e.g. ``MIN_SPAN``): when the window's samples cover less time than
    this, the line is not judged (``judged`` False, no slope and no date), and ``note`` says "needs 6 h of
    samples; 15 s collected". ``value_at_eval`` is then the newest sample's value, not a line's.
    """
    if direction not in ("above", "below"):
        raise ValueError(f"direction: expected 'above' or 'below', got {direction!r}")
    if not math.isfinite(float(threshold)):
        raise ValueError(f"threshold: expected a finite number, got {threshold!r}")
    t_ms, y, eval_ms = _window(ts, values, eval_time, window, at, include_window_start)
    evaluated = pd.Timestamp(eval_ms, unit="ms", tz="UTC")
    span = pd.Timedelta(milliseconds=int(t_ms[-1] - t_ms[0])) if len(t_ms) else pd.Timedelta(0)
    if min_span is not None and len(y) and span.total_seconds() < _seconds(min_span):
        note = f"needs {human_duration(_seconds(min_span))} of samples; {_collected(span)} collected"
        return LinearPrediction(
            evaluated, len(y), math.nan, float(y[-1]), float(threshold), direction, None, None, note, span, False
        )
    if len(y) < 2:
        return LinearPrediction(
            evaluated,
            len(y),
            math.nan,
            math.nan,
            threshold,
            direction,
            None,
            None,
            "fewer than 2 samples in the window",
            span,
        )
    slope, intercept = linear_regression(t_ms / 1000.0, y, eval_ms / 1000.0)
    toward = slope > 0 if direction == "above" else slope < 0
    beyond = intercept >= threshold if direction == "above" else intercept <= threshold
    seconds: float | None
    if beyond:
        seconds, note = 0.0, f"already {direction} {threshold:g} at the evaluation time"
    elif not toward or not math.isfinite(slope):
        seconds, note = None, "never: the trend is flat or moving away from the threshold"
    else:
        seconds = (threshold - intercept) / slope
        note = f"in {_duration(seconds)} at {slope * 3600:+.4g} per hour"
    crosses = None if seconds is None else evaluated + pd.Timedelta(seconds=seconds)
    return LinearPrediction(
        evaluated, len(y), slope, intercept, float(threshold), direction, seconds, crosses, note, span
    )
