"""The classification engine: per-series rules (bands, sustained run, step, max gap), then each sample's band
and status, the breaks between contiguous stretches and the runs of equal status, vectorised block by block.

* **Sustained**: a sample in the critical band counts as critical only once the indicator has been in that band
  for N minutes without a break (``ts - first sample of the run >= N``); until then it counts as warning.
* **Contiguity**: two samples of a series are contiguous when at most ``max_gap`` apart (default: twice the
  series' typical step, its median sampling interval); a longer gap ends a run and resets a sustained run.
* **Time**: a sample's status holds until the next contiguous sample, or for one step if there is none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from sre_lib.analysis.health.bands import CRITICAL, WARNING
from sre_lib.analysis.health.sample_loading import US_PER_MINUTE, Samples
from sre_lib.config import Indicator

__all__ = ["Evaluation", "SeriesRules", "bands_by_level", "evaluate", "lookback_us", "series_rules"]

_DEFAULT_STEP_US = US_PER_MINUTE
_STEP_PROBES = 1001  # diffs per series used to estimate its step (median)


@dataclass(frozen=True, eq=False)
class SeriesRules:
    """Per-series rule arrays, indexed by series code."""

    sign: np.ndarray  # +1 higher is worse, -1 lower is worse
    warn: np.ndarray  # thresholds multiplied by sign, so that "worse" is always "greater"
    crit: np.ndarray
    sustained: np.ndarray  # int64 us
    step: np.ndarray  # int64 us
    max_gap: np.ndarray  # int64 us


def series_rules(
    samples: Samples, bands: Mapping[str, Indicator], sustained: Mapping[str, float], max_gap: timedelta | None
) -> SeriesRules:
    """The rule arrays of every series: bands turned "greater is worse", sustained minutes, step and max gap."""
    metric = samples.series["metric"]
    sign = np.array([1.0 if bands[m].direction == "above" else -1.0 for m in metric])
    warn = np.array([bands[m].warning for m in metric]) * sign
    crit = np.array([bands[m].critical for m in metric]) * sign
    hold = np.array([round(sustained.get(m, 0.0) * US_PER_MINUTE) for m in metric], dtype=np.int64)
    step = _steps(samples.t, samples.bounds) if samples.t is not None else np.zeros(len(metric), dtype=np.int64)
    if max_gap is not None:
        if max_gap <= timedelta(0):
            raise ValueError(f"max_gap: expected a positive duration, got {max_gap}")
        gap = np.full(len(metric), max_gap // timedelta(microseconds=1), dtype=np.int64)
    else:
        gap = 2 * step
    return SeriesRules(sign, warn, crit, hold, step, gap)


def _steps(t: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Each series' typical step: the median of (up to 1001 evenly spread) intervals between its samples."""
    diffs = np.diff(bounds) - 1
    probes = np.minimum(np.maximum(diffs, 0), _STEP_PROBES)
    has = probes > 0
    result = np.zeros(len(diffs), dtype=np.int64)
    if has.any():
        owner = np.repeat(np.flatnonzero(has), probes[has])
        offset = np.arange(len(owner)) - np.repeat(np.cumsum(probes[has]) - probes[has], probes[has])
        position = bounds[owner] + offset * diffs[owner] // probes[owner]
        gaps = t[position + 1] - t[position]
        order = np.lexsort((gaps, owner))
        gaps = gaps[order]
        first = np.concatenate(([0], np.cumsum(probes[has])[:-1]))
        count = probes[has]
        result[has] = (gaps[first + (count - 1) // 2] + gaps[first + count // 2]) // 2
    fallback = int(np.median(result[has])) if has.any() else _DEFAULT_STEP_US
    result[~has] = fallback
    return result


def lookback_us(sustained: Mapping[str, float], metrics: Mapping[str, object]) -> int:
    """History to read before a window so that sustained runs crossing its start are judged right."""
    longest = max((sustained.get(m, 0.0) for m in metrics), default=0.0)
    return round((longest + 120) * US_PER_MINUTE) if longest > 0 else 0


@dataclass(frozen=True, eq=False)
class Evaluation:
    """The classification of every sample (band, status, breaks) and its runs of equal status, per series."""

    x: np.ndarray  # values times the series' sign: greater is worse
    band: np.ndarray  # int8 per sample: HEALTHY / WARNING / CRITICAL by level alone
    status: np.ndarray  # int8 per sample, after the sustained rule
    brk: np.ndarray  # bool per sample: starts a series or follows a gap longer than max_gap
    run_start: np.ndarray  # first sample of each run of equal status
    run_last: np.ndarray
    run_code: np.ndarray
    run_status: np.ndarray
    run_t0: np.ndarray  # us
    run_t1: np.ndarray  # us: when the run stopped holding


_BLOCK = 1 << 16  # samples per block: per-sample work runs block by block, in cache


def _blocks(bounds: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive series in blocks of about ``_BLOCK`` samples, as (first code, end code); a long series is
    a block of its own."""
    count = len(bounds) - 1
    if count <= 0:
        return []
    cuts = np.searchsorted(bounds, np.arange(_BLOCK, int(bounds[-1]), _BLOCK), side="right") - 1
    edges = np.unique(np.concatenate(([0], cuts, [count])))
    return list(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))


def _spread(values: np.ndarray, k0: int, k1: int, lengths: np.ndarray) -> Any:
    """Per-series values of codes k0..k1 repeated per sample, or a scalar when they are all the same."""
    part = values[k0:k1]
    if k1 - k0 == 1 or np.all(part == part[0]):
        return part[0]
    return np.repeat(part, lengths[k0:k1])


def bands_by_level(samples: Samples, rules: SeriesRules) -> tuple[np.ndarray, np.ndarray]:
    """(values in "greater is worse" space, band per sample), for frames without timestamps."""
    x = samples.v * np.repeat(rules.sign, np.diff(samples.bounds))
    warn = np.repeat(rules.warn, np.diff(samples.bounds))
    crit = np.repeat(rules.crit, np.diff(samples.bounds))
    return x, (x >= warn).astype(np.int8) * np.int8(WARNING) + (x > crit)


def evaluate(samples: Samples, rules: SeriesRules) -> Evaluation:
    """Band, status, breaks and runs of equal status, block by block (a block holds whole series)."""
    t, v, bounds = samples.t, samples.v, samples.bounds
    n = len(t)
    lengths = np.diff(bounds)
    mirrored = bool(np.any(rules.sign < 0))
    x = np.empty_like(v) if mirrored else v
    band = np.empty(n, dtype=np.int8)
    brk = np.empty(n, dtype=bool)
    change = np.empty(n, dtype=bool)
    sustained = bool(np.any(rules.sustained > 0))
    status = np.empty(n, dtype=np.int8) if sustained else band
    for k0, k1 in _blocks(bounds):
        a, b = int(bounds[k0]), int(bounds[k1])
        if a == b:
            continue
        xs = np.multiply(v[a:b], _spread(rules.sign, k0, k1, lengths), out=x[a:b]) if mirrored else v[a:b]
        ts = t[a:b]
        seg = band[a:b]
        np.greater_equal(xs, _spread(rules.warn, k0, k1, lengths), out=seg.view(np.bool_))
        seg <<= 1  # WARNING == 2
        seg += np.greater(xs, _spread(rules.crit, k0, k1, lengths))
        cut = brk[a:b]
        cut[0] = True
        gap = _spread(rules.max_gap, k0, k1, lengths)
        np.greater(np.diff(ts), gap if np.isscalar(gap) else gap[1:], out=cut[1:])
        if k1 - k0 > 1:
            firsts = bounds[k0:k1][lengths[k0:k1] > 0] - a
            cut[firsts] = True
        state = seg
        if sustained:
            state = status[a:b]
            state[:] = seg
            _sustain(ts, seg, cut, state, _spread(rules.sustained, k0, k1, lengths))
        flags = change[a:b]
        flags[0] = True
        np.not_equal(state[1:], state[:-1], out=flags[1:])
        flags |= cut
    run_start = np.flatnonzero(change)
    run_last = np.append(run_start[1:] - 1, n - 1) if n else run_start
    run_code = np.searchsorted(bounds, run_start, side="right") - 1
    following = run_last + 1
    contiguous = following < n
    contiguous[contiguous] = ~brk[following[contiguous]]
    held = np.where(contiguous, t[np.minimum(following, n - 1)] - t[run_last], rules.step[run_code]) if n else t
    return Evaluation(
        x=x,
        band=band,
        status=status,
        brk=brk,
        run_start=run_start,
        run_last=run_last,
        run_code=run_code,
        run_status=status[run_start],
        run_t0=t[run_start],
        run_t1=t[run_last] + held,
    )


def _sustain(ts: np.ndarray, band: np.ndarray, cut: np.ndarray, status: np.ndarray, needed: Any) -> None:
    """Demote to warning the critical-band samples whose run has not yet lasted ``needed`` microseconds."""
    hot = np.flatnonzero(band == CRITICAL)
    if not len(hot) or (np.isscalar(needed) and needed <= 0):
        return
    new = np.empty(len(hot), dtype=bool)
    new[0] = True
    np.not_equal(np.diff(hot), 1, out=new[1:])
    new[1:] |= cut[hot[1:]]
    first = np.where(new, np.arange(len(hot)), 0)
    np.maximum.accumulate(first, out=first)
    elapsed = ts[hot] - ts[hot[first]]
    early = elapsed < (needed if np.isscalar(needed) else needed[hot])
    status[hot[early]] = WARNING
