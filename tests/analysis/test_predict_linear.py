"""predict_linear as Prometheus computes it: least squares from the evaluation time, Prometheus's own test
expectations, windows and edge cases, and the same answers as a real Prometheus on the same samples."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import requests
from support.prometheus_servers import History, PrometheusServer, build_blocks, prometheus_server

from sre_lib.analysis.predict_linear import MIN_SPAN, linear_regression, linear_time_to_threshold, predict_linear
from sre_lib.errors import DataError


def test_predict_linear_is_least_squares_evaluated_from_the_evaluation_time() -> None:
    rng = np.random.default_rng(14)
    start = datetime(2026, 5, 1, tzinfo=UTC).timestamp()
    seconds = np.sort(start + rng.uniform(0, 3600, 50)).round(3)  # irregular scrapes, millisecond stamps
    values = 1e9 - 2.5e4 * (seconds - start) + rng.normal(0, 2e5, 50)
    eval_time = seconds[-1] + 17.0
    slope, intercept = np.polyfit(seconds - eval_time, values, 1)
    for t in (0.0, 600.0, 4 * 3600.0, -60.0):
        got = predict_linear(seconds, values, t, eval_time=eval_time)
        assert got == pytest.approx(slope * t + intercept, rel=1e-9)
    stamps = pd.to_datetime(seconds, unit="s", utc=True)
    assert predict_linear(stamps, values, 600, eval_time=pd.Timestamp(eval_time, unit="s", tz="UTC")) == (
        pytest.approx(slope * 600 + intercept, rel=1e-9)
    )
    default = predict_linear(seconds, values, 600)  # evaluation time = last sample
    assert default == pytest.approx(np.polyval(np.polyfit(seconds - seconds[-1], values, 1), 600), rel=1e-9)


# Prometheus's own expectations (promql/promqltest/testdata/functions.test, "Tests for deriv() and
# predict_linear()"): `load 5m testcounter_reset_middle_total 0+10x4 0+10x5`, i.e. samples every 300 s from 0.
RESET_MIDDLE_TS = np.arange(11) * 300.0
RESET_MIDDLE = [0, 10, 20, 30, 40, 0, 10, 20, 30, 40, 50]


@pytest.mark.parametrize(
    ("query", "eval_time", "window", "at", "expected"),
    [
        ("predict_linear(x[50m], 3600) at 50m", 3000, 3000, None, 70.0),
        ("predict_linear(x[55m] @ 3000, 3600) at 50m", 3000, 3300, 3000, 76.81818181818181),
        ("predict_linear(x[55m] @ 3000, 3600) at 10m", 600, 3300, 3000, 51.36363636363637),
        ("predict_linear(x[55m] @ 3000, 3600) at 70m", 4200, 3300, 3000, 89.54545454545455),
    ],
)
def test_predict_linear_reproduces_prometheus_test_expectations(
    query: str, eval_time: float, window: float, at: float | None, expected: float
) -> None:
    got = predict_linear(RESET_MIDDLE_TS, RESET_MIDDLE, 3600, eval_time=eval_time, window=window, at=at)
    assert got == expected, query  # bit for bit: same algorithm, same float operations


def test_deriv_slope_and_infinite_values_match_prometheus() -> None:
    slope, _ = linear_regression(RESET_MIDDLE_TS, RESET_MIDDLE, RESET_MIDDLE_TS[0])
    assert slope == 0.010606060606060607  # deriv(testcounter_reset_middle_total[100m]) at 50m
    # http_requests_inf: -Inf 0+80x10 Inf; predict_linear(...[100m], 6000) at 100m is NaN.
    ts = np.arange(13) * 300.0
    values = [-math.inf, *np.arange(11) * 80.0, math.inf]
    assert math.isnan(predict_linear(ts, values, 6000, eval_time=6000, window=6000))
    # A 2.x-style closed window keeps the sample at exactly eval - 50m, as the old expectation (76.8...) did.
    closed = predict_linear(RESET_MIDDLE_TS, RESET_MIDDLE, 3600, eval_time=3000, window=3000, include_window_start=True)
    assert closed == 76.81818181818181
    assert linear_regression([0, 60, 120], [0.1, 0.1, 0.1], 999) == (0.0, 0.1)


def test_predict_linear_window_constant_series_and_too_few_samples() -> None:
    seconds = np.arange(0, 600, 60, dtype=float) + 1_750_000_000
    values = 2.0 * (seconds - seconds[0])
    eval_time = seconds[-1]
    # [5m] at the last sample: Prometheus 3 keeps (eval - 300 s, eval], so the sample at exactly -300 s is out.
    in_window = seconds > eval_time - 300
    assert predict_linear(seconds, values, 0, eval_time=eval_time, window=300) == pytest.approx(values[-1])
    slope, _ = linear_regression(seconds[in_window], values[in_window], eval_time)
    assert slope == pytest.approx(2.0)
    jumpy = values.copy()
    jumpy[seconds == eval_time - 300] = 1e6  # only the 2.x-style closed window sees this sample
    assert predict_linear(seconds, jumpy, 0, eval_time=eval_time, window=300) == pytest.approx(values[-1])
    assert predict_linear(seconds, jumpy, 0, eval_time=eval_time, window=300, include_window_start=True) != (
        pytest.approx(values[-1])
    )
    assert predict_linear(seconds, np.full(10, 7.5), 1e6) == 7.5
    assert predict_linear(seconds[:1], values[:1], 60) is None
    assert predict_linear(seconds, values, 60, eval_time=eval_time, window=30) is None
    with pytest.raises(DataError):
        predict_linear([], [], 60)


@pytest.mark.parametrize(
    ("arguments", "match"),
    [({"threshold": 80.0, "direction": "sideways"}, "direction"), ({"threshold": math.inf}, "threshold")],
)
def test_a_wrong_direction_or_threshold_is_a_value_error(arguments: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match) as raised:
        linear_time_to_threshold([0, 60, 120], [1.0, 2.0, 3.0], **arguments)  # type: ignore[arg-type]
    assert not isinstance(raised.value, DataError)


def test_linear_time_to_threshold_matches_what_an_alert_would_see() -> None:
    seconds = np.arange(0, 6 * 3600, 300, dtype=float) + 1_750_000_000
    used = 50 + (seconds - seconds[0]) / 3600.0  # one percent per hour
    result = linear_time_to_threshold(seconds, used, 90, window=timedelta(hours=6))
    assert result.seconds_to_threshold == pytest.approx((90 - used[-1]) * 3600)
    assert predict_linear(seconds, used, result.seconds_to_threshold, window=6 * 3600) == pytest.approx(90)
    assert result.crosses_at == pd.Timestamp(seconds[-1], unit="s", tz="UTC") + pd.Timedelta(
        seconds=result.seconds_to_threshold
    )
    assert "reaches 90" in str(result)
    assert linear_time_to_threshold(seconds, used, 50, direction="below").seconds_to_threshold is None
    assert linear_time_to_threshold(seconds, used, 40).seconds_to_threshold == 0.0
    assert linear_time_to_threshold(seconds[:1], used[:1], 90).crosses_at is None


def test_a_line_through_less_than_the_minimum_span_gets_no_date() -> None:
    """node-mixin's 6 h lookback: 15 s of a steeply filling disk is no date; 6 h of it, or of a flat disk, is."""
    seconds = np.arange(0, 6 * 3600 + 1, 15, dtype=float) + 1_750_000_000
    filling = 50 + (seconds - seconds[0]) / 3600.0  # one point an hour: 90 % in 34 hours from the last sample
    young = linear_time_to_threshold(seconds[:2], filling[:2], 90, min_span=MIN_SPAN)
    assert (young.judged, young.crosses_at, young.seconds_to_threshold) == (False, None, None)
    assert young.note == "needs 6 h of samples; 15 s collected" and young.note in str(young)
    assert math.isnan(young.slope_per_second) and young.value_at_eval == filling[1]
    assert linear_time_to_threshold(seconds[:2], filling[:2], 90).crosses_at is not None  # Prometheus would date it
    full = linear_time_to_threshold(seconds, filling, 90, min_span=MIN_SPAN)
    assert full.judged and full.span == pd.Timedelta(hours=6)
    assert full.seconds_to_threshold == pytest.approx((90 - filling[-1]) * 3600)
    assert full.crosses_at == pd.Timestamp(seconds[-1], unit="s", tz="UTC") + pd.Timedelta(hours=34)
    flat = linear_time_to_threshold(seconds, np.full(len(seconds), 60.0), 90, min_span=MIN_SPAN)
    assert flat.judged and flat.crosses_at is None and flat.note.startswith("never")
    almost = linear_time_to_threshold(seconds[1:], filling[1:], 90, min_span=MIN_SPAN)  # 6 h less one step
    assert not almost.judged and almost.note == "needs 6 h of samples; 5 h 59 min collected"


# --------------------------------------------------------------------------------------- a real Prometheus

START = datetime(2026, 10, 1, tzinfo=UTC).timestamp()
STEP = 15.0
POINTS = 4 * 60 * 2  # two hours of 15 s samples


def _series() -> dict[str, list[tuple[float, float]]]:
    rng = np.random.default_rng(7)
    times = START + np.arange(POINTS) * STEP + rng.integers(0, 900, POINTS) / 1000  # millisecond jitter
    filling = 40 + 0.004 * (times - START) + rng.normal(0, 0.3, POINTS)
    draining = 90 - 0.002 * (times - START) + rng.normal(0, 0.1, POINTS)
    flat = np.full(POINTS, 55.0)
    return {
        "filling": list(zip(times.tolist(), filling.tolist(), strict=True)),
        "draining": list(zip(times.tolist(), draining.tolist(), strict=True)),
        "flat": list(zip(times.tolist(), flat.tolist(), strict=True)),
    }


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrometheusServer, dict]]:
    series = _series()
    history = History()
    for name, samples in series.items():
        history.add("disk_used_percent", {"disk": name}, samples)
    data = tmp_path_factory.mktemp("tsdb") / "data"
    build_blocks(history, data)
    with prometheus_server(data_dir=data) as server:
        yield server, series


def _prometheus_value(server: PrometheusServer, query: str, at: float) -> dict[str, float]:
    response = requests.get(f"{server.url}/api/v1/query", params={"query": query, "time": f"{at:.3f}"}, timeout=10)
    response.raise_for_status()
    return {r["metric"]["disk"]: float(r["value"][1]) for r in response.json()["data"]["result"]}


def _major_version(server: PrometheusServer) -> int:
    info = requests.get(f"{server.url}/api/v1/status/buildinfo", timeout=10).json()["data"]
    return int(info["version"].split(".")[0])


@pytest.mark.parametrize(
    ("offset", "window", "horizon"),
    [(7200.0, 3600, 3600), (5400.5, 1800, 86400), (3600.0, 600, 600), (7000.123, 3600, 14 * 86400)],
)
def test_predict_linear_matches_prometheus(prometheus, offset: float, window: int, horizon: int) -> None:
    server, series = prometheus
    at = START + offset
    answer = _prometheus_value(server, f"predict_linear(disk_used_percent[{window}s], {horizon})", at)
    closed_start = _major_version(server) < 3  # Prometheus 2.x also selects a sample exactly at the window start
    assert set(answer) == set(series)
    for name, samples in series.items():
        ts, values = zip(*samples, strict=True)
        ours = predict_linear(ts, values, horizon, eval_time=at, window=window, include_window_start=closed_start)
        assert ours == pytest.approx(answer[name], rel=1e-9, abs=1e-9), name


def test_time_to_threshold_agrees_with_prometheus_at_the_crossing(prometheus) -> None:
    server, series = prometheus
    at = START + 7200.0
    ts, values = zip(*series["filling"], strict=True)
    prediction = linear_time_to_threshold(ts, values, 85.0, eval_time=at, window=3600)
    assert prediction.seconds_to_threshold is not None and prediction.seconds_to_threshold > 0
    seconds = prediction.seconds_to_threshold
    answer = _prometheus_value(server, f"predict_linear(disk_used_percent[3600s], {seconds:.3f})", at)
    assert answer["filling"] == pytest.approx(85.0, abs=0.01)
