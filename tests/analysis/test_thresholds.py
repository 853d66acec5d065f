"""Time to threshold: analytic crossing dates of synthetic trends, both directions, bad thresholds refused."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from support.forecast_inputs import daily, trend_series

from sre_lib.analysis.forecast import forecast
from sre_lib.analysis.thresholds import Crossing, thresholds_for, time_to_threshold, time_to_threshold_many
from sre_lib.config import load_config
from sre_lib.errors import DataError

CONFIG = load_config()


def test_crossing_dates_of_a_known_trend_match_the_analytic_answer() -> None:
    # 30 + 0.25 t crosses 60 at t=120, 70 at t=160, 100 at t=280; history is t = 0..119 (2026-03-01 ..).
    result = forecast(daily(trend_series(120, 0.25, noise=0.5, seed=8)), 90, bounds=(0, 100))
    table = time_to_threshold(result, {"warning": 60, "critical": 70, "full": 100}).set_index("threshold")
    start = pd.Timestamp("2026-03-01")
    expected = start + pd.Timedelta(days=160)  # 40 days after the last observation
    critical = table.loc["critical"]
    assert abs((critical["likely"] - expected).days) <= 5
    assert critical["earliest"] <= expected <= (critical["latest"] if pd.notna(critical["latest"]) else expected)
    assert abs((table.loc["warning", "likely"] - (start + pd.Timedelta(days=120))).days) <= 3
    assert pd.isna(table.loc["full", "likely"]) and "not within horizon" in table.loc["full", "summary"]
    assert table["trustworthy"].all()


def test_crossings_below_and_from_an_indicator() -> None:
    # 95 - 0.2 t: below 80 from t=75 (inside the history of 100 days), below 70 from t=125.
    result = forecast(daily(trend_series(100, -0.2, level=95, noise=0.3, seed=9)), 60)
    table = time_to_threshold(result, {"warning": 80, "critical": 70}, direction="below").set_index("threshold")
    assert table.loc["warning", "already"] and not table.loc["critical", "already"]
    expected = pd.Timestamp("2026-03-01") + pd.Timedelta(days=125)
    critical = table.loc["critical"]
    assert abs((critical["likely"] - expected).days) <= 4
    assert critical["earliest"] <= expected <= critical["latest"]
    disk = forecast(daily(trend_series(60, 0.3, level=60, noise=0.3, seed=10)), 90, bounds=(0, 100))
    from_config = time_to_threshold(disk, CONFIG.indicators["disk"])
    assert list(from_config["threshold"]) == ["warning", "critical"]
    with_full = time_to_threshold(disk, thresholds_for(CONFIG.indicators["disk"], full=100))
    assert list(with_full["level"]) == [70, 85, 100]
    assert with_full["already"].tolist() == [True, False, False]


@pytest.mark.parametrize(
    ("levels", "direction"),
    [
        ({"warning": 90, "critical": 80}, "above"),
        ({"warning": 70, "critical": 80}, "below"),
        ({"w": math.nan}, "above"),
    ],
)
def test_thresholds_out_of_order_are_refused(levels: dict[str, float], direction: str) -> None:
    result = forecast(daily(trend_series(40, 0.1, seed=11)), 10)
    with pytest.raises(ValueError, match="threshold"):  # an argument, not data: a programmer's mistake
        time_to_threshold(result, levels, direction=direction)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("arguments", "match"),
    [({"direction": "sideways"}, "direction"), ({"band": 90}, "band: expected 80 or 95")],
)
def test_a_wrong_direction_or_band_is_a_value_error(arguments: dict[str, object], match: str) -> None:
    result = forecast(daily(trend_series(40, 0.1, seed=11)), 10)
    with pytest.raises(ValueError, match=match) as raised:
        time_to_threshold(result, {"warning": 70, "critical": 80}, **arguments)  # type: ignore[arg-type]
    assert not isinstance(raised.value, DataError)


@pytest.mark.parametrize(
    ("already", "dates", "text"),
    [
        (False, (None, None, None), "critical 80: not within horizon (to 2027-01-30)"),
        (False, ("2026-11-20", "2026-11-25", None),
         "critical 80: likely 2026-11-25 (earliest 2026-11-20, latest not within horizon)"),
        (True, ("2026-11-02", "2026-11-02", "2026-11-09"),
         "critical 80: already above; forecast above it from 2026-11-02 "
         "(earliest 2026-11-02, latest 2026-11-09)"),
        (True, ("2026-11-02", None, None),
         "critical 80: already above; the forecast mean is back below it, its band is not "
         "(earliest 2026-11-02, latest not within horizon)"),
        (True, (None, None, None),
         "critical 80: already above; the forecast is back below it through 2027-01-30"),
    ],
)  # fmt: skip
def test_crossing_summary_reads_consistently(already: bool, dates: tuple, text: str) -> None:
    earliest, likely, latest = (pd.Timestamp(d) if d else None for d in dates)
    crossing = Crossing("critical", 80.0, "above", earliest, likely, latest, pd.Timestamp("2027-01-30"), already,
                        True, "")  # fmt: skip
    assert crossing.summary == text
    untrusted = Crossing("critical", 80.0, "above", earliest, likely, latest, pd.Timestamp("2027-01-30"), already,
                         False, "backtest MASE 1.4")  # fmt: skip
    assert untrusted.summary == f"{text} [NOT TRUSTWORTHY: backtest MASE 1.4]"


def test_already_is_judged_on_the_last_observed_value_when_given() -> None:
    dates = pd.date_range("2026-11-02", periods=10)
    mean = np.full(10, 85.2)
    forecasts = pd.DataFrame({"component": "db", "instance": "pg-1", "metric": "disk", "date": dates, "mean": mean,
                              "lo80": mean - 1, "hi80": mean + 1, "lo95": mean - 2, "hi95": mean + 2,
                              "trustworthy": True, "reason": ""})  # fmt: skip
    keys = ["component", "instance", "metric"]
    guessed = time_to_threshold_many(forecasts, CONFIG, keys=keys).set_index("threshold")
    assert guessed.loc["critical", "already"]  # without the history: the first forecast step, 85.2 >= 85
    last = pd.DataFrame({"component": ["db"], "instance": ["pg-1"], "metric": ["disk"], "value": [84.0]})
    observed = time_to_threshold_many(forecasts, CONFIG, keys=keys, last_values=last).set_index("threshold")
    assert not observed.loc["critical", "already"] and observed.loc["warning", "already"]
    assert observed.loc["critical", "likely"] == pd.Timestamp("2026-11-02")
    with pytest.raises(DataError, match=r"last_values lacks column\(s\) \['value'\]"):
        time_to_threshold_many(forecasts, CONFIG, keys=keys, last_values=last.drop(columns="value"))
