"""The Prometheus collector against real servers, no mocks.

* Prometheus over history written by ``promtool tsdb create-blocks-from openmetrics``: 16 days at a 1-minute
  step (23,040 points per series, over twice Prometheus's 11,000-point limit), with NaN and ±Inf values, a
  counter reset, a gap across a chunk boundary, a series that appears and one that vanishes mid-window.
* VictoriaMetrics with the same history imported through /api/v1/import/prometheus.
* Prometheus scraping node_exporter, postgres_exporter and redis_exporter live, every second.

Both history servers run with a 30 s lookback, shorter than the step, so each evaluation returns exactly the
sample loaded at that minute (PromQL would otherwise repeat a sample for 5 minutes after it): the stored rows
can then be compared with what was loaded, one for one.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import shutil
import threading
import time
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
import tomli_w
from support.prometheus_servers import (
    History,
    PrometheusServer,
    VictoriaMetricsServer,
    build_blocks,
    node_exporter,
    postgres_exporter,
    prometheus_server,
    redis_exporter,
    victoria_metrics_server,
)
from support.servers import free_port, postgres_server, redis_server

from sre_lib.collect.prometheus import (
    PrometheusSummary,
    ResponseError,
    collect_prometheus,
    decode_matrix,
    prometheus_target,
    split_window,
)
from sre_lib.config import DEFAULT_CONFIG_PATH, PlatformConfig, config_to_toml, load_config, parse_config
from sre_lib.errors import CollectionError, WarehouseBusyError
from sre_lib.warehouse.store import Warehouse

pytestmark = pytest.mark.servers

T0 = 1_765_065_600  # 2025-12-07 00:00 UTC
STEP = 60
POINTS = 23_040  # 16 days at 1 minute: chunks of 11,000 + 11,000 + 1,040 points
START = datetime.fromtimestamp(T0, UTC)
END = datetime.fromtimestamp(T0 + (POINTS - 1) * STEP, UTC)
LOOKBACK = "30s"
APPEARS_AT, VANISHES_AT = 7_000, 15_000  # point indexes
GAP = range(10_950, 11_100)  # spans the first chunk boundary (index 11,000)
RESET_AT = 12_000
RATE_WARMUP = 5  # Prometheus extrapolates rate() over a series' first minutes; VictoriaMetrics does not
TOKEN = "Fake-Prom-Token-0815"
BASE = load_config(DEFAULT_CONFIG_PATH)


def with_settings(catalogue: dict[str, dict[str, str]] | None = None, **prometheus: Any) -> PlatformConfig:
    """The default config with another catalogue and/or [sources.prometheus] settings."""
    raw = tomllib.loads(config_to_toml(BASE))
    if catalogue is not None:
        raw["catalogue"] = catalogue
    raw["sources"]["prometheus"].update(prometheus)
    return parse_config(tomli_w.dumps(raw), source="test")


CONFIG = with_settings(
    {
        "cpu": {"query": "sre_test_cpu", "unit": "percent"},  # component from the job label
        "requests_raw": {"query": "sre_test_requests_total", "component": "app"},
        "request_rate": {"query": "rate(sre_test_requests_total[5m])", "component": "app"},
    }
)


def cpu_value(i: int) -> float:
    if i % 997 == 5:
        return math.nan
    if i % 991 == 7:
        return math.inf
    if i == 12_345:
        return -math.inf
    return round(50 + 40 * math.sin(i / 700), 6)


def make_history() -> History:
    """Values of a few significant digits: VictoriaMetrics stores values as decimals of about 15 digits."""
    history = History()
    at = [T0 + i * STEP for i in range(POINTS)]
    history.add("sre_test_cpu", {"job": "app", "instance": "app-1"}, ((at[i], cpu_value(i)) for i in range(POINTS)))
    history.add(
        "sre_test_cpu", {"job": "app", "instance": "app-2"}, ((at[i], i / 8) for i in range(APPEARS_AT, POINTS))
    )
    history.add("sre_test_cpu", {"job": "app", "instance": "app-3"}, ((at[i], i / 4) for i in range(VANISHES_AT)))
    history.add(
        "sre_test_cpu", {"job": "app", "instance": "app-4"}, ((at[i], i / 1000) for i in range(POINTS) if i not in GAP)
    )
    history.add("sre_test_cpu", {"job": "batch", "instance": "b-1"}, ((at[i], 7.0) for i in range(POINTS)))
    history.add(
        "sre_test_requests_total",
        {"job": "app", "instance": "app-1"},
        ((at[i], 60.0 * (i + 1 if i < RESET_AT else i - RESET_AT + 1)) for i in range(POINTS)),
    )
    return history


HISTORY = make_history()


def expected_cpu() -> dict[str, dict[int, float]]:
    """Loaded cpu samples of the mapped series that are finite: instance -> {ms: value}."""
    expected: dict[str, dict[int, float]] = {}
    for series in HISTORY.series:
        if series.name == "sre_test_cpu" and series.labels["job"] == "app":
            expected[series.labels["instance"]] = {int(t * 1000): v for t, v in series.samples if math.isfinite(v)}
    return expected


def stored(warehouse: Warehouse, metric: str) -> dict[str, dict[int, float]]:
    con = warehouse.open_read_only()
    try:
        rows = con.execute(
            "SELECT s.instance, epoch_ms(m.ts), m.value FROM metric_samples m JOIN metric_series s USING (series_id) "
            "WHERE s.metric = ? ORDER BY 1, 2",
            [metric],
        ).fetchall()
    finally:
        con.close()
    result: dict[str, dict[int, float]] = {}
    for instance, ms, value in rows:
        result.setdefault(instance, {})[ms] = value
    return result


def table_state(warehouse: Warehouse) -> list[tuple]:
    """Row counts and content checksums of the metric tables."""
    con = warehouse.open_read_only()
    try:
        return con.execute(
            "SELECT (SELECT count(*) FROM metric_samples), "
            "(SELECT sum(hash(series_id, ts, value)) FROM metric_samples), "
            "(SELECT count(*) FROM metric_series), (SELECT sum(hash(series_id, labels)) FROM metric_series)"
        ).fetchall()
    finally:
        con.close()


# ---------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def blocks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("blocks") / "data"
    build_blocks(HISTORY, path)
    return path


def copy_of(blocks: Path, tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(blocks, target)
    return target


@pytest.fixture(scope="module")
def prom(blocks: Path) -> Iterator[PrometheusServer]:
    with prometheus_server(blocks, extra_args=[f"--query.lookback-delta={LOOKBACK}"]) as server:
        yield server


@pytest.fixture(scope="module")
def collected(prom: PrometheusServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[Warehouse, PrometheusSummary]:
    warehouse = Warehouse(tmp_path_factory.mktemp("prom") / "w.duckdb")
    calls: list[tuple[int, int]] = []
    summary = collect_prometheus(
        warehouse, CONFIG, START, END, timedelta(seconds=STEP), env={"SRE_PROMETHEUS_URL": prom.url},
        progress=lambda done, total: calls.append((done, total)),
    )  # fmt: skip
    assert calls[0] == (0, 9) and calls[-1] == (9, 9) and len(calls) == 10
    return warehouse, summary


# ---------------------------------------------------------------------------------------------- chunking


def test_chunks_cover_every_point_once_within_the_limit() -> None:
    for points, step, limit in [(23_040, 60_000, 11_000), (11_000, 1_000, 11_000), (11_001, 1_000, 11_000),
                                (1, 15_000, 11_000), (100, 500, 7)]:  # fmt: skip
        start = 1_700_000_000_123
        end = start + (points - 1) * step + step // 2  # an end between two evaluation points
        chunks = split_window(start, end, step, limit)
        covered = [t for first, last in chunks for t in range(first, last + 1, step)]
        assert covered == list(range(start, end + 1, step))
        assert all((last - first) // step + 1 <= limit for first, last in chunks)


# ---------------------------------------------------------------------------------------------- Prometheus history


def test_a_window_over_the_point_limit_arrives_whole(collected: tuple[Warehouse, PrometheusSummary]) -> None:
    warehouse, summary = collected
    expected = expected_cpu()
    assert stored(warehouse, "cpu") == expected
    cpu_rows = sum(len(samples) for samples in expected.values())
    raw_rows = POINTS
    rate_rows = POINTS - 1  # no rate at the first point: one sample is not a rate
    assert summary.rows_written == cpu_rows + raw_rows + rate_rows
    assert summary.chunks == 9 and summary.metrics == 3
    assert summary.series == 6  # 4 cpu (the 'batch' job is no component) + raw + rate


def test_nan_and_inf_are_dropped_and_counted(collected: tuple[Warehouse, PrometheusSummary]) -> None:
    _, summary = collected
    non_finite = sum(1 for i in range(POINTS) if not math.isfinite(cpu_value(i)))
    assert non_finite > 40
    assert summary.dropped_non_finite == non_finite
    assert "NaN/Inf values dropped" in str(summary)


def test_series_appear_vanish_and_gap_mid_window(collected: tuple[Warehouse, PrometheusSummary]) -> None:
    warehouse, _ = collected
    cpu = stored(warehouse, "cpu")
    assert min(cpu["app-2"]) == (T0 + APPEARS_AT * STEP) * 1000
    assert max(cpu["app-3"]) == (T0 + (VANISHES_AT - 1) * STEP) * 1000
    gap = {(T0 + i * STEP) * 1000 for i in GAP}
    assert not gap & set(cpu["app-4"]) and len(cpu["app-4"]) == POINTS - len(GAP)


def test_components_and_unmapped_series(collected: tuple[Warehouse, PrometheusSummary]) -> None:
    warehouse, summary = collected
    assert summary.unmapped_series == 1
    assert summary.unmapped_components == ("cpu: job='batch'",)
    con = warehouse.open_read_only()
    try:
        series = con.execute("SELECT metric, component, instance, source, labels FROM metric_series").fetchall()
    finally:
        con.close()
    assert {(m, c, i, s) for m, c, i, s, _ in series} == {
        ("cpu", "app", "app-1", "prometheus"), ("cpu", "app", "app-2", "prometheus"),
        ("cpu", "app", "app-3", "prometheus"), ("cpu", "app", "app-4", "prometheus"),
        ("requests_raw", "app", "app-1", "prometheus"), ("request_rate", "app", "app-1", "prometheus"),
    }  # fmt: skip
    labels = json.loads(next(lab for m, *_, lab in series if m == "cpu"))
    assert labels["job"] == "app" and labels["__name__"] == "sre_test_cpu"


def test_counter_reset_never_gives_a_negative_rate(collected: tuple[Warehouse, PrometheusSummary]) -> None:
    warehouse, _ = collected
    raw = list(stored(warehouse, "requests_raw")["app-1"].values())
    assert raw[RESET_AT] < raw[RESET_AT - 1]  # the reset is in the data as loaded
    rate = stored(warehouse, "request_rate")["app-1"]
    values = np.array([rate[ms] for ms in sorted(rate)])
    assert (values >= 0).all()
    assert np.allclose(values[RATE_WARMUP:], 1.0)  # one request a second, through the reset too


def test_a_sample_budget_shortens_the_requests_and_changes_no_row(
    prom: PrometheusServer, collected: tuple[Warehouse, PrometheusSummary], tmp_path: Path
) -> None:
    warehouse, default = collected  # three series at most per query: 3 x 11,000 points fit the default budget
    catalogue = CONFIG.model_dump(mode="json", exclude_none=True)["catalogue"]
    budget = with_settings(catalogue, max_samples_per_request=20_000)  # 3 series: 6,666 points per request
    small = Warehouse(tmp_path / "small.duckdb")
    summary = collect_prometheus(small, budget, START, END, STEP, env={"SRE_PROMETHEUS_URL": prom.url})
    assert default.chunks == 9 and summary.chunks == 3 * math.ceil(POINTS / (20_000 // 3))
    assert table_state(small) == table_state(warehouse)


def test_the_same_window_twice_adds_no_rows(
    prom: PrometheusServer, collected: tuple[Warehouse, PrometheusSummary]
) -> None:
    warehouse, first = collected
    before = table_state(warehouse)
    again = collect_prometheus(warehouse, CONFIG, START, END, STEP, env={"SRE_PROMETHEUS_URL": prom.url})
    assert table_state(warehouse) == before
    assert again.rows_written == first.rows_written
    runs = warehouse.runs()
    assert runs.status.tolist() == ["ok", "ok"] and set(runs.source) == {"prometheus"}


def test_the_fast_decoder_agrees_with_json(prom: PrometheusServer) -> None:
    response = requests.get(
        f"{prom.url}/api/v1/query_range",
        params={"query": "sre_test_cpu", "start": T0, "end": T0 + 10_999 * STEP, "step": STEP},
        timeout=30,
    )
    body = response.content
    matrix = decode_matrix(body)
    result = json.loads(body)["data"]["result"]
    assert matrix.labels == [series["metric"] for series in result]
    assert matrix.counts.tolist() == [len(series["values"]) for series in result]
    points = [point for series in result for point in series["values"]]
    assert matrix.ts_ms.tolist() == [int(t * 1000) for t, _ in points]
    np.testing.assert_array_equal(matrix.values, np.array([float(v) for _, v in points]))
    assert np.isnan(matrix.values).any() and np.isinf(matrix.values).any()
    # a layout the fast path does not expect (whitespace, other key order) decodes through json, the same
    pretty = json.dumps(json.loads(body), indent=1, sort_keys=True).encode()
    same = decode_matrix(pretty)
    assert same.labels == matrix.labels and same.counts.tolist() == matrix.counts.tolist()
    np.testing.assert_array_equal(same.ts_ms, matrix.ts_ms)
    np.testing.assert_array_equal(same.values, matrix.values)
    with pytest.raises(ResponseError, match="status 'error'"):
        decode_matrix(b'{"status":"error","errorType":"bad_data","error":"parse error"}')


@pytest.mark.parametrize(
    "query",
    ['sre_test_cpu{job="batch"}', 'sre_test_cpu{instance=~"app-1|b-1"}', "sre_test_cpu"],  # complete, or gaps
)
def test_times_known_from_the_window_are_the_times_the_server_sent(prom: PrometheusServer, query: str) -> None:
    """Whatever window the caller passes, complete or with gaps, the times are exactly the server's (they were once
    computed from the window when every point was present; now every time is parsed and verified)."""
    first, last = T0 + 100 * STEP, T0 + 10_099 * STEP
    body = requests.get(
        f"{prom.url}/api/v1/query_range",
        params={"query": query, "start": first, "end": last, "step": STEP},
        timeout=30,
    ).content
    parsed = decode_matrix(body)
    asked = (first * 1000, last * 1000, STEP * 1000)
    shifted = (first * 1000 + 1, last * 1000 + 1, STEP * 1000)  # not what was asked: the times are parsed
    finer = (first * 1000, last * 1000, STEP * 500)  # twice the points asked: the times are parsed
    for window in [asked, (first * 1000, last * 1000 + 59_999, STEP * 1000), shifted, finer]:
        known = decode_matrix(body, window)
        assert known.counts.tolist() == parsed.counts.tolist()
        np.testing.assert_array_equal(known.ts_ms, parsed.ts_ms)
        np.testing.assert_array_equal(known.values, parsed.values)
    assert parsed.counts.tolist()[0] == 10_000


@pytest.mark.parametrize(
    "result",
    [
        [{"metric": {"job": "a}b]]", "path": '"values":[[1,"2"]]}'}, "values": [[1, "1.5"], [2, "NaN"]]}],
        [{"metric": {}, "values": [[1, "1"]], "x": [5, "7", [6, "8"]]}],  # a key after "values"
        [{"metric": {"a": "1"}, "values": [[1, "1"]], "histograms": [[2, {"count": "3", "sum": "4"}]]}],
        [{"values": [[3, "+Inf"]], "metric": {"a": "}"}}, {"metric": {"a": "2"}, "values": []}],
        [],
    ],
)  # fmt: skip
def test_the_fast_decoder_never_misreads_an_odd_layout(result: list[dict]) -> None:
    """Bodies no server we run sends (recorded by hand): each decodes exactly as plain json reads it."""
    body = json.dumps({"status": "success", "data": {"resultType": "matrix", "result": result}},
                      separators=(",", ":")).encode()  # fmt: skip
    matrix = decode_matrix(body)
    assert matrix.labels == [series["metric"] for series in result]
    assert matrix.counts.tolist() == [len(series["values"]) for series in result]
    points = [point for series in result for point in series["values"]]
    assert matrix.ts_ms.tolist() == [int(t * 1000) for t, _ in points]
    np.testing.assert_array_equal(matrix.values, np.array([float(v) for _, v in points], dtype=float))


def test_a_busy_warehouse_stops_the_requests_already_in_flight(prom: PrometheusServer, tmp_path: Path) -> None:
    """All is fetched before the warehouse is locked; if the lock cannot be had, nothing is written and no request
    thread is left behind."""
    holder = Warehouse(tmp_path / "w.duckdb")
    holder.ensure_created()
    busy = Warehouse(holder.path, lock_timeout=0.3)
    config = with_settings(max_points_per_request=1_000)  # 24 requests: most still waiting when the lock fails
    threads_before = {thread.name for thread in threading.enumerate()}
    with holder.write_run("test"), pytest.raises(WarehouseBusyError, match=r"w\.duckdb is busy"):
        collect_prometheus(busy, config, START, END, STEP, env={"SRE_PROMETHEUS_URL": prom.url})
    assert not any(t.name.startswith("sre-prometheus") for t in threading.enumerate() if t.name not in threads_before)
    assert table_state(holder)[0][0] == 0
    assert holder.runs().status.tolist() == ["ok"]  # the holder's own empty run; the busy one never began


def test_a_bad_query_fails_at_once_and_never_shows_the_token(prom: PrometheusServer, tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    config = with_settings({"cpu": {"query": "rate(sre_test_cpu[5m]"}})
    started = time.monotonic()
    with pytest.raises(CollectionError, match=r"query 'cpu' chunk .* failed: HTTP 400: bad_data: .*parse error"):
        collect_prometheus(
            warehouse, config, START, END, STEP, env={"SRE_PROMETHEUS_URL": prom.url, "SRE_PROMETHEUS_TOKEN": TOKEN}
        )
    assert time.monotonic() - started < 5  # not retried: a 4xx will not get better
    runs = warehouse.runs()
    assert runs.status.tolist() == ["failed"] and "HTTP 400" in runs.error[0]
    assert TOKEN not in runs.to_csv()
    assert TOKEN not in repr(prometheus_target(config, {"SRE_PROMETHEUS_TOKEN": TOKEN}))
    with pytest.raises(CollectionError, match=r"unknown metric 'nope': expected keys of \[catalogue\] \(cpu\)"):
        collect_prometheus(warehouse, config, START, END, STEP, metrics=["nope"], env={"SRE_PROMETHEUS_URL": prom.url})


# ---------------------------------------------------------------------------------------------- failures


def test_prometheus_stopped_mid_collection_leaves_the_warehouse_unchanged(
    prom: PrometheusServer, blocks: Path, tmp_path: Path
) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    env = {"SRE_PROMETHEUS_URL": prom.url}
    some = collect_prometheus(warehouse, CONFIG, START, START + timedelta(hours=6), STEP, ["cpu", "requests_raw"], env)
    assert (some.metrics, some.chunks, some.series) == (2, 2, 4)  # app-2 appears later
    before = table_state(warehouse)
    config = with_settings(CONFIG.model_dump(mode="json", exclude_none=True)["catalogue"], concurrency=1, retries=1)
    with prometheus_server(copy_of(blocks, tmp_path), extra_args=[f"--query.lookback-delta={LOOKBACK}"]) as victim:

        def stop_after_first_chunk(done: int, total: int) -> None:
            if done == 1:
                victim.stop()

        with pytest.raises(CollectionError) as raised:
            collect_prometheus(
                warehouse, config, START, END, STEP, env={"SRE_PROMETHEUS_URL": victim.url},
                progress=stop_after_first_chunk,
            )  # fmt: skip
    message = str(raised.value)
    # which chunk meets the stopped server depends on how far the worker got while it stopped
    assert re.fullmatch(
        rf"Prometheus http://127\.0\.0\.1:{victim.port}: query '\w+' chunk 2025-12-\d\d \d\d:\d\d:00\.\.2025-12-"
        r"\d\d \d\d:\d\d:00 UTC failed after 2 attempts: connection refused",
        message,
    ), message
    assert table_state(warehouse) == before
    runs = warehouse.runs()
    assert runs.status.tolist() == ["failed", "ok"]
    assert runs.error[0] == message and runs.rows_written[0] == 0


def test_a_server_that_comes_up_while_we_retry_is_collected(
    blocks: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    warehouse = Warehouse(tmp_path / "w.duckdb")
    config = with_settings(CONFIG.model_dump(mode="json", exclude_none=True)["catalogue"], retries=6)
    env = {"SRE_PROMETHEUS_URL": f"http://127.0.0.1:{port}"}
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(collect_prometheus, warehouse, config, START, START + timedelta(days=1), STEP, None, env)
        time.sleep(0.3)  # the first attempts are refused
        with prometheus_server(copy_of(blocks, tmp_path), extra_args=[f"--query.lookback-delta={LOOKBACK}"], port=port):
            summary = future.result(timeout=60)
    assert summary.rows_written > 3 * 1440
    assert "connection refused; retrying in 0.5 s" in caplog.text


# ---------------------------------------------------------------------------------------------- VictoriaMetrics


@pytest.fixture(scope="module")
def vm() -> Iterator[VictoriaMetricsServer]:
    with victoria_metrics_server([f"-search.maxLookback={LOOKBACK}"]) as server:
        server.load(HISTORY)
        yield server


def test_victoria_metrics_gives_the_same_results(
    vm: VictoriaMetricsServer, collected: tuple[Warehouse, PrometheusSummary], tmp_path: Path
) -> None:
    prom_warehouse, prom_summary = collected
    warehouse = Warehouse(tmp_path / "w.duckdb")
    summary = collect_prometheus(warehouse, CONFIG, START, END, STEP, env={"SRE_PROMETHEUS_URL": vm.url})
    assert stored(warehouse, "cpu") == stored(prom_warehouse, "cpu") == expected_cpu()
    assert stored(warehouse, "requests_raw") == stored(prom_warehouse, "requests_raw")
    warm = (T0 + RATE_WARMUP * STEP) * 1000
    vm_rate, prom_rate = (
        {ms: v for ms, v in stored(w, "request_rate")["app-1"].items() if ms >= warm}
        for w in (warehouse, prom_warehouse)
    )
    assert vm_rate.keys() == prom_rate.keys() and np.allclose(list(vm_rate.values()), list(prom_rate.values()))
    assert (summary.chunks, summary.series, summary.unmapped_components) == (
        prom_summary.chunks, prom_summary.series, prom_summary.unmapped_components,
    )  # fmt: skip
    # VictoriaMetrics skips NaN samples instead of returning them; it returns ±Inf like Prometheus
    assert summary.dropped_non_finite == sum(1 for i in range(POINTS) if math.isinf(cpu_value(i)))


def test_an_overloaded_server_answering_503_is_retried(
    collected: tuple[Warehouse, PrometheusSummary], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """VictoriaMetrics limited to one query at a time, queueing none, answers 503 to our concurrent chunks."""
    with victoria_metrics_server(
        [f"-search.maxLookback={LOOKBACK}", "-search.maxConcurrentRequests=1", "-search.maxQueueDuration=1ms"]
    ) as busy:
        busy.load(HISTORY)
        config = with_settings(CONFIG.model_dump(mode="json", exclude_none=True)["catalogue"], retries=8)
        warehouse = Warehouse(tmp_path / "w.duckdb")
        collect_prometheus(warehouse, config, START, END, STEP, env={"SRE_PROMETHEUS_URL": busy.url})
    assert "HTTP 503" in caplog.text and "retrying in" in caplog.text
    assert stored(warehouse, "cpu") == stored(collected[0], "cpu")


@contextlib.contextmanager
def _faulty_peer(reply: bytes) -> Iterator[str]:
    """A peer on loopback that answers every request with ``reply`` and hangs up: the failures of a network or a
    proxy in between, which no Prometheus we could start would produce on demand."""
    import socketserver

    class Faulty(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            while self.rfile.readline() not in (b"\r\n", b""):
                pass
            self.wfile.write(reply)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Faulty)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# "Connection: close", as a peer that hangs up after each answer says: else the client may reuse the connection
# of an earlier request (the count() probe) and meet the hang-up first, a transient failure it retries.
CUT_SHORT = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n"
    b'{"status":"success","data":{"resultType":"matrix","result":['
)  # promises 100 kB, sends 60 bytes
NOT_GZIP = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 12\r\nConnection: close\r\n\r\nnot gzipped!"


def test_a_body_that_cannot_be_decoded_fails_at_once_naming_why(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with _faulty_peer(NOT_GZIP) as url, pytest.raises(CollectionError) as raised:
        collect_prometheus(warehouse, CONFIG, START, START + timedelta(hours=1), STEP, metrics=["cpu"],
                           env={"SRE_PROMETHEUS_URL": url})  # fmt: skip
    assert str(raised.value).endswith("failed: the response body cannot be decoded (its Content-Encoding is wrong)"), (
        raised.value
    )
    assert warehouse.runs().status.tolist() == ["failed"]


def test_a_response_cut_short_is_retried_then_named_and_nothing_is_written(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    config = with_settings(retries=1)
    with _faulty_peer(CUT_SHORT) as url, pytest.raises(CollectionError) as raised:
        collect_prometheus(warehouse, config, START, START + timedelta(hours=1), STEP, metrics=["cpu"],
                           env={"SRE_PROMETHEUS_URL": url})  # fmt: skip
    assert re.fullmatch(
        r"Prometheus http://127\.0\.0\.1:\d+: query 'cpu' chunk 2025-12-07 00:00:00\.\.2025-12-07 01:00:00 UTC "
        r"failed after 2 attempts: connection broken while reading the response",
        str(raised.value),
    ), raised.value
    assert warehouse.runs().status.tolist() == ["failed"]


def test_credentials_never_show_in_the_target() -> None:
    target = prometheus_target(BASE, {"SRE_PROMETHEUS_URL": "https://sre:Fake-Url-Pw@prom.example:9443/prom/"})
    assert target.describe() == "https://prom.example:9443/prom"
    assert "Fake-Url-Pw" in target.secrets()


# ---------------------------------------------------------------------------------------------- live exporters


REDIS_PASSWORD = "Fake-Redis-Exporter-Secret"
LIVE_SCRAPES = 5


@pytest.fixture(scope="module")
def live() -> Iterator[PrometheusServer]:
    """Prometheus scraping node_exporter (job app), postgres_exporter (postgresql), redis_exporter (redis)."""
    with contextlib.ExitStack() as stack:
        pg = stack.enter_context(postgres_server())
        rs = stack.enter_context(redis_server(password=REDIS_PASSWORD))
        node = stack.enter_context(node_exporter())
        pg_exporter = stack.enter_context(
            postgres_exporter(f"postgresql://postgres@127.0.0.1:{pg.port}/postgres?sslmode=disable")
        )
        redis_exp = stack.enter_context(redis_exporter(f"127.0.0.1:{rs.port}", REDIS_PASSWORD))
        jobs = {"app": node.address, "postgresql": pg_exporter.address, "redis": redis_exp.address}
        server = stack.enter_context(prometheus_server(scrape_jobs=jobs, scrape_interval="1s"))
        _wait_for_scrapes(server, 2)
        rs.benchmark(2000, "set,get")  # keyspace hits between scrapes: the hit ratio is a rate
        _wait_for_scrapes(server, LIVE_SCRAPES)
        yield server


def _wait_for_scrapes(server: PrometheusServer, scrapes: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        done = _scrapes(server)
        if len(done) == 3 and min(done.values()) >= scrapes:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"exporters not scraped {scrapes} times in {timeout:.0f} s: {done}")
        time.sleep(0.25)


def _scrapes(server: PrometheusServer) -> dict[str, int]:
    response = requests.get(
        f"{server.url}/api/v1/query", params={"query": "sum by (job) (count_over_time(up[1m]) * up)"}, timeout=5
    )
    return {r["metric"]["job"]: int(float(r["value"][1])) for r in response.json()["data"]["result"]}


def test_live_exporters_with_the_default_catalogue(live: PrometheusServer, tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    end = datetime.now(UTC)
    summary = collect_prometheus(
        warehouse, BASE, end - timedelta(minutes=1), end, timedelta(seconds=1), env={"SRE_PROMETHEUS_URL": live.url}
    )
    con = warehouse.open_read_only()
    try:
        rows = con.execute(
            "SELECT s.metric, s.component, count(*), min(m.value), max(m.value) "
            "FROM metric_samples m JOIN metric_series s USING (series_id) GROUP BY ALL"
        ).fetchall()
    finally:
        con.close()
    found = {metric: (component, n, low, high) for metric, component, n, low, high in rows}
    percents = ["cpu", "memory", "disk", "db_connections", "redis_memory", "redis_hit_ratio", "redis_clients"]
    for metric in percents:
        _component, n, low, high = found[metric]
        assert n >= (1 if metric == "redis_hit_ratio" else LIVE_SCRAPES - 2), metric
        assert 0 <= low <= high <= 100, (metric, low, high)
    assert {metric: found[metric][0] for metric in [*percents, "db_size_bytes", "redis_evictions"]} == {
        "cpu": "app", "memory": "app", "disk": "app", "db_connections": "postgresql", "redis_memory": "redis",
        "redis_hit_ratio": "redis", "redis_clients": "redis", "db_size_bytes": "postgresql", "redis_evictions": "redis",
    }  # fmt: skip
    assert found["db_connections"][3] > 0 and found["redis_clients"][3] > 0 and found["db_size_bytes"][2] > 1e6
    assert found["redis_evictions"][2] >= 0
    assert set(summary.empty_metrics) == {
        "es_unassigned_shards", "es_status", "es_jvm_heap", "request_rate", "error_rate", "latency_p95",
        "nginx_connections", "nginx_request_rate", "nginx_upstream_errors", "tls_cert_days",
    }  # fmt: skip
    up = {component: low for metric, component, _n, low, _high in rows if metric == "up"}
    assert up == {"app": 1, "postgresql": 1, "redis": 1}  # every target answers, one series per job and server
    assert summary.unmapped_series == 0 and summary.dropped_non_finite >= 0


# ---------------------------------------------------------------------------------------------- the command


def test_sre_collect_prometheus_as_a_user_runs_it(prom: PrometheusServer, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    config = tmp_path / "platform.toml"
    config.write_text(config_to_toml(CONFIG))
    sre = str(Path(sys.executable).with_name("sre"))
    argv = [sre, "collect", "prometheus", "--config", str(config), "--warehouse", str(tmp_path / "w.duckdb"),
            "--start", START.isoformat(), "--end", (START + timedelta(days=2)).isoformat(), "--step", "1m"]  # fmt: skip
    env = {**os.environ, "SRE_PROMETHEUS_URL": prom.url, "SRE_PROMETHEUS_TOKEN": TOKEN}
    first = subprocess.run(argv, env=env, capture_output=True, timeout=120)  # bytes: a "\r" stays a "\r"
    stdout, stderr = first.stdout.decode(), first.stderr.decode()
    assert first.returncode == 0, stderr
    assert stdout.startswith("prometheus: ") and TOKEN not in stdout + stderr
    # stderr is not a terminal here (as in a scheduled job's log): progress is plain lines, not a redrawn bar
    assert "\r" not in stderr
    assert re.fullmatch(r"sre: prometheus: (\d+)/\1 chunks \(100%\) after \d+ s", stderr.splitlines()[-1]), stderr
    rows = Warehouse(tmp_path / "w.duckdb").runs().rows_written.iloc[0]
    assert rows > 2 * 24 * 60  # at least one series over two days at 1-minute steps
    again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0
    con = Warehouse(tmp_path / "w.duckdb").open_read_only()
    try:
        assert con.execute("SELECT count(*) FROM metric_samples").fetchall()[0][0] == rows  # idempotent
    finally:
        con.close()
    quick = tmp_path / "quick-retries.toml"  # retries over 3.5 s, not the default minute
    catalogue = CONFIG.model_dump(mode="json", exclude_none=True)["catalogue"]
    quick.write_text(config_to_toml(with_settings(catalogue, retry_seconds=3.5)))
    argv[argv.index(str(config))] = str(quick)
    down = subprocess.run(argv, env={**env, "SRE_PROMETHEUS_URL": "http://127.0.0.1:1"}, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    lines = [line.strip() for line in down.stderr.splitlines() if line.strip()]
    assert down.returncode == 1 and "Traceback" not in down.stderr
    assert [line for line in lines if line.startswith("sre: error: ")] == [lines[-1]]
    assert "connection refused" in lines[-1] and "127.0.0.1:1" in lines[-1]
    assert all(line.startswith(("sre: warning: ", "sre: error: ")) for line in lines), lines
    # every request in flight is refused alike: one warning per round of retries, not one per request
    warnings = [line for line in lines if line.startswith("sre: warning: ")]
    assert [line.rsplit("(", 1)[1] for line in warnings] == [f"attempt {n} of at most 4)" for n in range(2, 5)]


# ---------------------------------------------------------------------------------------------- restarts


def test_a_prometheus_restarted_mid_collection_is_waited_for_and_collected(
    blocks: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A routine restart: stopped after the first chunk, started again on the same port and data 5 s later (more
    than the 3.5 s the retries once lasted). The default retries, spread over a minute, see it through."""
    warehouse = Warehouse(tmp_path / "w.duckdb")
    data = copy_of(blocks, tmp_path)
    config = with_settings(CONFIG.model_dump(mode="json", exclude_none=True)["catalogue"], concurrency=1)
    assert config.sources.prometheus.retries is None and config.sources.prometheus.retry_seconds == 60
    stopped = threading.Event()
    with (
        prometheus_server(data, extra_args=[f"--query.lookback-delta={LOOKBACK}"]) as first,
        ThreadPoolExecutor(1) as pool,
    ):

        def stop_after_first_chunk(done: int, total: int) -> None:
            if done == 1:
                first.stop()
                stopped.set()

        future = pool.submit(
            collect_prometheus, warehouse, config, START, END, STEP, env={"SRE_PROMETHEUS_URL": first.url},
            progress=stop_after_first_chunk,
        )  # fmt: skip
        assert stopped.wait(60)
        time.sleep(5)
        with prometheus_server(data, extra_args=[f"--query.lookback-delta={LOOKBACK}"], port=first.port):
            summary = future.result(timeout=120)
    # the request in flight when the server stopped may fail another way first (a reset): the refusals come after
    assert re.search(r"connection refused; retrying in [\d.]+ s \(attempt \d+ of at most 12\)", caplog.text)
    assert summary.chunks == 9 and stored(warehouse, "cpu") == expected_cpu()
    assert warehouse.runs().status.tolist() == ["ok"]
