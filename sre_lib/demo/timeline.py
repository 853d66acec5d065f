"""The demo's time grid: snapshot instants, seconds since the start, local wall-clock times, the daily load.

Shared by the PostgreSQL, Redis and backup histories, so every source of the demo follows one clock and one
traffic cycle.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from sre_lib.demo.spec import DemoSpec

SECONDS_PER_DAY = 86_400.0


def snapshot_times(spec: DemoSpec, every: timedelta) -> pd.DatetimeIndex:
    """Snapshot instants from spec.start to spec.end inclusive (UTC)."""
    return pd.date_range(spec.start, spec.end, freq=every)


def seconds_since_start(spec: DemoSpec, times: pd.DatetimeIndex) -> np.ndarray:
    """Seconds from spec.start to each instant: the float axis every generator computes on."""
    return np.asarray((pd.DatetimeIndex(times) - pd.Timestamp(spec.start)).total_seconds(), dtype=float)


def at_seconds(spec: DemoSpec, secs: np.ndarray) -> pd.DatetimeIndex:
    """Instants ``secs`` seconds after spec.start, to the microsecond (NaN gives NaT)."""
    offsets = pd.to_timedelta(np.round(np.asarray(secs, dtype=float), 6), unit="s")
    return (pd.Timestamp(spec.start) + offsets).as_unit("us")


_LOAD_HOURS = np.arange(0, 25, 2)
_LOAD_LEVELS = np.array([0.42, 0.25, 0.18, 0.22, 0.45, 0.62, 0.72, 0.70, 0.72, 0.85, 1.0, 0.78, 0.42])
WEEKEND_FACTOR = 0.78


def daily_load(times: pd.DatetimeIndex, tz: ZoneInfo, weekend_factor: float = WEEKEND_FACTOR) -> np.ndarray:
    """Relative traffic at each instant: low at 04:00, peak at 20:00 local time, weekends lower.

    Averages 1 over whole weeks, so ``per_day * daily_load / snapshots_per_day`` is a rate per snapshot.
    """
    local = pd.DatetimeIndex(times).tz_convert(tz)
    level = np.interp(local.hour + local.minute / 60, _LOAD_HOURS, _LOAD_LEVELS)
    level = level * np.where(local.day_of_week >= 5, weekend_factor, 1.0)
    return level / (_LOAD_LEVELS[:-1].mean() * (5 + 2 * weekend_factor) / 7)


def local_instants(start: datetime, end: datetime, tz: ZoneInfo, hhmm: str) -> pd.DatetimeIndex:
    """Each day's local wall-clock time ``hhmm`` (DST-correct) that falls within [start, end], in UTC."""
    hour, minute = (int(part) for part in hhmm.split(":"))
    days = pd.date_range(start.astimezone(tz).date(), end.astimezone(tz).date(), freq="D")
    local = (days + pd.Timedelta(hours=hour, minutes=minute)).tz_localize(
        tz, nonexistent="shift_forward", ambiguous=np.ones(len(days), dtype=bool)
    )
    utc = local.tz_convert("UTC")
    return utc[(utc >= start) & (utc <= end)]
