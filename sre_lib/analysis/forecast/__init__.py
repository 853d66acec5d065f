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

The modules, in the order of the pipeline: ``series_cleaning`` (grid, checks, gaps, bounds), ``forecast_models``
(the models and their selection), ``backtest`` (rolling origin, trust), ``one_series`` (``forecast`` and
``Forecast``), ``many_series`` (``forecast_many``, ``forecast_summary``); ``blas_threads`` keeps fits on one thread.
"""

from sre_lib.analysis.forecast.backtest import Backtest
from sre_lib.analysis.forecast.many_series import forecast_many, forecast_summary
from sre_lib.analysis.forecast.one_series import Forecast, bounds_for, date_text, forecast
from sre_lib.analysis.forecast.series_cleaning import MIN_POINTS

__all__ = [
    "MIN_POINTS",
    "Backtest",
    "Forecast",
    "bounds_for",
    "date_text",
    "forecast",
    "forecast_many",
    "forecast_summary",
]
