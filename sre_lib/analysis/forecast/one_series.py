"""One forecast: the core that forecasts a clean grid, ``forecast`` around it, and the ``Forecast`` it returns."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sre_lib.analysis.forecast.backtest import BACKTEST_COLUMNS, Backtest, _backtest, _trust
from sre_lib.analysis.forecast.blas_threads import _single_threaded_blas
from sre_lib.analysis.forecast.forecast_models import (
    MIN_ETS_POINTS,
    MIN_SEASONS,
    SEASONAL_STRENGTH_ONLY,
    Z,
    _Constant,
    _Ets,
    _Model,
    _seasonal_naive,
    _select_ets,
    _short_model,
)
from sre_lib.analysis.forecast.series_cleaning import (
    PERIOD,
    UNIT_NAME,
    Bounds,
    _as_series,
    _check_bounds,
    _clean,
    _clip,
    _grid,
)
from sre_lib.analysis.signals import Freq, seasonal_strength, signal_frequency
from sre_lib.config import Indicator
from sre_lib.errors import DataError

SEASON = {"D": 7, "h": 24}  # default season length per signal frequency: a week of days, a day of hours


@dataclass
class _Result:
    """Everything a forecast computes, as plain arrays (cheap to send back from a worker process)."""

    start: int
    y: np.ndarray
    interpolated: np.ndarray
    mean: np.ndarray
    lo80: np.ndarray
    hi80: np.ndarray
    lo95: np.ndarray
    hi95: np.ndarray
    model: str
    params: dict[str, float]
    backtest: Backtest
    trustworthy: bool
    reason: str
    notes: list[str]


def _forecast_grid(
    grid: np.ndarray, freq: Freq, m: int, horizon: int, bounds: Bounds, max_gap: int | None, refit: bool
) -> _Result:
    unit = UNIT_NAME[freq]
    clean = _clean(grid, bounds, m if max_gap is None else max_gap, unit)
    y, notes = clean.y, clean.notes
    n = len(y)
    spread = float(np.ptp(y))
    strength = 0.0
    model: _Model
    if spread <= 1e-9 * max(1.0, float(np.max(np.abs(y)))):
        model = _Constant(name="constant", params={"level": float(y[-1])}, q=dict(Z), level=float(y[-1]))
    elif n < MIN_ETS_POINTS:
        model = _short_model(y)
    else:
        strength = seasonal_strength(y, m) if m > 1 and n >= MIN_SEASONS * m else 0.0
        model = _select_ets(y, m, strength, notes)
    short = isinstance(model, _Constant) or n < MIN_ETS_POINTS
    backtest = Backtest(refit=refit) if short else _backtest(y, model, m, bounds, refit)
    if isinstance(model, _Ets) and backtest.mase >= 1 and strength >= SEASONAL_STRENGTH_ONLY:
        notes.append(
            f"{model.name} lost to the seasonal-naive forecast in backtest (MASE {backtest.mase:.2f}) on a strongly "
            f"seasonal history (strength {strength:.2f}): the seasonal-naive forecast is used, which assumes no growth"
        )
        model = _seasonal_naive(y, m)
        model.params["seasonal_strength"] = round(strength, 4)
        backtest = _backtest(y, model, m, bounds, refit)
    mean, sd = model.predict(n, horizon)
    frame = {"mean": _clip(mean, bounds)}
    for level in (80, 95):
        frame[f"lo{level}"] = _clip(mean - model.q[level] * sd, bounds)
        frame[f"hi{level}"] = _clip(mean + model.q[level] * sd, bounds)
    trustworthy, reason = _trust(model, backtest, n, int(clean.interpolated.sum()), unit)
    return _Result(
        start=clean.start,
        y=y,
        interpolated=clean.interpolated,
        model=model.name,
        params=model.params,
        backtest=backtest,
        trustworthy=trustworthy,
        reason=reason,
        notes=notes,
        **frame,
    )


@dataclass(frozen=True, eq=False, repr=False)
class Forecast:
    """A forecast of one capacity signal, with its history and the backtest that says whether to trust it.

    ``history``: date, value, interpolated (the cleaned history the model saw). ``frame``: date, mean, lo80,
    hi80, lo95, hi95. ``trustworthy`` is False with a ``reason`` when the backtest shows the forecast no better
    than seasonal naive, its intervals too narrow, or the history too short, constant or mostly interpolated.
    """

    history: pd.DataFrame
    frame: pd.DataFrame
    model: str
    params: Mapping[str, float]
    backtest: Backtest
    trustworthy: bool
    reason: str
    freq: str
    season: int
    bounds: Bounds = (None, None)
    notes: tuple[str, ...] = ()

    @property
    def horizon(self) -> int:
        return len(self.frame)

    @property
    def trust_label(self) -> str:
        """'trustworthy' or 'NOT TRUSTWORTHY: <reason>', for every place a forecast is shown."""
        return "trustworthy" if self.trustworthy else f"NOT TRUSTWORTHY: {self.reason}"

    def backtest_frame(self) -> pd.DataFrame:
        """Every backtest point: origin (last date seen), date, step, actual, mean, bands, seasonal naive."""
        detail = self.backtest.detail
        if not detail:
            return pd.DataFrame(columns=["origin", "date", *BACKTEST_COLUMNS[2:]])
        dates = self.history["date"]
        frame = pd.DataFrame({name: detail[name] for name in BACKTEST_COLUMNS[2:]})
        frame.insert(0, "date", dates.iloc[detail["target"]].to_numpy())
        frame.insert(0, "origin", dates.iloc[detail["origin"] - 1].to_numpy())
        return frame

    def to_frame(self) -> pd.DataFrame:
        """History and forecast stacked for charts: date, kind ('history' / 'forecast'), value, mean, bands."""
        history = self.history.assign(kind="history")
        future = self.frame.assign(kind="forecast")
        return pd.concat([history, future], ignore_index=True)[
            ["date", "kind", "value", "mean", "lo80", "hi80", "lo95", "hi95"]
        ]

    def __repr__(self) -> str:
        unit = UNIT_NAME.get(self.freq, self.freq)
        last = self.frame.iloc[-1]
        first_date, last_date = date_text(self.frame["date"].iloc[0]), date_text(last["date"])
        lines = [
            f"Forecast {self.model}: {len(self.history)} {unit}s of history -> {self.horizon} {unit}s "
            f"({first_date} .. {last_date})",
            f"  last value {self.history['value'].iloc[-1]:.4g}; at {last_date}: {last['mean']:.4g} "
            f"(80 %: {last['lo80']:.4g} .. {last['hi80']:.4g}, 95 %: {last['lo95']:.4g} .. {last['hi95']:.4g})",
            f"  {self.backtest!r}",
            f"  {self.trust_label}",
        ]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def date_text(stamp: pd.Timestamp) -> str:
    """A forecast date as text: the day alone for a daily signal, else day and time."""
    stamp = pd.Timestamp(stamp)
    if stamp == stamp.normalize() and stamp.tz is None:
        return stamp.strftime("%Y-%m-%d")
    return stamp.strftime("%Y-%m-%d %H:%M")


def _check_horizon(horizon: int) -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ValueError(f"horizon: expected a whole number of periods >= 1, got {horizon!r}")
    return int(horizon)


def bounds_for(indicator: Indicator) -> Bounds:
    """Physical bounds of an indicator's values: (0, 100) for percentages, (0, None) for the rest."""
    return (0.0, 100.0) if indicator.unit.startswith("percent") else (0.0, None)


def forecast(
    signal: pd.DataFrame | pd.Series,
    horizon: int = 90,
    *,
    freq: str = "D",
    season: int | None = None,
    bounds: Bounds | None = None,
    max_gap: int | None = None,
    refit: bool = False,
    date: str = "date",
    value: str = "value",
) -> Forecast:
    """Forecast one capacity signal ``horizon`` periods ahead with 80 % and 95 % prediction intervals.

    ``signal``: a frame with ``date`` and ``value`` columns (as ``capacity_signal`` returns) or a Series indexed
    by date, one value per day (``freq='D'``) or hour (``'h'``). ``season``: the seasonal period, 7 for daily
    and 24 for hourly signals by default (1 for none). ``bounds``: the physically possible range, e.g.
    ``(0, 100)`` for a percentage (see ``bounds_for``): values outside it raise ``DataError``, forecasts and
    intervals are clipped to it. Gaps up to ``max_gap`` periods (default one season) are interpolated;
    history before a longer gap is dropped; more than half missing raises ``DataError``. ``refit``: re-estimate
    the parameters at every backtest origin (honest, about 4x slower) instead of holding them at the
    full-history estimates. See the module docstring for the model-selection rules.
    """
    frequency = signal_frequency(freq)
    steps = _check_horizon(horizon)
    limits = _check_bounds(bounds)
    m = SEASON[frequency] if season is None else int(season)
    if m < 1:
        raise ValueError(f"season: expected a period >= 1, got {season!r}")
    dates, values = _as_series(signal, date, value)
    first, grid = _grid(dates, values, frequency)
    step = PERIOD[frequency]
    try:
        with _single_threaded_blas():
            result = _forecast_grid(grid, frequency, m, steps, limits, max_gap, refit)
    except DataError as exc:
        raise DataError(_date_notes([str(exc)], first, step)[0]) from None
    history_dates = first + step * np.arange(result.start, result.start + len(result.y))
    future_dates = history_dates[-1] + step * np.arange(1, steps + 1)
    history = pd.DataFrame({"date": history_dates, "value": result.y, "interpolated": result.interpolated})
    frame = pd.DataFrame(
        {
            "date": future_dates,
            "mean": result.mean,
            "lo80": result.lo80,
            "hi80": result.hi80,
            "lo95": result.lo95,
            "hi95": result.hi95,
        }
    )
    return Forecast(
        history=history,
        frame=frame,
        model=result.model,
        params=dict(result.params),
        backtest=result.backtest,
        trustworthy=result.trustworthy,
        reason=result.reason,
        freq=frequency,
        season=m,
        bounds=limits,
        notes=tuple(_date_notes(result.notes, first, step)),
    )


def _date_notes(notes: Iterable[str], first: pd.Timestamp, step: pd.Timedelta) -> list[str]:
    """Replace grid positions ('day 12') in notes by dates."""

    def to_date(match: re.Match[str]) -> str:
        return date_text(first + step * int(match.group(2)))

    return [re.sub(r"\b(day|hour) (\d+)\b(?! ?s\b)", to_date, note) for note in notes]
