"""predict_linear computed here equals what a real Prometheus answers for the same samples."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pytest
import requests
from prom_servers import History, PrometheusServer, build_blocks, prometheus_server

from sre_lib.forecast import linear_time_to_threshold, predict_linear

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
