"""Redis evictions judged by their trend, not by bands: rising over the last day against the day before
(seasonal Mann-Kendall on hourly buckets), within the last day when there is no day before, and on the minutes
or hours there are when the history is younger than that (evictions that started and continue are rising)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sre_lib.analysis.health.bands import STATUS_DTYPE
from sre_lib.analysis.health.sample_loading import Source, load_samples, newest_sample_us, timestamps, to_us
from sre_lib.config import PlatformConfig
from sre_lib.durations import Instant, human_duration

__all__ = ["TREND_METRICS", "evictions_trend"]

#: Metrics judged by their trend, not by bands.
TREND_METRICS: tuple[str, ...] = ("redis_evictions",)

_TREND_BUCKETS = 24
_TREND_MIN_BUCKETS = 8


_TREND_COLUMNS = [
    "component", "instance", "metric", "status", "rising", "earlier_mean", "later_mean", "slope_per_hour", "tau",
    "p_value", "buckets", "samples", "window_start", "window_end", "last_value", "last_ts", "detail", "series_id",
]  # fmt: skip


def evictions_trend(
    source: Source,
    config: PlatformConfig,
    as_of: Instant | None = None,
    *,
    alpha: float = 0.05,
    min_rise: float = 0.1,
) -> pd.DataFrame:
    """Are Redis evictions increasing over the last ``config.redis.evictions_trend_hours``? Rising means warning.

    ``redis_evictions`` is a rate (evictions per minute, as the metric catalogue computes it). The window ending
    at ``as_of`` (default: the newest eviction sample) and the window of the same length before it are each cut
    into 24 equal buckets (hours, for the default 24 h) and each bucket averaged, which damps minute-scale
    noise and its autocorrelation. Evictions follow the daily traffic cycle, and within one day the cycle alone
    looks like a trend, up or down depending on the hour the window starts. So each bucket is compared with
    the same bucket of the window before (the same hour of the previous day): the seasonal Mann-Kendall test
    (Hirsch, Slack & Smith 1982) with the 24 buckets as seasons, which for two windows is a sign test of the
    24 pairs, one-sided, p < ``alpha``. The series is rising when that holds and this window averages at least
    ``min_rise`` (10 %) above the one before (any rise from zero counts), so a tiny steady drift is no alarm.

    Without 8 buckets of the earlier window (less than two windows of history), the same is asked within the
    last window alone: Kendall's tau of bucket mean against time, its later half against its earlier half.
    ``slope_per_hour`` is, for scale, the median change between paired buckets per hour apart (Theil-Sen slope
    of the bucket means within one window). A flat series is healthy.

    With fewer than 8 non-empty buckets of the last window (a young platform: minutes or hours of samples), what
    there is is judged, and the detail says on how much history (``_young_row``): no evictions is healthy;
    evictions that started after a stretch without any and continue to the newest sample are rising, and so
    is a new run faster than the runs before it; evictions that stopped are healthy; evictions throughout are
    tested as above, over 24 buckets of the history there is, and are "no data" with fewer than 8 samples.
    """
    hours = config.redis.evictions_trend_hours
    span = hours * 3_600_000_000
    metrics = {name: None for name in TREND_METRICS}
    as_of_us = to_us(as_of, "as_of")
    if as_of_us is None:
        as_of_us = newest_sample_us(source, list(TREND_METRICS))
    if as_of_us is None:
        return _empty_trend()
    lo = as_of_us - span
    samples = load_samples(source, metrics, lo - span, as_of_us)
    rows = []
    for code, series in samples.series.iterrows():
        a, b = samples.bounds[code], samples.bounds[code + 1]
        t, v = samples.t[a:b], samples.v[a:b]
        before = t < lo
        previous = _bucket_means(t[before], v[before], lo - span, span)
        row = _seasonal_trend_row(t[~before], v[~before], previous, lo, span, hours, alpha, min_rise)
        rows.append({**series.to_dict(), **row})
    if not rows:
        return _empty_trend()
    table = pd.DataFrame(rows)
    table["status"] = pd.Categorical(table["status"], dtype=STATUS_DTYPE)
    table["window_start"] = timestamps(np.full(len(table), lo))
    table["window_end"] = timestamps(np.full(len(table), as_of_us))
    table["last_ts"] = timestamps(table["last_ts"].to_numpy(dtype=np.int64))
    table = table[_TREND_COLUMNS]
    return table.sort_values(["component", "instance", "metric"], kind="stable").reset_index(drop=True)


def _empty_trend() -> pd.DataFrame:
    table = pd.DataFrame({column: [] for column in _TREND_COLUMNS})
    table["status"] = pd.Categorical([], dtype=STATUS_DTYPE)
    return table


def _bucket_sums(t: np.ndarray, v: np.ndarray, lo: int, span: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample count and value sum of each of the ``_TREND_BUCKETS`` equal buckets of [lo, lo + span]."""
    bucket = np.clip((t - lo) * _TREND_BUCKETS // span, 0, _TREND_BUCKETS - 1)
    return np.bincount(bucket, minlength=_TREND_BUCKETS), np.bincount(bucket, weights=v, minlength=_TREND_BUCKETS)


def _bucket_means(t: np.ndarray, v: np.ndarray, lo: int, span: int) -> np.ndarray:
    """Mean of each bucket (see ``_bucket_sums``); NaN where a bucket is empty."""
    counts, sums = _bucket_sums(t, v, lo, span)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _seasonal_trend_row(
    t: np.ndarray, v: np.ndarray, previous: np.ndarray, lo: int, span: int, hours: int, alpha: float,
    min_rise: float,
) -> dict[str, Any]:  # fmt: skip
    """This window's buckets against the same buckets of the window before; within-window when that is empty."""
    current = _bucket_means(t, v, lo, span)
    paired = np.isfinite(previous) & np.isfinite(current)
    if paired.sum() < _TREND_MIN_BUCKETS:
        row = _trend_row(t, v, lo, span, hours, alpha, min_rise)
        if row["status"] in ("healthy", "warning") and row["buckets"] >= _TREND_MIN_BUCKETS:
            row["detail"] += f" (within the last {hours} h only: no earlier {hours} h to compare)"
        return row
    earlier, later = float(previous[paired].mean()), float(current[paired].mean())
    differences = current[paired] - previous[paired]
    signs = np.sign(differences)
    score, variance = float(signs.sum()), float(np.count_nonzero(signs))
    row: dict[str, Any] = {
        "earlier_mean": earlier, "later_mean": later, "buckets": int(paired.sum()), "samples": len(t),
        "last_value": float(v[-1]), "last_ts": int(t[-1]),
        "slope_per_hour": float(np.median(differences)) / hours, "tau": score / paired.sum(),
    }  # fmt: skip
    if variance == 0:
        return row | {"rising": False, "p_value": 1.0, "status": "healthy",
                      "detail": f"evictions unchanged from the {hours} h before: {later:.3g}/min"}  # fmt: skip
    z = (score - np.sign(score)) / math.sqrt(variance)  # with the continuity correction
    p_value = float(stats.norm.sf(z))
    grew = later >= earlier * (1 + min_rise) if earlier > 0 else later > 0
    rising = bool(p_value < alpha and grew)
    change = f" ({later / earlier - 1:+.0%})" if earlier > 0 else ""
    chance = "" if rising else ", which chance explains as well"
    detail = (
        f"evictions {'rising' if rising else 'not rising'}: {later:.3g}/min in the last {hours} h against "
        f"{earlier:.3g}/min the {hours} h before{change}; higher than at the same time before in "
        f"{int((signs > 0).sum())} of {int(paired.sum())} slots{chance} (seasonal Mann-Kendall p = {p_value:.2g})"
    )
    return row | {"rising": rising, "p_value": p_value, "status": "warning" if rising else "healthy",
                  "detail": detail}  # fmt: skip


def _trend_row(
    t: np.ndarray, v: np.ndarray, lo: int, span: int, hours: int, alpha: float, min_rise: float
) -> dict[str, Any]:
    nat = np.iinfo(np.int64).min
    row: dict[str, Any] = {
        "rising": False, "earlier_mean": np.nan, "later_mean": np.nan, "slope_per_hour": np.nan, "tau": np.nan,
        "p_value": np.nan, "buckets": 0, "samples": len(t),
        "last_value": float(v[-1]) if len(v) else np.nan, "last_ts": int(t[-1]) if len(t) else nat,
    }  # fmt: skip
    counts, sums = _bucket_sums(t, v, lo, span)
    filled = counts > 0
    row["buckets"] = int(filled.sum())
    if row["buckets"] < _TREND_MIN_BUCKETS:
        return row | _young_row(t, v, hours, alpha, min_rise)
    return row | _kendall_row(counts, sums, hours, f"over {hours} h", alpha, min_rise)


def _kendall_row(
    counts: np.ndarray, sums: np.ndarray, hours: float, over: str, alpha: float, min_rise: float
) -> dict[str, Any]:
    """Kendall's tau of the bucket means (``_bucket_sums`` of ``hours``) against time, one-sided, and the later
    half's mean against the earlier half's; ``over`` says over what period, in the detail."""
    filled = counts > 0
    row: dict[str, Any] = {}
    half = _TREND_BUCKETS // 2
    earlier = float(sums[:half].sum() / max(counts[:half].sum(), 1))
    later = float(sums[half:].sum() / max(counts[half:].sum(), 1))
    row |= {"earlier_mean": earlier, "later_mean": later}
    means = sums[filled] / counts[filled]
    centres = (np.flatnonzero(filled) + 0.5) * hours / _TREND_BUCKETS
    if np.ptp(means) == 0:
        return row | {"status": "healthy", "slope_per_hour": 0.0, "detail": f"flat at {means[0]:g}/min"}
    tau, p_value = stats.kendalltau(centres, means, alternative="greater")
    slope = float(stats.theilslopes(means, centres).slope)
    grew = later >= earlier * (1 + min_rise) if earlier > 0 else later > 0
    rising = bool(p_value < alpha and grew)
    row |= {"tau": float(tau), "p_value": float(p_value), "slope_per_hour": slope, "rising": rising}
    change = f" ({later / earlier - 1:+.0%})" if earlier > 0 else ""
    verdict = "rising" if rising else "not rising"
    detail = (
        f"evictions {verdict}: {earlier:.3g}/min -> {later:.3g}/min{change} {over} (Mann-Kendall p = {p_value:.2g})"
    )
    return row | {"status": "warning" if rising else "healthy", "detail": detail}


def _young_row(t: np.ndarray, v: np.ndarray, hours: int, alpha: float, min_rise: float) -> dict[str, Any]:
    """A history too young for hourly buckets, judged on what there is (see ``evictions_trend``)."""
    if len(t) == 0:
        return {"status": "no data", "detail": f"no eviction samples in the last {hours} h"}
    span = int(t[-1] - t[0])
    young = f"judged on {human_duration(span / 1e6)} of samples, not the {2 * hours} h a day-on-day trend needs"
    positive = v > 0
    if not positive.any():
        return {"status": "healthy", "earlier_mean": 0.0, "later_mean": 0.0, "slope_per_hour": 0.0,
                "detail": f"no evictions ({young})"}  # fmt: skip
    quiet = np.flatnonzero(~positive)
    if not positive[-1]:
        stopped = _utc(int(t[quiet[np.searchsorted(quiet, np.flatnonzero(positive)[-1])]]))
        return {"status": "healthy", "detail": f"evictions stopped: none since {stopped} ({young})"}
    if len(quiet):  # the newest run of evictions began after a sample without any
        onset = int(quiet[-1]) + 1
        earlier, later = float(v[:onset].mean()), float(v[onset:].mean())
        row = {"earlier_mean": earlier, "later_mean": later, "samples": len(t)}
        began = _utc(int(t[onset]))
        if len(t) - onset < 2:
            return row | {"status": "no data", "detail": f"evictions began at the newest sample ({began}): too soon "
                                                          f"to say they continue ({young})"}  # fmt: skip
        if earlier == 0:
            detail = (f"evictions rising: started {began} and continue, {later:.3g}/min since against none in the "
                      f"{human_duration((t[onset] - t[0]) / 1e6)} before ({young})")  # fmt: skip
            return row | {"status": "warning", "rising": True, "detail": detail}
        level = float(v[:onset][positive[:onset]].mean())  # how fast the earlier evictions went, while they did
        rising = later >= level * (1 + min_rise)
        detail = (f"evictions {'rising' if rising else 'not rising'}: again since {began}, {later:.3g}/min against "
                  f"{level:.3g}/min while they last ran ({young})")  # fmt: skip
        return row | {"status": "warning" if rising else "healthy", "rising": rising, "detail": detail}
    if len(t) < _TREND_MIN_BUCKETS:
        return {"status": "no data", "detail": f"evictions throughout, but only {len(t)} samples: too few to see a "
                                               f"trend ({young})"}  # fmt: skip
    counts, sums = _bucket_sums(t, v, int(t[0]), span + 1)
    row = _kendall_row(counts, sums, span / 3.6e9, f"over {human_duration(span / 1e6)}", alpha, min_rise)
    return row | {"detail": f"{row['detail']} ({young})"}


def _utc(us: int) -> str:
    return f"{pd.Timestamp(us, unit='us', tz='UTC'):%Y-%m-%d %H:%M:%S} UTC"
