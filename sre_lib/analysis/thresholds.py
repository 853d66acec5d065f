"""Time to threshold: when a forecast crosses each band (warning, critical, full), earliest / likely / latest.

The earliest date comes from the outer prediction bound, the likely one from the mean, the latest from the
inner bound. ``sre_lib.analysis.predict_linear`` asks the same question exactly as Prometheus's ``predict_linear`` does,
so the result can be set next to what an alert rule would say.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from sre_lib.analysis.forecast import Forecast, date_text
from sre_lib.config import Indicator, PlatformConfig
from sre_lib.errors import DataError

__all__ = ["Crossing", "thresholds_for", "time_to_threshold", "time_to_threshold_many"]

Direction = Literal["above", "below"]
DISK_FULL_PERCENT = 100.0
FULL_AT = {"disk": DISK_FULL_PERCENT}  # metrics with a hard ceiling worth a "full" threshold


@dataclass(frozen=True)
class Crossing:
    """When a forecast crosses one threshold: earliest (outer band), likely (mean), latest (inner band).

    A date is None when that line does not cross within the horizon (up to ``horizon_end``).
    """

    name: str
    threshold: float
    direction: Direction
    earliest: pd.Timestamp | None
    likely: pd.Timestamp | None
    latest: pd.Timestamp | None
    horizon_end: pd.Timestamp
    already: bool
    trustworthy: bool
    reason: str

    @property
    def summary(self) -> str:
        """One line for a report, with '[NOT TRUSTWORTHY: reason]' appended when the forecast is not trusted.

        For example 'critical 85: likely 2027-01-14 (earliest 2026-12-20, latest not within horizon)'.
        """

        def say(stamp: pd.Timestamp | None) -> str:
            return "not within horizon" if stamp is None else date_text(stamp)

        head = f"{self.name} {self.threshold:g}: "
        dates = f"(earliest {say(self.earliest)}, latest {say(self.latest)})"
        back = "below" if self.direction == "above" else "above"
        if self.already and self.earliest is None:
            text = (
                head + f"already {self.direction}; the forecast is back {back} it through {date_text(self.horizon_end)}"
            )
        elif self.already and self.likely is not None:
            text = head + f"already {self.direction}; forecast {self.direction} it from {say(self.likely)} {dates}"
        elif self.already:
            text = head + f"already {self.direction}; the forecast mean is back {back} it, its band is not {dates}"
        elif self.earliest is None:
            text = head + f"not within horizon (to {date_text(self.horizon_end)})"
        else:
            text = head + f"likely {say(self.likely)} {dates}"
        return text if self.trustworthy else f"{text} [NOT TRUSTWORTHY: {self.reason}]"

    def __str__(self) -> str:
        return self.summary


def thresholds_for(indicator: Indicator, *, full: float | None = None) -> dict[str, float]:
    """Warning and critical levels of a configured indicator, plus ``full`` (e.g. 100 for a disk) if given."""
    levels = {"warning": indicator.warning, "critical": indicator.critical}
    if full is not None:
        levels["full"] = float(full)
    return levels


def _check_thresholds(thresholds: Mapping[str, float], direction: Direction) -> dict[str, float]:
    if direction not in ("above", "below"):
        raise ValueError(f"direction: expected 'above' or 'below', got {direction!r}")
    levels = {str(name): float(level) for name, level in thresholds.items()}
    if not levels:
        raise ValueError("no thresholds given")
    for name, level in levels.items():
        if not math.isfinite(level):
            raise ValueError(f"threshold {name!r} is {level}: expected a finite number")
    items = list(levels.items())
    for (name_a, a), (name_b, b) in itertools.pairwise(items):
        if (direction == "above" and not a < b) or (direction == "below" and not a > b):
            relation = "below" if direction == "above" else "above"
            raise ValueError(
                f"thresholds out of order: {name_a} ({a:g}) must be {relation} {name_b} ({b:g}) "
                f"when {'higher' if direction == 'above' else 'lower'} is worse"
            )
    return levels


def _first(dates: np.ndarray, values: np.ndarray, level: float, above: bool) -> pd.Timestamp | None:
    hits = values >= level if above else values <= level
    return pd.Timestamp(dates[int(np.argmax(hits))]) if hits.any() else None


def _crossings(
    frame: pd.DataFrame,
    last_value: float,
    levels: Mapping[str, float],
    direction: Direction,
    band: int,
    trustworthy: bool,
    reason: str,
) -> list[Crossing]:
    if band not in (80, 95):
        raise ValueError(f"band: expected 80 or 95, got {band!r}")
    above = direction == "above"
    dates = frame["date"].to_numpy()
    lo, hi, mean = (frame[c].to_numpy(dtype=float) for c in (f"lo{band}", f"hi{band}", "mean"))
    outer, inner = (hi, lo) if above else (lo, hi)
    out = []
    for name, level in levels.items():
        out.append(
            Crossing(
                name=name,
                threshold=level,
                direction=direction,
                earliest=_first(dates, outer, level, above),
                likely=_first(dates, mean, level, above),
                latest=_first(dates, inner, level, above),
                horizon_end=pd.Timestamp(dates[-1]),
                already=bool(last_value >= level if above else last_value <= level),
                trustworthy=trustworthy,
                reason=reason,
            )
        )
    return out


def _crossing_frame(crossings: list[Crossing]) -> pd.DataFrame:
    rows = [
        {
            "threshold": c.name,
            "level": c.threshold,
            "direction": c.direction,
            "earliest": c.earliest,
            "likely": c.likely,
            "latest": c.latest,
            "already": c.already,
            "summary": c.summary,
            "trustworthy": c.trustworthy,
            "reason": c.reason,
        }
        for c in crossings
    ]
    frame = pd.DataFrame(rows)
    for column in ("earliest", "likely", "latest"):  # NaT, not None, where a line does not cross
        frame[column] = pd.to_datetime(frame[column].astype(object).where(frame[column].notna(), pd.NaT))
    return frame


def time_to_threshold(
    fc: Forecast,
    thresholds: Mapping[str, float] | Indicator,
    *,
    direction: Direction | None = None,
    band: int = 95,
) -> pd.DataFrame:
    """When a forecast crosses each threshold: one row per threshold with earliest / likely / latest dates.

    ``thresholds``: ordered levels such as ``{"warning": 70, "critical": 85, "full": 100}`` (see
    ``thresholds_for``) or a configured ``Indicator`` (its warning and critical, and its direction).
    ``direction``: 'above' (higher is worse, default) or 'below'. The crossing date of a line is the first
    forecast date at or beyond the threshold: earliest from the upper ``band`` % bound (lower for 'below'),
    likely from the mean, latest from the lower bound; NaT (and 'not within horizon' in ``summary``) when the
    line does not cross within the horizon. ``already``: the last observed value is already beyond it.
    Columns: threshold, level, direction, earliest, likely, latest, already, summary, trustworthy, reason.
    """
    if isinstance(thresholds, Indicator):
        direction = direction or thresholds.direction
        thresholds = thresholds_for(thresholds)
    way: Direction = direction or "above"
    levels = _check_thresholds(thresholds, way)
    last_value = float(fc.history["value"].iloc[-1])
    return _crossing_frame(_crossings(fc.frame, last_value, levels, way, band, fc.trustworthy, fc.reason))


def time_to_threshold_many(
    forecasts: pd.DataFrame,
    config: PlatformConfig,
    *,
    keys: Sequence[str] | None = None,
    metric: str = "metric",
    band: int = 95,
    last_values: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Crossing dates for every series of a ``forecast_many`` result, with the bands configured per metric.

    Series whose metric has no configured indicator are skipped; disks also get ``full`` at 100 %.
    ``last_values`` (the key columns and ``value``) gives each series' last observed value, which ``already``
    is judged on; for a series without one, ``already`` reports whether the first forecast step is beyond.
    """
    key_columns = list(keys) if keys is not None else list(forecasts.columns[: forecasts.columns.get_loc("date")])
    if metric not in key_columns:
        raise ValueError(f"time to threshold: {metric!r} is not one of the key columns {key_columns}")
    observed: dict[tuple[Any, ...], float] = {}
    if last_values is not None:
        missing = [column for column in [*key_columns, "value"] if column not in last_values]
        if missing:
            raise DataError(f"time to threshold: last_values lacks column(s) {missing}")
        rows = last_values[key_columns].itertuples(index=False, name=None)
        observed = dict(zip(rows, last_values["value"].astype(float), strict=True))
    parts = []
    valid = forecasts[forecasts["date"].notna()]
    for key, group in valid.groupby(key_columns, sort=True, dropna=False, observed=True):
        key_tuple = key if isinstance(key, tuple) else (key,)
        name = key_tuple[key_columns.index(metric)]
        indicator = config.indicators.get(str(name))
        if indicator is None:
            continue
        levels = _check_thresholds(thresholds_for(indicator, full=FULL_AT.get(str(name))), indicator.direction)
        trusted, reason = bool(group["trustworthy"].iloc[0]), str(group["reason"].iloc[0])
        start_value = observed.get(key_tuple, float(group["mean"].iloc[0]))
        frame = _crossing_frame(_crossings(group, start_value, levels, indicator.direction, band, trusted, reason))
        for column, item in zip(key_columns, key_tuple, strict=True):
            frame.insert(key_columns.index(column), column, item)
        parts.append(frame)
    if not parts:
        return pd.DataFrame(columns=[*key_columns, "threshold", "level", "likely"])
    return pd.concat(parts, ignore_index=True)
