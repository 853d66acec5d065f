"""The public per-sample and per-window views: ``classify`` (each sample's band and status), ``time_in_bands``
and ``episodes`` (both from ``assess``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import numpy as np
import pandas as pd

from sre_lib.analysis.health.assessment import assess, sample_frame
from sre_lib.analysis.health.bands import NO_DATA, STATUS_DTYPE, indicator_bands, sustained_minutes
from sre_lib.analysis.health.sample_loading import Source, load_samples, to_us
from sre_lib.analysis.health.status_engine import bands_by_level, evaluate, lookback_us, series_rules
from sre_lib.config import PlatformConfig
from sre_lib.durations import Instant
from sre_lib.errors import DataError

__all__ = ["classify", "episodes", "time_in_bands"]


def classify(
    source: Source,
    config: PlatformConfig,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    sustained: float | Mapping[str, float] | None = None,
    max_gap: timedelta | None = None,
) -> pd.DataFrame:
    """The status of every sample: columns ``band`` (by level alone) and ``status`` (after sustained rules).

    A frame comes back with its own rows, index and order (restricted to [start, end] when given) plus the two
    columns: rows of metrics without bands get NaN, rows with a NaN value "no data". A frame without ``ts`` is
    classified by level only (a sustained rule then is an error). A connection gives one row per sample of
    every banded series, ordered by series and time.
    """
    bands = indicator_bands(config)
    minutes = sustained_minutes(bands, sustained)
    lo, hi = to_us(start, "start"), to_us(end, "end")
    lookback = lookback_us(minutes, bands)
    samples = load_samples(source, bands, None if lo is None else lo - lookback, hi, need_ts=False)
    if samples.t is None:
        if lo is not None or hi is not None:
            raise DataError("frame: start and end need a 'ts' column")
        needing = sorted({m for m in samples.series["metric"] if minutes.get(m, 0.0) > 0})
        if needing:
            raise DataError(f"frame: the sustained rule of {needing} needs a 'ts' column")
        rules = series_rules(samples, bands, minutes, max_gap)
        _, band = bands_by_level(samples, rules)
        status = band
    else:
        rules = series_rules(samples, bands, minutes, max_gap)
        ev = evaluate(samples, rules)
        band, status = ev.band, ev.status
        if not isinstance(source, pd.DataFrame):
            return sample_frame(samples, ev, lo, hi)
    assert isinstance(source, pd.DataFrame) and samples.rows is not None
    band_code = np.full(len(source), -1, dtype=np.int8)
    status_code = np.full(len(source), -1, dtype=np.int8)
    banded = source["metric"].astype(str).isin(list(bands)).to_numpy()
    band_code[banded] = NO_DATA
    status_code[banded] = NO_DATA
    band_code[samples.rows] = band
    status_code[samples.rows] = status
    keep = np.ones(len(source), dtype=bool)
    if lo is not None or hi is not None:
        t = pd.DatetimeIndex(pd.to_datetime(source["ts"], utc=True)).as_unit("us").asi8
        if lo is not None:
            keep &= t >= lo
        if hi is not None:
            keep &= t <= hi
    result = source.iloc[np.flatnonzero(keep)].copy()
    result["band"] = pd.Categorical.from_codes(band_code[keep], dtype=STATUS_DTYPE)
    result["status"] = pd.Categorical.from_codes(status_code[keep], dtype=STATUS_DTYPE)
    return result


def time_in_bands(
    source: Source,
    config: PlatformConfig,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    sustained: float | Mapping[str, float] | None = None,
    max_gap: timedelta | None = None,
) -> pd.DataFrame:
    """Per series: minutes and share of [start, end] spent healthy, warning, critical and without data.

    The four shares of a row add up to 1: see ``assess`` for the window defaults and options.
    """
    return assess(source, config, start, end, sustained=sustained, max_gap=max_gap).time_in_bands


def episodes(
    source: Source,
    config: PlatformConfig,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    sustained: float | Mapping[str, float] | None = None,
    max_gap: timedelta | None = None,
) -> pd.DataFrame:
    """Warning and critical episodes: maximal runs of contiguous samples with the same status.

    ``start`` is the first sample's time, ``end`` when the status stopped holding (the next sample, or the
    last sample plus one step), both cut to the window; ``peak`` is the worst value (highest, or lowest for
    "below" indicators) and ``peak_ts`` its first time. Gaps up to ``max_gap`` do not split an episode.
    """
    return assess(source, config, start, end, sustained=sustained, max_gap=max_gap).episodes
