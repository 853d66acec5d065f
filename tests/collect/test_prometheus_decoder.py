"""The range-query decoder verifies the server's answer instead of trusting its layout (issue 13, item 7).

Answers no Prometheus or VictoriaMetrics we can start would send -- points out of order, two at one time, two
series with the same labels, a body far larger than the query's series could fill -- come from a small HTTP
server of the test's own. Real answers of both servers are decoded in test_collect_prometheus.py.
"""

from __future__ import annotations

import contextlib
import gzip
import http.server
import json
import re
import threading
import tomllib
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import tomli_w

from sre_lib.collect.prometheus import ResponseError, collect_prometheus, decode_matrix, prometheus_target
from sre_lib.config import DEFAULT_CONFIG_PATH, PlatformConfig, config_to_toml, load_config, parse_config
from sre_lib.errors import CollectionError, ConfigError
from sre_lib.warehouse.store import Warehouse

T0 = 1_765_065_600  # 2025-12-07 00:00 UTC
STEP = 60
POINTS = 61  # one hour, both ends included: one request
START = datetime.fromtimestamp(T0, UTC)
END = START + timedelta(hours=1)
APP_1 = {"__name__": "sre_test_cpu", "instance": "app-1", "job": "app"}
APP_2 = {"__name__": "sre_test_cpu", "instance": "app-2", "job": "app"}
SHOWN_APP_1 = '{__name__="sre_test_cpu", instance="app-1", job="app"}'
WINDOW = (T0 * 1000, (T0 + (POINTS - 1) * STEP) * 1000, STEP * 1000)

Series = tuple[dict[str, str], list[tuple[float, str]]]
Answer = Callable[[float, float, float], tuple[dict[str, str], Iterable[bytes]]]


def config(**prometheus: Any) -> PlatformConfig:
    """The default config with one catalogue query (its component from the job label) and these settings."""
    raw = tomllib.loads(config_to_toml(load_config(DEFAULT_CONFIG_PATH)))
    raw["catalogue"] = {"cpu": {"query": "sre_test_cpu", "unit": "percent"}}
    raw["sources"]["prometheus"].update(prometheus)
    return parse_config(tomli_w.dumps(raw), source="test")


def matrix_body(series: list[Series], indent: int | None = None) -> bytes:
    """A range-query answer, laid out as Prometheus lays it out, or pretty-printed (which the decoder reads
    through json)."""
    result = [{"metric": labels, "values": [[t, v] for t, v in points]} for labels, points in series]
    document = {"status": "success", "data": {"resultType": "matrix", "result": result}}
    return json.dumps(document, indent=indent, separators=None if indent else (",", ":")).encode()


def grid(start: float, end: float, step: float, value: Callable[[int], float] = float) -> list[tuple[float, str]]:
    """A point at every evaluation time of [start, end]."""
    count = round((end - start) / step) + 1
    return [(start + i * step, repr(value(i))) for i in range(count)]


def swapped(points: list[tuple[float, str]]) -> list[tuple[float, str]]:
    """The second and third points in each other's place: count, first and last time as the window expects."""
    return [points[0], points[2], points[1], *points[3:]]


def repeated(points: list[tuple[float, str]]) -> list[tuple[float, str]]:
    """The third point's time given to the fourth as well: one evaluation time twice, one missing."""
    return [*points[:3], (points[2][0], points[3][1]), *points[4:]]


# ---------------------------------------------------------------------------------------------- decoding


LAYOUTS = pytest.mark.parametrize("indent", [None, 1], ids=["prometheus-layout", "through-json"])


@LAYOUTS
def test_points_out_of_order_are_refused_not_stored_at_the_grid_times(indent: int | None) -> None:
    """Count, first and last time all match the window: before the fix the times were assumed, not read."""
    points = swapped(grid(T0, T0 + (POINTS - 1) * STEP, STEP))
    body = matrix_body([(APP_1, points)], indent)
    with pytest.raises(ResponseError) as raised:
        decode_matrix(body, WINDOW)
    assert str(raised.value) == (
        f"series {SHOWN_APP_1} has a point at 2025-12-07 00:01:00 UTC after one at 2025-12-07 00:02:00 UTC: "
        "a range result's times strictly increase"
    )


@LAYOUTS
def test_two_points_at_one_time_are_refused(indent: int | None) -> None:
    body = matrix_body(
        [(APP_2, grid(T0, T0 + 600, STEP)), (APP_1, repeated(grid(T0, T0 + 600, STEP)))], indent
    )  # APP_2's last point comes before APP_1's first: no fault, a new series starts there
    with pytest.raises(ResponseError, match=re.escape(f"series {SHOWN_APP_1} has two points at 2025-12-07 00:02:00")):
        decode_matrix(body, (T0 * 1000, (T0 + 600) * 1000, STEP * 1000))


@LAYOUTS
def test_two_series_with_the_same_labels_are_refused(indent: int | None) -> None:
    reordered = dict(reversed(APP_1.items()))  # the same labels in another order are the same series
    series = [(APP_1, grid(T0, T0 + 120, STEP)), (APP_2, []), (reordered, grid(T0 + 180, T0 + 300, STEP))]
    with pytest.raises(ResponseError) as raised:
        decode_matrix(matrix_body(series, indent))
    assert str(raised.value) == (
        f"series 1 and 3 have the same labels {SHOWN_APP_1}: a range result holds each series once"
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (matrix_body([(APP_1, [(T0, "1"), (float("nan"), "2")])]), "a point's time is nan, not seconds since 1970"),
        (matrix_body([(APP_1, [(T0, "1"), (1e20, "2")])]), "a point's time is 1e+20, not seconds since 1970"),
        (b'{"status":"success","data":[1]}', "data is [1], expected an object"),
        (b'{"status":"success","data":{"resultType":"matrix","result":{}}}', "result is {}, expected a list of series"),
        (matrix_body([({"job": 7}, [(T0, "1")])]), 'series 1: its labels ({"job": 7}) are not an object of strings'),  # type: ignore[dict-item]
        (b'{"status":"success","data":{"resultType":"matrix","result":[{"metric":[],"values":[]}]}}',
         "series 1: its labels ([]) are not an object of strings"),
    ],
)  # fmt: skip
def test_an_answer_that_is_not_a_series_list_is_refused_in_one_line(body: bytes, expected: str) -> None:
    """Each once gave a traceback (AttributeError), an empty result, or a timestamp wrapped around int64."""
    with pytest.raises(ResponseError) as raised:
        decode_matrix(body)
    assert str(raised.value) == expected


def test_points_in_order_with_gaps_off_the_grid_decode_as_sent() -> None:
    """Verified, not refused: gaps, a series that starts late, times off the step (a query frontend may align
    them), an empty series and two series whose times interleave."""
    first = [(T0, "1"), (T0 + 60, "2"), (T0 + 300.5, "NaN"), (T0 + 301, "+Inf")]
    second = [(T0 - 30, "5"), (T0 + 30, "6")]
    matrix = decode_matrix(matrix_body([(APP_1, first), (APP_2, []), ({"job": "app"}, second)]), WINDOW)
    assert matrix.counts.tolist() == [4, 0, 2]
    assert matrix.ts_ms.tolist() == [int(t * 1000) for t, _ in first + second]
    assert matrix.values[:2].tolist() == [1.0, 2.0] and matrix.values[4:].tolist() == [5.0, 6.0]


# ---------------------------------------------------------------------------------------------- through a collection


class _Peer(http.server.BaseHTTPRequestHandler):
    """Answers the collector's count() probe with one series and its range queries with ``server.answer``.
    HTTP/1.0: a body without Content-Length ends when the connection closes, so any size can be sent."""

    server: _PeerServer

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query))
        if url.path == "/api/v1/query":
            vector = [{"metric": {}, "value": [float(params["time"]), "1"]}]
            answer = {"status": "success", "data": {"resultType": "vector", "result": vector}}
            headers, pieces = {}, [json.dumps(answer).encode()]
        else:
            self.server.range_requests += 1
            headers, pieces = self.server.answer(float(params["start"]), float(params["end"]), float(params["step"]))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            for piece in pieces:
                self.wfile.write(piece)
                self.server.sent += len(piece)
        except (BrokenPipeError, ConnectionResetError):  # the collector hung up: what a refusal looks like
            pass

    def log_message(self, *_args: Any) -> None:
        pass


class _PeerServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    answer: Answer
    sent = 0
    range_requests = 0


@contextlib.contextmanager
def peer(answer: Answer) -> Iterator[_PeerServer]:
    server = _PeerServer(("127.0.0.1", 0), _Peer)
    server.answer = answer
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def url_of(server: _PeerServer) -> dict[str, str]:
    return {"SRE_PROMETHEUS_URL": f"http://127.0.0.1:{server.server_address[1]}"}


def warehouse_state(warehouse: Warehouse) -> list[tuple]:
    con = warehouse.open_read_only()
    try:
        return con.execute(
            "SELECT (SELECT count(*) FROM metric_samples), "
            "(SELECT sum(hash(series_id, ts, value)) FROM metric_samples), (SELECT count(*) FROM metric_series)"
        ).fetchall()
    finally:
        con.close()


FAULTS = {
    "out-of-order": ([(APP_1, "swapped")], f"series {SHOWN_APP_1} has a point at 2025-12-07 01:01:00 UTC after one "
                     "at 2025-12-07 01:02:00 UTC: a range result's times strictly increase"),
    "one-time-twice": ([(APP_1, "repeated")], f"series {SHOWN_APP_1} has two points at 2025-12-07 01:02:00 UTC: a "
                       "range result's times strictly increase"),
    "same-labels-twice": ([(APP_1, "grid"), (APP_2, "grid"), (APP_1, "grid")],
                          f"series 1 and 3 have the same labels {SHOWN_APP_1}: a range result holds each series once"),
}  # fmt: skip
LAYOUT = {"grid": lambda points: points, "swapped": swapped, "repeated": repeated}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_misordered_answer_fails_the_run_naming_query_window_and_series(fault: str, tmp_path: Path) -> None:
    """The first hour is collected from a sound answer; the second hour's answer has the fault: the run fails at
    once (no retry will change the server's answer), naming what and where, and the warehouse is as it was."""
    layout, reason = FAULTS[fault]
    faulty = [False]

    def answer(start: float, end: float, step: float) -> tuple[dict[str, str], list[bytes]]:
        series = [(labels, LAYOUT[shape if faulty[0] else "grid"](grid(start, end, step))) for labels, shape in layout]
        if not faulty[0]:
            series = list({json.dumps(labels): (labels, points) for labels, points in series}.values())
        return {}, [matrix_body(series)]

    warehouse = Warehouse(tmp_path / "w.duckdb")
    with peer(answer) as server:
        first = collect_prometheus(warehouse, config(), START, END, STEP, env=url_of(server))
        before = warehouse_state(warehouse)
        faulty[0] = True
        with pytest.raises(CollectionError) as raised:
            collect_prometheus(warehouse, config(), END, END + timedelta(hours=1), STEP, env=url_of(server))
        assert server.range_requests == 2
    assert first.rows_written == POINTS * len({labels["instance"] for labels, _ in layout})
    port = url_of(server)["SRE_PROMETHEUS_URL"].rsplit(":", 1)[1]
    assert str(raised.value) == (
        f"Prometheus http://127.0.0.1:{port}: query 'cpu' chunk 2025-12-07 01:00:00..2025-12-07 02:00:00 UTC failed: "
        f"unexpected response: {reason}"
    )
    assert warehouse_state(warehouse) == before
    runs = warehouse.runs()
    assert runs.status.tolist() == ["failed", "ok"] and runs.error[0] == str(raised.value)


MIB = 2**20
HUGE = 200 * MIB


def endless_answer(declare_length: bool) -> Answer:
    """A sound answer's start, then spaces until HUGE bytes: what a server (or a proxy) sends when it answers
    far more than the query's one series could fill."""

    def answer(_start: float, _end: float, _step: float) -> tuple[dict[str, str], Iterator[bytes]]:
        def pieces() -> Iterator[bytes]:
            yield b'{"status":"success","data":{"resultType":"matrix","result":['
            for _ in range(HUGE // MIB):
                yield b" " * MIB

        return ({"Content-Length": str(HUGE)} if declare_length else {}), pieces()

    return answer


@pytest.mark.parametrize("declare_length", [False, True], ids=["streamed", "content-length"])
def test_a_response_over_max_response_bytes_is_refused_while_reading(declare_length: bool, tmp_path: Path) -> None:
    """The count said one series; the server sends 200 MB. The collector stops reading at the limit."""
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with peer(endless_answer(declare_length)) as server, pytest.raises(CollectionError) as raised:
        collect_prometheus(warehouse, config(max_response_bytes=MIB), START, END, STEP, env=url_of(server))
    declared = f"is {HUGE:,} bytes (its Content-Length)" if declare_length else f"was refused after {MIB + 1:,} bytes"
    assert str(raised.value).endswith(
        f"failed: the response {declared}, over sources.prometheus.max_response_bytes = {MIB:,}: raise it if this "
        "query's answers are that large"
    ), raised.value
    assert server.range_requests == 1  # refused for good, not retried
    assert server.sent < HUGE // 4  # what the sockets' buffers took before the collector hung up, not the body
    assert warehouse.runs().status.tolist() == ["failed"]


def test_a_response_of_exactly_max_response_bytes_is_taken(tmp_path: Path) -> None:
    """The limit is the largest body taken: one byte more is refused."""

    def answer(start: float, end: float, step: float) -> tuple[dict[str, str], list[bytes]]:
        return {}, [matrix_body([(APP_1, grid(start, end, step))])]

    size = len(answer(float(T0), float(T0 + (POINTS - 1) * STEP), float(STEP))[1][0])  # as the request says
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with peer(answer) as server:
        taken = collect_prometheus(warehouse, config(max_response_bytes=size), START, END, STEP, env=url_of(server))
        with pytest.raises(CollectionError, match=f"refused after {size:,} bytes, over .*max_response_bytes = "):
            collect_prometheus(warehouse, config(max_response_bytes=size - 1), START, END, STEP, env=url_of(server))
    assert taken.rows_written == POINTS


def test_the_default_limit_is_generous() -> None:
    """256 MiB: about eight times the JSON of max_samples_per_request (a million samples, about 33 MB)."""
    target = prometheus_target(load_config(DEFAULT_CONFIG_PATH), {})
    assert target.max_response_bytes == 256 * MIB
    with pytest.raises(ConfigError, match=r"sources\.prometheus\.max_response_bytes: expected greater than 0, got 0"):
        config(max_response_bytes=0)


def test_two_series_stored_as_one_warehouse_series_are_refused(tmp_path: Path) -> None:
    """Distinct labels, the same warehouse series once component (from the job) and instance are set: their
    points would be duplicate rows, which fail the capacity report later."""

    def answer(start: float, end: float, step: float) -> tuple[dict[str, str], list[bytes]]:
        labelled = {**APP_1, "component": "app"}  # the component the job label names anyway
        return {}, [matrix_body([(APP_1, grid(start, end, step)), (labelled, grid(start, end, step))])]

    warehouse = Warehouse(tmp_path / "w.duckdb")
    with peer(answer) as server, pytest.raises(CollectionError) as raised:
        collect_prometheus(warehouse, config(), START, END, STEP, env=url_of(server))
    assert str(raised.value) == (
        "Prometheus query 'cpu' chunk 2025-12-07 00:00:00..2025-12-07 01:00:00 UTC: series "
        f'{SHOWN_APP_1} and {{__name__="sre_test_cpu", component="app", instance="app-1", job="app"}} are one '
        "warehouse series once its component and instance are set: the query must tell them apart"
    )
    assert warehouse.runs().status.tolist() == ["failed"] and warehouse.runs().error[0] == str(raised.value)


def test_a_gzipped_answer_is_decoded_and_the_limit_counts_what_it_unpacks_to(tmp_path: Path) -> None:
    """A proxy may compress although we ask for identity: the answer is unpacked, and the limit applies to the
    unpacked bytes, so 200 MB of JSON packed into a few hundred kB is refused all the same."""

    def answer(start: float, end: float, step: float) -> tuple[dict[str, str], list[bytes]]:
        return {"Content-Encoding": "gzip"}, [gzip.compress(matrix_body([(APP_1, grid(start, end, step))]))]

    def bomb(_start: float, _end: float, _step: float) -> tuple[dict[str, str], list[bytes]]:
        opening = b'{"status":"success","data":{"resultType":"matrix","result":['
        return {"Content-Encoding": "gzip"}, [gzip.compress(opening + b" " * HUGE, compresslevel=1)]

    warehouse = Warehouse(tmp_path / "w.duckdb")
    with peer(answer) as server:
        taken = collect_prometheus(warehouse, config(max_response_bytes=MIB), START, END, STEP, env=url_of(server))
    assert taken.rows_written == POINTS
    with peer(bomb) as server, pytest.raises(CollectionError, match=f"refused after {MIB + 1:,} bytes, over "):
        collect_prometheus(warehouse, config(max_response_bytes=MIB), END, END + timedelta(hours=1), STEP,
                           env=url_of(server))  # fmt: skip
    assert warehouse.runs().status.tolist() == ["failed", "ok"]
