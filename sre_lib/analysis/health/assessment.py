"""One classification pass over a window, summarised: time in bands and episodes per series (``assess``).

Time not held by any sample is "no data", so a series' minutes in healthy + warning + critical + no data equal
the window. An episode is a maximal run of contiguous warning or critical samples, cut to the window.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pandas as pd

from sre_lib.analysis.health.bands import CRITICAL, HEALTHY, STATUS_DTYPE, WARNING, indicator_bands, sustained_minutes
from sre_lib.analysis.health.sample_loading import (
    US_PER_MINUTE,
    Samples,
    Source,
    load_samples,
    stamp,
    timestamps,
    to_us,
)
from sre_lib.analysis.health.status_engine import Evaluation, SeriesRules, evaluate, lookback_us, series_rules
from sre_lib.config import Indicator, PlatformConfig
from sre_lib.durations import Instant
from sre_lib.errors import DataError

__all__ = ["Assessment", "assess", "sample_frame"]


@dataclass(frozen=True, eq=False)
class Assessment:
    """Time in bands and episodes of every banded series over one window, from a single classification pass.

    ``series`` lists each series with the rule applied (bands, sustained minutes, step, max gap);
    ``samples()`` gives the per-sample status.
    """

    start: pd.Timestamp
    end: pd.Timestamp
    series: pd.DataFrame
    time_in_bands: pd.DataFrame
    episodes: pd.DataFrame
    _samples: Samples = field(repr=False)
    _eval: Evaluation = field(repr=False)

    def __repr__(self) -> str:
        samples = int(
            np.count_nonzero(
                (self._samples.t >= self.start.value // 1000) & (self._samples.t <= self.end.value // 1000)
            )
        )
        counts = self.episodes["status"].value_counts()
        worst = self.time_in_bands.sort_values("critical_minutes", ascending=False).head(3)
        lines = [
            f"Assessment({self.start:%Y-%m-%d %H:%M} .. {self.end:%Y-%m-%d %H:%M} UTC: {len(self.series)} series, "
            f"{samples:,} samples; episodes: {int(counts.get('critical', 0))} critical, "
            f"{int(counts.get('warning', 0))} warning)"
        ]
        for row in worst.itertuples():
            if row.critical_minutes > 0:
                lines.append(
                    f"  {row.metric} on {row.component}/{row.instance}: {row.critical_minutes:,.0f} min critical "
                    f"({row.critical_share:.1%})"
                )
        return "\n".join(lines)

    def samples(self) -> pd.DataFrame:
        """One row per sample in the window: series identity, ts, value, band (level alone) and status."""
        return sample_frame(self._samples, self._eval, self.start.value // 1000, self.end.value // 1000)


def sample_frame(samples: Samples, ev: Evaluation, lo: int | None, hi: int | None) -> pd.DataFrame:
    """One row per sample in [lo, hi]: series identity, ts, value, band (level alone) and status."""
    t = samples.t
    keep = np.ones(len(t), dtype=bool)
    if lo is not None:
        keep &= t >= lo
    if hi is not None:
        keep &= t <= hi
    code = np.repeat(np.arange(len(samples.series)), np.diff(samples.bounds))[keep]
    frame = samples.series.iloc[code].reset_index(drop=True)
    frame["ts"] = timestamps(t[keep])
    frame["value"] = samples.v[keep]
    frame["band"] = pd.Categorical.from_codes(ev.band[keep], dtype=STATUS_DTYPE)
    frame["status"] = pd.Categorical.from_codes(ev.status[keep], dtype=STATUS_DTYPE)
    return frame


def assess(
    source: Source,
    config: PlatformConfig,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    sustained: float | Mapping[str, float] | None = None,
    max_gap: timedelta | None = None,
) -> Assessment:
    """Classify every banded series over [start, end] once and summarise it (time in bands, episodes).

    ``start`` / ``end`` default to the first sample / the last sample plus one step; naive times are UTC.
    History before ``start`` is read too when a sustained rule needs it. ``sustained`` overrides
    ``Indicator.sustained_minutes`` (minutes, for every metric or per metric); ``max_gap`` overrides the
    contiguity tolerance (default twice each series' step).
    """
    bands = indicator_bands(config)
    minutes = sustained_minutes(bands, sustained)
    lo, hi = to_us(start, "start"), to_us(end, "end")
    if lo is not None and hi is not None and lo >= hi:
        raise ValueError(f"window: start ({start}) must be before end ({end})")
    lookback = lookback_us(minutes, bands)
    samples = load_samples(source, bands, None if lo is None else lo - lookback, hi)
    rules = series_rules(samples, bands, minutes, max_gap)
    if not len(samples.t) and (lo is None or hi is None):
        raise DataError("no samples of a banded metric to assess; give start and end to report an empty window")
    ev = evaluate(samples, rules)
    lengths = np.diff(samples.bounds)
    ws = lo if lo is not None else int(samples.t.min())
    if hi is not None:
        we = hi
    else:
        last = samples.t[samples.bounds[1:][lengths > 0] - 1]
        we = int(np.max(last + rules.step[lengths > 0]))
        if we <= ws:
            raise DataError(f"window: no samples after start ({start}); give an end to report an empty window")
    table = _series_table(samples, rules, bands, minutes)
    return Assessment(
        start=stamp(ws),
        end=stamp(we),
        series=table,
        time_in_bands=_time_in_bands(samples, ev, ws, we),
        episodes=_episodes(samples, rules, ev, bands, ws, we),
        _samples=samples,
        _eval=ev,
    )


def _series_table(
    samples: Samples, rules: SeriesRules, bands: Mapping[str, Indicator], minutes: Mapping[str, float]
) -> pd.DataFrame:
    table = samples.series.copy()
    metric = table["metric"]
    table["unit"] = [bands[m].unit for m in metric]
    table["direction"] = [bands[m].direction for m in metric]
    table["warning"] = [bands[m].warning for m in metric]
    table["critical"] = [bands[m].critical for m in metric]
    table["sustained_minutes"] = [minutes.get(m, 0.0) for m in metric]
    table["step"] = pd.to_timedelta(rules.step, unit="us")
    table["max_gap"] = pd.to_timedelta(rules.max_gap, unit="us")
    table["samples"] = np.diff(samples.bounds)
    return table


def _time_in_bands(samples: Samples, ev: Evaluation, ws: int, we: int) -> pd.DataFrame:
    count = len(samples.series)
    held = np.clip(np.minimum(ev.run_t1, we) - np.maximum(ev.run_t0, ws), 0, None).astype(np.float64)
    per_status = np.bincount(ev.run_code * 4 + ev.run_status, weights=held, minlength=count * 4).reshape(count, 4)
    window = float(we - ws)
    table = samples.series.copy()
    minutes = per_status / US_PER_MINUTE
    table["healthy_minutes"] = minutes[:, HEALTHY]
    table["warning_minutes"] = minutes[:, WARNING]
    table["critical_minutes"] = minutes[:, CRITICAL]
    table["no_data_minutes"] = (window - per_status.sum(axis=1)) / US_PER_MINUTE
    for name in ("healthy", "warning", "critical", "no_data"):
        table[f"{name}_share"] = table[f"{name}_minutes"] / (window / US_PER_MINUTE)
    table["window_minutes"] = window / US_PER_MINUTE
    return table.sort_values(["component", "instance", "metric"], kind="stable").reset_index(drop=True)


_EPISODE_COLUMNS = [
    "component", "instance", "metric", "status", "start", "end", "duration", "samples", "peak", "peak_ts",
    "unit", "series_id",
]  # fmt: skip


def _episodes(
    samples: Samples, rules: SeriesRules, ev: Evaluation, bands: Mapping[str, Indicator], ws: int, we: int
) -> pd.DataFrame:
    t0 = np.maximum(ev.run_t0, ws)
    t1 = np.minimum(ev.run_t1, we)
    chosen = np.flatnonzero((ev.run_status >= WARNING) & (t1 > t0))
    if not len(chosen):
        empty = pd.DataFrame({column: [] for column in _EPISODE_COLUMNS})
        empty["status"] = pd.Categorical([], dtype=STATUS_DTYPE)
        return empty
    starts, lasts = ev.run_start[chosen], ev.run_last[chosen]
    code = ev.run_code[chosen]
    # Worst value per run, in "greater is worse" space; only samples inside the window count.
    x = ev.x
    x_in = np.where(samples.t >= ws, x, -np.inf) if ev.run_t0[chosen].min() < ws else x
    peak_all = np.maximum.reduceat(x_in, ev.run_start)
    hits = np.flatnonzero(x_in == np.repeat(peak_all, np.diff(np.append(ev.run_start, len(x)))))
    hit_run = np.searchsorted(ev.run_start, hits, side="right") - 1
    firsts = np.concatenate(([True], hit_run[1:] != hit_run[:-1]))
    peak_index = np.empty(len(ev.run_start), dtype=np.int64)
    peak_index[hit_run[firsts]] = hits[firsts]
    peak_x, peak_index = peak_all[chosen], peak_index[chosen]
    lone = np.isneginf(peak_x)  # every sample before the window, the last one's status holding into it
    peak_index[lone] = lasts[lone]
    peak_x[lone] = x[lasts[lone]]
    units = np.array([bands[m].unit for m in samples.series["metric"]], dtype=object)
    # Chronological, then by component / instance / metric: sort on numbers, not on strings.
    rank = _series_rank(samples.series)
    order = np.lexsort((rank[code], t0[chosen]))
    chosen, code, starts, lasts = chosen[order], code[order], starts[order], lasts[order]
    peak_x, peak_index = peak_x[order], peak_index[order]
    table = samples.series.iloc[code].reset_index(drop=True)
    table["status"] = pd.Categorical.from_codes(ev.run_status[chosen], dtype=STATUS_DTYPE)
    table["start"] = timestamps(t0[chosen])
    table["end"] = timestamps(t1[chosen])
    table["duration"] = pd.to_timedelta(t1[chosen] - t0[chosen], unit="us")
    table["samples"] = lasts - starts + 1
    table["peak"] = peak_x * rules.sign[code]
    table["peak_ts"] = timestamps(samples.t[peak_index])
    table["unit"] = units[code]
    return table[_EPISODE_COLUMNS]


def _series_rank(series: pd.DataFrame) -> np.ndarray:
    """Each series' position when sorted by component, instance, metric, series_id."""
    order = series.sort_values(["component", "instance", "metric", "series_id"], kind="stable").index.to_numpy()
    rank = np.empty(len(series), dtype=np.int64)
    rank[order] = np.arange(len(series))
    return rank
