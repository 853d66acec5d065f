"""Growth forecasts: ETS forecasts with intervals and honest backtests, for one signal or a thousand.

The pipeline, one step per function, each returning a data frame or a frozen dataclass:

1. ``sre_lib.analysis.signals`` (``capacity_signal``, ``daily_signal``) turns raw samples into one value per local
   calendar day (or hour) of the platform's time zone: the p95 by default, or the max. Days follow the time zone,
   so a daylight-saving day has 23 or 25 hours of samples.
2. ``forecast`` fits exponential smoothing (statsmodels ETS) to one signal and returns a ``Forecast``: the
   history, the forecast with 80 % and 95 % prediction intervals, the model and its parameters, and a rolling-
   origin backtest (MASE against the seasonal-naive forecast, empirical interval coverage) that decides whether
   the forecast is ``trustworthy``. ``forecast_many`` does the same for a thousand series in parallel.
3. ``sre_lib.analysis.thresholds.time_to_threshold`` reads, from a forecast, when each band (warning, critical, 100 %
   for disk) is crossed: earliest (upper 95 % band), likely (mean), latest (lower band).

Model selection (``forecast``), on the cleaned signal of ``n`` points with season length ``m`` (7 for daily,
24 for hourly signals):

* fewer than 3 points: ``DataError``. A constant history: model ``constant`` (repeats it, zero-width intervals,
  flagged not trustworthy). Fewer than 14 points: ``linear`` (least-squares trend with t-intervals) when the
  slope is significant at 5 %, else ``naive`` (last value, random-walk intervals widening with sqrt(h));
  both flagged not trustworthy (too short to backtest).
* otherwise additive-error ETS (statsmodels ``ETSModel``, heuristic initial states) with a linear or a damped
  additive trend: a capacity forecast must be able to grow, and a flat series simply gets a slope near 0.
  Additive seasonality of period ``m`` is considered only with at least 3 full seasons and a seasonal strength
  (classical decomposition, 1 - var(remainder) / var(season + remainder)) of at least 0.2; from 0.5 only
  seasonal models are considered. The candidate with the lowest AICc wins (2 to 4 fits). If every fit fails,
  a ``naive`` forecast is used and the note says why.
* the winner is backtested (see ``Backtest``). If it loses to the seasonal-naive forecast (MASE >= 1) on a
  strongly seasonal history (strength >= 0.5, e.g. a daily cron spike), the ``seasonal naive`` forecast is
  shown instead, flagged not trustworthy: it is the better forecast, but it assumes no growth.

Bad input never reaches statsmodels: empty or all-NaN series, too few points, duplicates, misaligned dates,
values outside ``bounds`` (a negative percentage) and series too sparse to interpolate raise ``DataError``.
Statsmodels warnings are recorded inside the fit (never leaked) and reported in ``Forecast.notes``.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import math
import multiprocessing
import os
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.tools.eval_measures import aicc
from statsmodels.tools.sm_exceptions import ConvergenceWarning
from statsmodels.tsa.exponential_smoothing.ets import ETSModel

from sre_lib.analysis.signals import Freq, seasonal_strength, signal_frequency
from sre_lib.config import Indicator
from sre_lib.errors import DataError

__all__ = ["Backtest", "Forecast", "bounds_for", "date_text", "forecast", "forecast_many", "forecast_summary"]

Bounds = tuple[float | None, float | None]

SEASON = {"D": 7, "h": 24}  # default season length per signal frequency: a week of days, a day of hours
PERIOD = {"D": pd.Timedelta(days=1), "h": pd.Timedelta(hours=1)}
UNIT_NAME = {"D": "day", "h": "hour"}
MIN_POINTS = 3  # fewer: DataError
MIN_ETS_POINTS = 14  # fewer: linear or naive, not backtested
MIN_SEASONS = 3  # full seasons before a seasonal model is considered
SEASONAL_STRENGTH_TRY = 0.2  # seasonal candidates from this strength
SEASONAL_STRENGTH_ONLY = 0.5  # ... and only seasonal candidates from this one
BACKTEST_ORIGINS = 4
BACKTEST_COLUMNS = ("origin", "target", "step", "actual", "mean", "lo80", "hi80", "lo95", "hi95", "seasonal_naive")
MAX_MISSING_FRACTION = 0.5  # more missing (after dropping history before a long gap): DataError
MAX_INTERPOLATED_TRUSTED = 0.2  # more interpolated: not trustworthy
MIN_COVERAGE = {80: 0.60, 95: 0.80}  # backtest coverage below this: intervals too narrow, not trustworthy
Z = {80: float(stats.norm.ppf(0.90)), 95: float(stats.norm.ppf(0.975))}


# ----------------------------------------------------------------------------------------------- models

_BLAS_SYMBOLS = [
    (f"{prefix}_set_num_threads{suffix}", f"{prefix}_get_num_threads{suffix}")
    for prefix in ("scipy_openblas", "openblas")
    for suffix in ("64_", "")
]


@functools.cache
def _blas_controls() -> tuple[tuple[Any, Any], ...]:
    """(set, get) thread-count functions of every OpenBLAS loaded in this process; none off Linux."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line}
    except OSError:
        return ()
    controls = []
    for path in sorted(paths):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for set_name, get_name in _BLAS_SYMBOLS:
            setter, getter = getattr(library, set_name, None), getattr(library, get_name, None)
            if setter is not None and getter is not None:
                controls.append((setter, getter))
                break
    return tuple(controls)


@contextlib.contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """Run statsmodels' tiny optimisations on one BLAS thread.

    Why: L-BFGS-B on 2-5 parameters gains nothing from BLAS threads, but OpenBLAS's spinning threads make every
    fit ~10x slower as soon as the cores are busy (other work, or our own worker processes).
    """
    controls = _blas_controls()
    before = [getter() for _setter, getter in controls]
    for setter, _getter in controls:
        setter(1)
    try:
        yield
    finally:
        for (setter, _getter), count in zip(controls, before, strict=True):
            setter(count)


@dataclass
class _Model:
    """A fitted model that forecasts ``steps`` ahead from any ``origin`` (using observations before it)."""

    name: str
    params: dict[str, float]
    q: dict[int, float]  # interval half-width multipliers per level, times the standard deviation

    def predict(self, origin: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


@dataclass
class _Constant(_Model):
    level: float = 0.0

    def predict(self, origin: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
        return np.full(steps, self.level), np.zeros(steps)


@dataclass
class _Naive(_Model):
    y: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sigma: float = 0.0

    def predict(self, origin: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
        return np.full(steps, self.y[origin - 1]), self.sigma * np.sqrt(np.arange(1, steps + 1))


@dataclass
class _Linear(_Model):
    intercept: float = 0.0
    slope: float = 0.0
    s2: float = 0.0
    n: int = 0

    def predict(self, origin: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
        x = np.arange(origin, origin + steps, dtype=float)
        xbar = (self.n - 1) / 2.0
        sxx = float(((np.arange(self.n) - xbar) ** 2).sum())
        sd = np.sqrt(self.s2 * (1.0 + 1.0 / self.n + (x - xbar) ** 2 / sxx))
        return self.intercept + self.slope * x, sd


@dataclass(frozen=True)
class _EtsSpec:
    trend: bool
    damped: bool
    seasonal: bool

    @property
    def name(self) -> str:
        trend = "Ad" if self.damped else ("A" if self.trend else "N")
        return f"ETS(A,{trend},{'A' if self.seasonal else 'N'})"


@dataclass
class _Ets(_Model):
    """Additive-error ETS with statsmodels' estimates, re-filtered here so any origin can forecast.

    States are kept in the scaled space the model was fitted in (``(y - loc) / scale``).
    """

    spec: _EtsSpec = field(default_factory=lambda: _EtsSpec(False, False, False))
    season: int = 1
    alpha: float = 0.0
    beta: float = 0.0
    gamma: float = 0.0
    phi: float = 1.0
    sigma2: float = 0.0
    loc: float = 0.0
    scale: float = 1.0
    level: np.ndarray = field(default_factory=lambda: np.zeros(0))  # level[t]: after t observations
    slope: np.ndarray = field(default_factory=lambda: np.zeros(0))
    seasonals: np.ndarray = field(default_factory=lambda: np.zeros(0))  # seasonals[t + m]: s_t
    aicc: float = math.inf

    def predict(self, origin: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
        j = np.arange(1, steps + 1)
        if self.spec.damped:
            phi_j = np.cumsum(self.phi**j)
        elif self.spec.trend:
            phi_j = j.astype(float)
        else:
            phi_j = np.zeros(steps)
        mean = self.level[origin] + phi_j * self.slope[origin]
        m = self.season
        if self.spec.seasonal:
            mean = mean + self.seasonals[origin - 1 + j - m * np.ceil(j / m).astype(int) + m]
        c = self.alpha + self.beta * phi_j[:-1]
        if self.spec.seasonal:
            c = c + self.gamma * (j[:-1] % m == 0)
        variance = self.sigma2 * (1.0 + np.r_[0.0, np.cumsum(c**2)])
        return self.loc + self.scale * mean, self.scale * np.sqrt(variance)


def _fit_ets(scaled: np.ndarray, spec: _EtsSpec, m: int, loc: float, scale: float, notes: list[str]) -> _Ets | None:
    """Fit one ETS candidate with statsmodels; None (and a note) when it fails.

    statsmodels estimates the smoothing parameters (maximum likelihood, heuristic initial states); the states,
    the residual variance and the AICc are then computed here by ``_filter``, exactly as statsmodels' results
    would (a test checks it), which skips the Hessian statsmodels would compute for standard errors.
    """
    n = len(scaled)
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        try:
            model = ETSModel(
                scaled,
                error="add",
                trend="add" if spec.trend else None,
                damped_trend=spec.damped,
                seasonal="add" if spec.seasonal else None,
                seasonal_periods=m if spec.seasonal else None,
                initialization_method="heuristic",
            )
            estimates = np.asarray(model.fit(disp=False, return_params=True), dtype=float)
            params = dict(zip(model.param_names, estimates.tolist(), strict=True))
            fitted = _Ets(
                name=spec.name,
                params={},
                q=dict(Z),
                spec=spec,
                season=m if spec.seasonal else 1,
                alpha=params.get("smoothing_level", 0.0),
                beta=params.get("smoothing_trend", 0.0),
                gamma=params.get("smoothing_seasonal", 0.0),
                phi=params.get("damping_trend", 1.0),
                loc=loc,
                scale=scale,
            )
            sse = _filter(
                fitted,
                scaled,
                float(model.initial_level),
                float(model.initial_trend) if spec.trend else 0.0,
                np.asarray(model.initial_seasonal, dtype=float) if spec.seasonal else None,
            )
        except Exception as exc:  # statsmodels raises many types on degenerate data; the caller falls back
            notes.append(f"{spec.name} could not be fitted ({type(exc).__name__}: {exc})")
            return None
    if any(issubclass(warning.category, ConvergenceWarning) for warning in caught):
        notes.append(f"{spec.name}: optimizer did not fully converge")
    fitted.sigma2 = max(sse / n, 1e-12)  # scaled data has variance 1: a floor keeps a perfect fit finite
    llf = -n / 2.0 * (math.log(2 * math.pi) + math.log(fitted.sigma2) + 1.0)
    fitted.aicc = float(aicc(llf, n, len(estimates) + 1))  # statsmodels' df_model: free parameters + sigma
    values = [fitted.aicc, fitted.sigma2, fitted.alpha, fitted.beta, fitted.gamma, fitted.phi]
    if not all(math.isfinite(v) for v in values) or not np.isfinite(fitted.level).all():
        notes.append(f"{spec.name} gave non-finite estimates; discarded")
        return None
    fitted.params = {
        "alpha": fitted.alpha,
        **({"beta": fitted.beta} if spec.trend else {}),
        **({"gamma": fitted.gamma} if spec.seasonal else {}),
        **({"phi": fitted.phi} if spec.damped else {}),
        "sigma": fitted.scale * math.sqrt(fitted.sigma2),
        "aicc": fitted.aicc,
    }
    return fitted


def _filter(model: _Ets, y: np.ndarray, level0: float, slope0: float, seasonal0: np.ndarray | None) -> float:
    """Run the ETS(A,*,*) recursions over ``y``, keep every state, return the sum of squared one-step errors."""
    n, m = len(y), model.season
    phi = model.phi if model.spec.damped else (1.0 if model.spec.trend else 0.0)
    level = np.empty(n + 1)
    slope = np.zeros(n + 1)
    seasonals = np.zeros(n + m)
    level[0] = level0
    slope[0] = slope0 if model.spec.trend else 0.0
    if seasonal0 is not None:
        seasonals[:m] = seasonal0
    alpha, beta, gamma = model.alpha, model.beta, model.gamma
    seasonal = model.spec.seasonal
    lv, sl = level[0], slope[0]
    sse = 0.0
    for t in range(n):
        s = seasonals[t] if seasonal else 0.0
        error = y[t] - (lv + phi * sl + s)
        sse += error * error
        lv, sl = lv + phi * sl + alpha * error, phi * sl + beta * error
        level[t + 1], slope[t + 1] = lv, sl
        if seasonal:
            seasonals[t + m] = s + gamma * error
    model.level, model.slope, model.seasonals = level, slope, seasonals
    return sse


def _candidates(n: int, m: int, strength: float) -> list[_EtsSpec]:
    seasonal_ok = m > 1 and n >= MIN_SEASONS * m and strength >= SEASONAL_STRENGTH_TRY
    options = [False, True] if seasonal_ok else [False]
    if seasonal_ok and strength >= SEASONAL_STRENGTH_ONLY:
        options = [True]
    trends = [(True, False), (True, True)]  # linear or damped: a capacity forecast must be able to grow
    return [_EtsSpec(trend, damped, seasonal) for seasonal in options for trend, damped in trends]


def _select_ets(y: np.ndarray, m: int, strength: float, notes: list[str]) -> _Model:
    loc, scale = float(np.mean(y)), float(np.std(y))
    scaled = (y - loc) / scale
    fits = [fit for spec in _candidates(len(y), m, strength) if (fit := _fit_ets(scaled, spec, m, loc, scale, notes))]
    if not fits:
        notes.append("every ETS candidate failed: naive forecast instead")
        return _naive(y)
    best = min(fits, key=lambda fit: fit.aicc)
    best.params["seasonal_strength"] = round(strength, 4)
    return best


def _refit(y: np.ndarray, model: _Ets) -> _Ets | None:
    scaled = (y - model.loc) / model.scale
    return _fit_ets(scaled, model.spec, model.season, model.loc, model.scale, [])


@dataclass
class _SeasonalNaive(_Model):
    y: np.ndarray = field(default_factory=lambda: np.zeros(0))
    season: int = 1
    sigma: float = 0.0

    def predict(self, origin: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
        j = np.arange(1, steps + 1)
        m = self.season
        return self.y[origin - 1 + j - m * np.ceil(j / m).astype(int)], self.sigma * np.sqrt(np.ceil(j / m))


def _seasonal_naive(y: np.ndarray, m: int) -> _SeasonalNaive:
    sigma = float(np.sqrt(np.mean((y[m:] - y[:-m]) ** 2)))
    return _SeasonalNaive(name="seasonal naive", params={"sigma": sigma}, q=dict(Z), y=y, season=m, sigma=sigma)


def _naive(y: np.ndarray) -> _Naive:
    n = len(y)
    diffs = np.diff(y)
    sigma = float(np.sqrt(np.mean(diffs**2))) if len(diffs) else 0.0
    q = {level: float(stats.t.ppf(0.5 + level / 200.0, df=max(n - 1, 1))) for level in (80, 95)}
    return _Naive(name="naive", params={"sigma": sigma}, q=q, y=y, sigma=sigma)


def _short_model(y: np.ndarray) -> _Model:
    """Linear trend when its slope is significant (5 %), else naive: for histories too short for ETS."""
    n = len(y)
    x = np.arange(n, dtype=float)
    slope, intercept = np.polyfit(x, y, 1)
    residuals = y - (intercept + slope * x)
    s2 = float(residuals @ residuals) / (n - 2) if n > 2 else 0.0
    sxx = float(((x - x.mean()) ** 2).sum())
    se = math.sqrt(s2 / sxx) if sxx > 0 else math.inf
    t_crit = float(stats.t.ppf(0.975, df=max(n - 2, 1)))
    significant = se == 0.0 or (math.isfinite(se) and abs(slope) / se > t_crit)
    if not significant:
        return _naive(y)
    q = {level: float(stats.t.ppf(0.5 + level / 200.0, df=max(n - 2, 1))) for level in (80, 95)}
    params = {"intercept": float(intercept), "slope": float(slope), "sigma": math.sqrt(s2)}
    return _Linear(name="linear", params=params, q=q, intercept=float(intercept), slope=float(slope), s2=s2, n=n)


# ----------------------------------------------------------------------------------------------- cleaning


@dataclass
class _Clean:
    y: np.ndarray
    start: int  # index into the regular grid of the first point kept
    interpolated: np.ndarray
    notes: list[str]


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _clean(grid: np.ndarray, bounds: Bounds, max_gap: int, unit: str) -> _Clean:
    """Check a series on its regular grid (NaN = missing), drop history before a long gap, interpolate."""
    values = np.asarray(grid, dtype=float)
    if len(values) == 0:
        raise DataError("empty series: nothing to forecast")
    if np.isinf(values).any():
        raise DataError(f"{_count(int(np.isinf(values).sum()), 'infinite value')}: expected finite numbers")
    present = ~np.isnan(values)
    if not present.any():
        raise DataError(f"all {len(values)} values are missing (NaN): nothing to forecast")
    lower, upper = bounds
    if lower is not None and (below := values[present] < lower).any():
        first = int(np.flatnonzero(present)[np.argmax(below)])
        raise DataError(
            f"{_count(int(below.sum()), 'value')} below {lower:g} (first at {unit} {first}: {values[first]:g}): "
            "impossible for this series"
        )
    if upper is not None and (above := values[present] > upper).any():
        first = int(np.flatnonzero(present)[np.argmax(above)])
        raise DataError(
            f"{_count(int(above.sum()), 'value')} above {upper:g} (first at {unit} {first}: {values[first]:g}): "
            "impossible for this series"
        )
    notes: list[str] = []
    index = np.flatnonzero(present)
    values = values[index[0] : index[-1] + 1]
    start = int(index[0])
    present = ~np.isnan(values)
    index = np.flatnonzero(present)
    gaps = np.diff(index) - 1
    long = np.flatnonzero(gaps > max_gap)
    if len(long):
        cut = int(index[long[-1] + 1])
        notes.append(
            f"history before {unit} {start + cut} dropped: a gap of {int(gaps[long[-1]])} {unit}s "
            f"(longer than {max_gap}) precedes it"
        )
        values, start = values[cut:], start + cut
        present = ~np.isnan(values)
    missing = int((~present).sum())
    if present.sum() < MIN_POINTS:
        raise DataError(f"only {int(present.sum())} usable points: a forecast needs at least {MIN_POINTS}")
    if missing > MAX_MISSING_FRACTION * len(values):
        raise DataError(
            f"too sparse: {missing} of {len(values)} {unit}s missing "
            f"(more than {MAX_MISSING_FRACTION:.0%}); cannot interpolate honestly"
        )
    if missing:
        index = np.flatnonzero(present)
        values = values.copy()
        values[~present] = np.interp(np.flatnonzero(~present), index, values[index])
        notes.append(f"{_count(missing, 'missing ' + unit)} interpolated linearly")
    return _Clean(y=values, start=start, interpolated=~present, notes=notes)


# ----------------------------------------------------------------------------------------------- backtest


@dataclass(frozen=True)
class Backtest:
    """Rolling-origin backtest of a forecast on its own history.

    From each origin the forecast covers the next ``horizon`` points, which it did not see; the seasonal-naive
    forecast (the value one season earlier, repeated) is made from the same origins for the same points.

    ``mase``: the forecast's mean absolute error scaled by the seasonal-naive forecast's MAE on the same points,
    so below 1 means better than seasonal naive at the horizons that matter, and >= 1 means no better.
    ``mase_in_sample``: the textbook MASE (Hyndman & Koehler 2006), scaled by the in-sample MAE of the one-step
    seasonal-naive forecast before each origin; comparable with the literature, but multi-step errors make it
    exceed 1 even for useful forecasts, so it is reported, not judged.
    ``coverage80`` / ``coverage95``: share of backtest points inside the 80 % / 95 % intervals.
    ``refit``: parameters re-estimated at each origin (else held at the full-history estimates, states re-run).
    """

    origins: int = 0
    horizon: int = 0
    points: int = 0
    mase: float = math.nan
    mase_in_sample: float = math.nan
    coverage80: float = math.nan
    coverage95: float = math.nan
    refit: bool = False
    detail: Mapping[str, np.ndarray] = field(default_factory=dict, compare=False)  # see Forecast.backtest_frame

    def __repr__(self) -> str:
        if not self.origins:
            return "Backtest(none: history too short)"
        return (
            f"Backtest({self.origins} origins x {self.horizon} steps{', refit' if self.refit else ''}: "
            f"MASE {self.mase:.2f} vs seasonal naive (in-sample scaled {self.mase_in_sample:.2f}), "
            f"80 % interval covered {self.coverage80:.0%}, 95 % covered {self.coverage95:.0%})"
        )


def _backtest(y: np.ndarray, model: _Model, m: int, bounds: Bounds, refit: bool) -> Backtest:
    n = len(y)
    steps = min(2 * m if m > 1 else MIN_ETS_POINTS, n // 4)
    seasonal = isinstance(model, _Ets) and model.spec.seasonal
    min_train = max(MIN_ETS_POINTS, 2 * m, MIN_SEASONS * m if seasonal else 0)
    origins = [n - i * steps for i in range(1, BACKTEST_ORIGINS + 1) if n - i * steps >= min_train]
    if steps < 1 or not origins:
        return Backtest(refit=refit)
    scaled_errors, model_errors, naive_errors, inside = [], [], [], {80: [], 95: []}
    detail: dict[str, list[np.ndarray]] = {name: [] for name in BACKTEST_COLUMNS}
    used = 0
    for origin in origins:
        fitted: _Model | None = model
        if refit and isinstance(model, _Ets):
            fitted = _refit(y[:origin], model)
        if fitted is None:
            continue
        mean, sd = fitted.predict(origin, steps)
        actual = y[origin : origin + steps]
        j = np.arange(1, steps + 1)
        naive = y[origin - 1 + j - m * np.ceil(j / m).astype(int)]
        scale = float(np.mean(np.abs(y[m:origin] - y[: origin - m])))
        errors = np.abs(actual - _clip(mean, bounds))
        model_errors.append(errors)
        naive_errors.append(np.abs(actual - naive))
        if scale > 0:
            scaled_errors.append(errors / scale)
        rows = {"origin": np.full(steps, origin), "target": origin - 1 + j, "step": j, "actual": actual}
        rows |= {"mean": _clip(mean, bounds), "seasonal_naive": naive}
        for level in (80, 95):
            lo, hi = _clip(mean - fitted.q[level] * sd, bounds), _clip(mean + fitted.q[level] * sd, bounds)
            inside[level].append((actual >= lo - 1e-12) & (actual <= hi + 1e-12))
            rows |= {f"lo{level}": lo, f"hi{level}": hi}
        for name, values in rows.items():
            detail[name].append(values)
        used += 1
    if not used:
        return Backtest(refit=refit)
    model_all, naive_all = np.concatenate(model_errors), np.concatenate(naive_errors)
    naive_mae = float(naive_all.mean())
    return Backtest(
        origins=used,
        horizon=steps,
        points=len(model_all),
        mase=float(model_all.mean()) / naive_mae if naive_mae > 0 else math.nan,
        mase_in_sample=float(np.concatenate(scaled_errors).mean()) if scaled_errors else math.nan,
        coverage80=float(np.concatenate(inside[80]).mean()),
        coverage95=float(np.concatenate(inside[95]).mean()),
        refit=refit,
        detail={name: np.concatenate(parts) for name, parts in detail.items()},
    )


def _clip(values: np.ndarray, bounds: Bounds) -> np.ndarray:
    lower, upper = bounds
    if lower is None and upper is None:
        return values
    return np.clip(values, -np.inf if lower is None else lower, np.inf if upper is None else upper)


def _trust(model: _Model, backtest: Backtest, n: int, interpolated: int, unit: str) -> tuple[bool, str]:
    reasons = []
    if isinstance(model, _Constant):
        reasons.append(f"history is constant ({model.level:g}): nothing to learn; the forecast just repeats it")
    elif isinstance(model, _SeasonalNaive):
        reasons.append("ETS could not beat the seasonal-naive forecast in backtest; shown is that forecast (no growth)")
    elif not backtest.origins:
        reasons.append(f"history too short to backtest ({n} {unit}s)")
    else:
        if not math.isfinite(backtest.mase):
            reasons.append("MASE undefined: the seasonal-naive forecast is exact on this history")
        elif backtest.mase >= 1:
            reasons.append(f"no better than the seasonal-naive forecast in backtest (MASE {backtest.mase:.2f} >= 1)")
        for level, coverage in ((80, backtest.coverage80), (95, backtest.coverage95)):
            if coverage < MIN_COVERAGE[level]:
                reasons.append(f"{level} % interval too narrow: covered {coverage:.0%} of backtest points")
    if interpolated > MAX_INTERPOLATED_TRUSTED * n:
        reasons.append(f"{interpolated} of {n} {unit}s interpolated")
    return not reasons, "; ".join(reasons)


# ----------------------------------------------------------------------------------------------- forecast core


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


def _grid(dates: pd.DatetimeIndex, values: np.ndarray, freq: Freq) -> tuple[pd.Timestamp, np.ndarray]:
    """Place (date, value) points on a regular grid: (first date, values with NaN where missing)."""
    if len(dates) == 0:
        raise DataError("empty series: nothing to forecast")
    if dates.hasnans:
        raise DataError("series has missing dates (NaT)")
    order = np.argsort(dates.asi8, kind="stable")
    dates, values = dates[order], np.asarray(values, dtype=float)[order]
    if dates.has_duplicates:
        raise DataError(f"duplicate dates in the series, e.g. {dates[dates.duplicated()][0]}")
    if freq == "D" and dates.tz is None and not (dates == dates.normalize()).all():
        raise DataError("daily signal dates must be midnights: aggregate samples with capacity_signal first")
    step = PERIOD[freq]
    offsets = (dates - dates[0]) / step
    if not np.allclose(offsets, np.round(offsets)):
        raise DataError(f"dates are not whole {UNIT_NAME[freq]}s apart: aggregate with capacity_signal first")
    index = np.round(np.asarray(offsets, dtype=float)).astype(np.int64)
    grid = np.full(int(index[-1]) + 1, np.nan)
    grid[index] = values
    return dates[0], grid


def _as_series(signal: pd.DataFrame | pd.Series, date: str, value: str) -> tuple[pd.DatetimeIndex, np.ndarray]:
    if isinstance(signal, pd.Series):
        dates, values = signal.index, signal.to_numpy()
    elif isinstance(signal, pd.DataFrame):
        if value not in signal.columns:
            raise DataError(f"signal lacks a {value!r} column; has {list(signal.columns)}")
        dates = signal[date] if date in signal.columns else signal.index
        values = signal[value].to_numpy()
    else:
        raise DataError(f"signal: expected a DataFrame (date, value) or a Series, got {type(signal).__name__}")
    try:
        index = pd.DatetimeIndex(dates)
    except (TypeError, ValueError) as exc:
        raise DataError(f"signal dates are not dates: {exc}") from None
    try:
        numbers = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"signal values are not numbers: {exc}") from None
    return index, numbers


# ----------------------------------------------------------------------------------------------- Forecast


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
        raise DataError(f"horizon: expected a whole number of periods >= 1, got {horizon!r}")
    return int(horizon)


def _check_bounds(bounds: Bounds | None) -> Bounds:
    if bounds is None:
        return (None, None)
    lower, upper = bounds
    if lower is not None and upper is not None and not lower < upper:
        raise DataError(f"bounds: expected lower < upper, got {bounds!r}")
    return (None if lower is None else float(lower), None if upper is None else float(upper))


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
        raise DataError(f"season: expected a period >= 1, got {season!r}")
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


# ----------------------------------------------------------------------------------------------- many series


def _forecast_chunk(
    items: list[tuple[int, np.ndarray | str]],
    freq: Freq,
    m: int,
    horizon: int,
    bounds: Bounds,
    max_gap: int | None,
    refit: bool,
) -> list[tuple[int, _Result | str]]:
    """Worker: forecast each (position, grid) item; a DataError becomes its message."""
    out: list[tuple[int, _Result | str]] = []
    with _single_threaded_blas():
        for position, grid in items:
            if isinstance(grid, str):
                out.append((position, grid))
                continue
            try:
                result = _forecast_grid(grid, freq, m, horizon, bounds, max_gap, refit)
                result.backtest = replace(result.backtest, detail={})  # per-point detail stays in the worker
                out.append((position, result))
            except DataError as exc:
                out.append((position, str(exc)))
    return out


def _default_workers() -> int:
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    return max(1, min(2, available))


def forecast_many(
    signals: pd.DataFrame,
    horizon: int = 90,
    *,
    keys: Sequence[str] | None = None,
    freq: str = "D",
    season: int | None = None,
    bounds: Bounds | Mapping[str, Bounds] | None = None,
    bounds_by: str = "metric",
    max_gap: int | None = None,
    refit: bool = False,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    date: str = "date",
    value: str = "value",
) -> pd.DataFrame:
    """Forecast every series of a tidy signal frame; one tidy frame of forecasts back.

    ``signals``: key columns (default: every column but date, value and samples) + ``date`` + ``value``, e.g.
    what ``daily_signal`` returns. ``bounds``: one pair for all series, or a mapping from the ``bounds_by``
    column's value (a metric name) to a pair. Work is spread over ``workers`` processes (default: up to 2 CPUs)
    when there are enough series; ``progress(done, total)`` is called as series finish.

    Result: one row per series and forecast date with ``*keys, date, mean, lo80, hi80, lo95, hi95, model,
    trustworthy, reason, mase, mase_in_sample, coverage80, coverage95, notes``. A series that cannot be forecast (a
    ``DataError``) gets one row with no date, model ``'none'`` and the error as its reason, so one bad series
    never sinks the batch. ``forecast_summary`` reduces it to one row per series.
    """
    frequency = signal_frequency(freq)
    steps = _check_horizon(horizon)
    m = SEASON[frequency] if season is None else int(season)
    missing = [c for c in (date, value) if c not in signals.columns]
    if missing:
        raise DataError(f"signals lack columns {missing}; expected key columns, {date!r} and {value!r}")
    key_columns = list(keys) if keys is not None else [c for c in signals.columns if c not in (date, value, "samples")]
    if not key_columns:
        raise DataError("signals need at least one key column naming the series (e.g. metric)")
    if bounds_by not in key_columns and isinstance(bounds, Mapping):
        raise DataError(f"bounds by {bounds_by!r}: not one of the key columns {key_columns}")
    groups = signals.groupby(key_columns, sort=True, dropna=False, observed=True).indices
    all_dates = pd.DatetimeIndex(signals[date])
    all_values = signals[value].to_numpy(dtype=float, na_value=np.nan)
    series_keys: list[tuple[object, ...]] = []
    firsts: list[pd.Timestamp | None] = []
    jobs: dict[Bounds, list[tuple[int, np.ndarray | str]]] = {}
    for position, (key, rows) in enumerate(groups.items()):
        key_tuple = key if isinstance(key, tuple) else (key,)
        series_keys.append(key_tuple)
        if isinstance(bounds, Mapping):
            limits = _check_bounds(bounds.get(key_tuple[key_columns.index(bounds_by)]))
        else:
            limits = _check_bounds(bounds)
        try:
            first, grid = _grid(all_dates[rows], all_values[rows], frequency)
            firsts.append(first)
            jobs.setdefault(limits, []).append((position, grid))
        except DataError as exc:
            firsts.append(None)
            jobs.setdefault(limits, []).append((position, str(exc)))
    total = len(series_keys)
    results: dict[int, _Result | str] = {}
    pool_size = _default_workers() if workers is None else max(1, int(workers))
    if total < 20:
        pool_size = 1
    tasks = []
    for limits, items in jobs.items():
        size = max(5, math.ceil(len(items) / (pool_size * 8)))
        tasks += [(items[i : i + size], limits) for i in range(0, len(items), size)]
    done = 0
    if pool_size == 1:
        for items, limits in tasks:
            for position, result in _forecast_chunk(items, frequency, m, steps, limits, max_gap, refit):
                results[position] = result
            done += len(items)
            if progress:
                progress(done, total)
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=pool_size, mp_context=context) as pool:
            futures = {
                pool.submit(_forecast_chunk, items, frequency, m, steps, limits, max_gap, refit): len(items)
                for items, limits in tasks
            }
            for future in as_completed(futures):
                for position, result in future.result():
                    results[position] = result
                done += futures[future]
                if progress:
                    progress(done, total)
    return _tidy(series_keys, firsts, results, key_columns, frequency, steps)


def _tidy(
    series_keys: list[tuple[object, ...]],
    firsts: list[pd.Timestamp | None],
    results: Mapping[int, _Result | str],
    key_columns: list[str],
    freq: Freq,
    horizon: int,
) -> pd.DataFrame:
    step = PERIOD[freq]
    rows_per = [horizon if isinstance(results[i], _Result) else 1 for i in range(len(series_keys))]
    repeat = np.asarray(rows_per)
    columns: dict[str, object] = {}
    for k, name in enumerate(key_columns):
        columns[name] = pd.Series([key[k] for key in series_keys]).repeat(repeat).to_numpy()
    dates: list[pd.Timestamp] = []
    numbers = {name: [] for name in ("mean", "lo80", "hi80", "lo95", "hi95")}
    per_series: dict[str, list[object]] = {
        "model": [],
        "trustworthy": [],
        "reason": [],
        "mase": [],
        "mase_in_sample": [],
        "coverage80": [],
        "coverage95": [],
        "notes": [],
    }
    nan_block = np.full(1, np.nan)
    for i in range(len(series_keys)):
        result = results[i]
        if isinstance(result, _Result):
            first = firsts[i]
            assert first is not None
            last = first + step * (result.start + len(result.y) - 1)
            dates.extend(last + step * np.arange(1, horizon + 1))
            for name in numbers:
                numbers[name].append(getattr(result, name))
            summary = [
                result.model,
                result.trustworthy,
                result.reason,
                result.backtest.mase,
                result.backtest.mase_in_sample,
                result.backtest.coverage80,
                result.backtest.coverage95,
                "; ".join(_date_notes(result.notes, firsts[i], step)),
            ]
        else:
            dates.append(pd.NaT)
            for name in numbers:
                numbers[name].append(nan_block)
            first = firsts[i]
            reason = result if first is None else _date_notes([result], first, step)[0]
            summary = ["none", False, reason, math.nan, math.nan, math.nan, math.nan, ""]
        for name, item in zip(per_series, summary, strict=True):
            per_series[name].append(item)
    columns["date"] = pd.DatetimeIndex(dates) if dates else pd.DatetimeIndex([])
    for name, parts in numbers.items():
        columns[name] = np.concatenate(parts) if parts else np.zeros(0)
    for name, items in per_series.items():
        columns[name] = np.repeat(np.asarray(items, dtype=object), repeat)
    frame = pd.DataFrame(columns)
    for name in ("mase", "mase_in_sample", "coverage80", "coverage95"):
        frame[name] = frame[name].astype(float)
    frame["trustworthy"] = frame["trustworthy"].astype(bool)
    frame["model"] = frame["model"].astype(str)
    frame["reason"] = frame["reason"].astype(str)
    frame["notes"] = frame["notes"].astype(str)
    return frame


def forecast_summary(forecasts: pd.DataFrame, keys: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per series of a ``forecast_many`` result: model, trust, backtest figures, forecast at the end."""
    key_columns = list(keys) if keys is not None else list(forecasts.columns[: forecasts.columns.get_loc("date")])
    last = forecasts.groupby(key_columns, sort=False, dropna=False, observed=True).tail(1)
    return last.rename(columns={"date": "horizon_end", "mean": "mean_at_end"}).reset_index(drop=True)
