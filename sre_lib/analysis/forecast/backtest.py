"""Rolling-origin backtest of a fitted model, and the verdict on whether to trust its forecast."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from sre_lib.analysis.forecast.forecast_models import (
    MIN_ETS_POINTS,
    MIN_SEASONS,
    _Constant,
    _Ets,
    _Model,
    _refit,
    _SeasonalNaive,
)
from sre_lib.analysis.forecast.series_cleaning import Bounds, _clip

BACKTEST_ORIGINS = 4
BACKTEST_COLUMNS = ("origin", "target", "step", "actual", "mean", "lo80", "hi80", "lo95", "hi95", "seasonal_naive")
MAX_INTERPOLATED_TRUSTED = 0.2  # more interpolated: not trustworthy
MIN_COVERAGE = {80: 0.60, 95: 0.80}  # backtest coverage below this: intervals too narrow, not trustworthy


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
