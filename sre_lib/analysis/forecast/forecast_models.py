"""The forecast models and how one is chosen: constant, naive, linear, seasonal naive and ETS.

Every model forecasts ``steps`` ahead from any ``origin`` (``_Model.predict``), which the backtest needs. ETS
candidates are fitted with statsmodels and re-filtered here (``_fit_ets``, ``_filter``); ``_select_ets`` keeps
the lowest AICc; ``_short_model`` serves histories too short for ETS. The thresholds of the selection rules
(see the package docstring) live here with the code that applies them.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import stats
from statsmodels.tools.eval_measures import aicc
from statsmodels.tools.sm_exceptions import ConvergenceWarning
from statsmodels.tsa.exponential_smoothing.ets import ETSModel

MIN_ETS_POINTS = 14  # fewer: linear or naive, not backtested
MIN_SEASONS = 3  # full seasons before a seasonal model is considered
SEASONAL_STRENGTH_TRY = 0.2  # seasonal candidates from this strength
SEASONAL_STRENGTH_ONLY = 0.5  # ... and only seasonal candidates from this one
Z = {80: float(stats.norm.ppf(0.90)), 95: float(stats.norm.ppf(0.975))}


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
