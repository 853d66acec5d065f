"""Forecast models: the refiltered ETS matches statsmodels, model choice follows the data, fits fail safely."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.tools.sm_exceptions import ConvergenceWarning
from statsmodels.tsa.exponential_smoothing.ets import ETSModel
from support.forecast_inputs import daily, trend_series

from sre_lib.analysis.forecast import forecast, forecast_models


@pytest.mark.parametrize(
    ("trend", "damped", "seasonal"), [(False, False, False), (True, False, False), (True, True, True)]
)
def test_refiltered_ets_reproduces_statsmodels_predictions(trend: bool, damped: bool, seasonal: bool) -> None:
    y = trend_series(120, 0.1, noise=1.5, weekly=3.0, seed=4)
    loc, scale = y.mean(), y.std()
    spec = forecast_models._EtsSpec(trend, damped, seasonal)
    fitted = forecast_models._fit_ets((y - loc) / scale, spec, 7, loc, scale, [])
    assert fitted is not None
    mean, sd = fitted.predict(len(y), 20)
    params = [fitted.alpha] + [fitted.beta] * trend + [fitted.gamma] * seasonal + [fitted.phi] * damped
    index = pd.date_range("2026-01-01", periods=len(y), freq="D")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ETSModel(
            pd.Series((y - loc) / scale, index=index),
            error="add",
            trend="add" if trend else None,
            damped_trend=damped,
            seasonal="add" if seasonal else None,
            seasonal_periods=7 if seasonal else None,
            initialization_method="heuristic",
        )
        smoothed = model.smooth(np.array(params))
        prediction = smoothed.get_prediction(start=len(y), end=len(y) + 19)
    assert fitted.aicc == pytest.approx(smoothed.aicc, rel=1e-9)
    assert fitted.sigma2 == pytest.approx(smoothed.mse, rel=1e-9)
    np.testing.assert_allclose(mean, loc + scale * np.asarray(prediction.predicted_mean), rtol=1e-9)
    np.testing.assert_allclose(sd, scale * np.sqrt(np.asarray(prediction.var_pred_mean)), rtol=1e-9)


def test_weekly_growth_gets_a_seasonal_trend_model_that_beats_seasonal_naive() -> None:
    result = forecast(daily(trend_series(180, 0.15, noise=1.0, weekly=4.0, seed=5)), 90, bounds=(0, 100))
    assert result.model in ("ETS(A,A,A)", "ETS(A,Ad,A)")
    assert result.trustworthy, result.reason
    assert result.backtest.origins == 4 and result.backtest.horizon == 14
    assert result.backtest.mase < 1
    frame = result.frame
    assert list(frame.columns) == ["date", "mean", "lo80", "hi80", "lo95", "hi95"]
    assert len(frame) == 90 and frame["date"].iloc[0] == result.history["date"].iloc[-1] + pd.Timedelta(days=1)
    assert (frame["lo95"] <= frame["lo80"]).all() and (frame["lo80"] <= frame["mean"]).all()
    assert (frame["mean"] <= frame["hi80"]).all() and (frame["hi80"] <= frame["hi95"]).all()
    assert (frame["hi95"] - frame["lo95"]).iloc[-1] > (frame["hi95"] - frame["lo95"]).iloc[0]
    assert (frame["hi95"] <= 100).all()
    assert "trustworthy" in repr(result) and result.model in repr(result)


def test_noise_without_a_week_gets_no_seasonal_model() -> None:
    result = forecast(daily(trend_series(120, 0.0, noise=2.0, seed=6)), 30)
    assert result.model.endswith(",N)")
    assert abs(result.frame["mean"].iloc[-1] - 30.0) < 3.0


def test_short_series_gets_a_linear_or_naive_forecast_with_widening_intervals() -> None:
    rising = forecast(daily(np.array([10.0, 12.1, 13.9, 16.2, 18.0, 19.9, 22.1, 24.0])), 10)
    assert rising.model == "linear" and rising.params["slope"] == pytest.approx(2.0, abs=0.1)
    flat = forecast(daily(np.array([10.0, 11.0, 9.5, 10.5, 10.2])), 10)
    assert flat.model == "naive"
    for result in (rising, flat):
        width = (result.frame["hi95"] - result.frame["lo95"]).to_numpy()
        assert (np.diff(width) > 0).all()
        assert not result.trustworthy and "too short" in result.reason
        assert result.backtest.origins == 0


def test_a_failing_statsmodels_fit_falls_back_and_warnings_stay_inside(monkeypatch: pytest.MonkeyPatch) -> None:
    signal = daily(trend_series(90, 0.1, weekly=2.0, seed=13))
    original_fit = ETSModel.fit

    def noisy_fit(self: ETSModel, *args: object, **kwargs: object) -> object:
        warnings.warn("Maximum Likelihood optimization failed to converge.", ConvergenceWarning, stacklevel=2)
        warnings.warn("overflow encountered", RuntimeWarning, stacklevel=2)
        return original_fit(self, *args, **kwargs)

    monkeypatch.setattr(ETSModel, "fit", noisy_fit)
    converged = forecast(signal, 30)  # pytest turns any leaked warning into an error
    assert converged.model.startswith("ETS") and any("converge" in note for note in converged.notes)

    def broken_fit(self: ETSModel, *args: object, **kwargs: object) -> object:
        raise np.linalg.LinAlgError("SVD did not converge")

    monkeypatch.setattr(ETSModel, "fit", broken_fit)
    fallback = forecast(signal, 30)
    assert fallback.model == "naive"
    assert any("could not be fitted" in note for note in fallback.notes)
    assert any("naive forecast instead" in note for note in fallback.notes)
    assert np.isfinite(fallback.frame[["mean", "lo95", "hi95"]].to_numpy()).all()
