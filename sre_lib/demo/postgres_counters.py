"""Counters as pg_stat_* views keep them: running totals and extremes that restart at a reset, last events.

Also the integer casts every generated column goes through.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np


def first_index_at(secs: np.ndarray, at: float) -> int | None:
    """Index of the first snapshot at or after ``at`` seconds, None if that is the first or none."""
    idx = int(np.searchsorted(secs, at))
    return idx if 0 < idx < len(secs) else None


def cumulative(increments: np.ndarray, reset: int | None) -> np.ndarray:
    """Running totals down axis 0. From row ``reset`` on they restart from zero: the increments of that row
    (work done just before the reset) are lost with it."""
    inc = increments.copy()
    if reset is not None:
        inc[reset] = 0
    total = np.cumsum(inc, axis=0)
    if reset is not None:
        total[reset:] -= total[reset - 1]
    return total


def running(ufunc: np.ufunc, values: np.ndarray, reset: int | None) -> np.ndarray:
    """Running min or max down axis 0, restarting at ``reset``."""
    cuts = [0, reset, len(values)] if reset is not None else [0, len(values)]
    return np.concatenate([ufunc.accumulate(values[a:b], axis=0) for a, b in pairwise(cuts)])


def as_int32(values: np.ndarray) -> np.ndarray:
    """Rounded to int32, as PostgreSQL's integer columns hold them."""
    return np.asarray(np.round(values), dtype=np.int32)


def as_int64(values: np.ndarray) -> np.ndarray:
    """Rounded to int64, as PostgreSQL's bigint counters hold them."""
    return np.asarray(np.round(values), dtype=np.int64)


def last_event(events: np.ndarray, secs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each snapshot: seconds of the latest event at or before it (NaN if none) and how many there were."""
    events = np.sort(events)
    count = np.searchsorted(events, secs, side="right")
    if len(events) == 0:
        return np.full(len(secs), np.nan), count
    return np.where(count > 0, events[np.maximum(count - 1, 0)], np.nan), count
