"""Range queries against a Prometheus-compatible API (Prometheus, VictoriaMetrics) into the warehouse.

Each metric of the config's catalogue is a PromQL query, evaluated over [start, end] at ``step`` through
``/api/v1/query_range``; every result series becomes a ``metric_series`` row and its points ``metric_samples``.

* Chunking: Prometheus refuses more than 11,000 points per series in one request, so the evaluation points
  start, start + step, ... are cut into chunks of at most ``max_points_per_request`` points. A range result
  includes both of its ends, so chunks are [s0, s0 + (n-1)·step], [s0 + n·step, ...]: no point is fetched
  twice and none is skipped. A query that returns many series gets shorter chunks, so that a response holds
  about ``max_samples_per_request`` samples at most (memory is bounded by the sample count, not the points).
* Concurrency: chunks are fetched by a bounded thread pool (``concurrency`` workers, at most
  ``IN_FLIGHT_PER_WORKER`` chunks each held in memory) and decoded there straight from the response bytes
  into numpy arrays (no per-sample Python objects, see ``decode_matrix``). The calling thread writes each
  chunk as it completes with ``WriteRun.replace_samples``, all inside one write run: the window lands whole or
  not at all, and collecting the same window again replaces the same rows (idempotent).
* Retries: a refused or dropped connection, a timeout, HTTP 429 or 5xx is retried with exponential backoff
  (``RETRY_*``), then the run fails with a CollectionError naming the query, the chunk's window and what
  failed. Nothing is written by a failed run: the write run rolls back and is logged as failed.
* Values: NaN and ±Inf are not stored (they are counted in the summary). Gaps and series that appear or
  vanish mid-window simply have no rows where the query returned no point. Counter resets are handled by
  PromQL: the catalogue reads counters through ``rate()``, which compensates for resets, never raw.
  Instant selectors (gauges) follow PromQL's lookback: a sample stands for up to 5 minutes after it.
* Answers are verified, not trusted: a body over ``max_response_bytes`` is refused while it is read; points
  out of time order, two points at one time and two series with the same labels are refused (stored, they
  would be rows at wrong times or duplicates). Each fails the run at once, naming the query, window and series.

The URL comes from [sources.prometheus] or SRE_PROMETHEUS_URL; an optional bearer token from
SRE_PROMETHEUS_TOKEN. Neither the token nor a password in the URL appears in a message or the warehouse.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import requests
import urllib3
from prometheus_api_client import PrometheusConnect
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from sre_lib.config import PROMETHEUS_URL_SCHEMES, CatalogueEntry, PlatformConfig
from sre_lib.errors import CollectionError
from sre_lib.secrets import redact, url_location
from sre_lib.warehouse import Warehouse, WriteRun, canonical_labels, series_id

log = logging.getLogger(__name__)

URL_ENV_VAR = "SRE_PROMETHEUS_URL"
TOKEN_ENV_VAR = "SRE_PROMETHEUS_TOKEN"
SOURCE = "prometheus"

# Retry policy for transient failures: waits of 0.5 s, 1 s, 2 s, ... (at most 8 s) between attempts.
RETRY_INITIAL_BACKOFF_SECONDS = 0.5
RETRY_BACKOFF_MULTIPLIER = 2.0
RETRY_MAX_BACKOFF_SECONDS = 8.0
RETRY_HTTP_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

IN_FLIGHT_PER_WORKER = 2  # chunks fetched or decoded but not yet written, per worker: bounds memory
# Uncompressed responses: on a loopback or LAN link gzip costs Prometheus far more CPU than it saves
# (measured on the benchmark's 72 MB of JSON: about 10x longer gzipped than plain).
ACCEPT_ENCODING = "identity"
UNMAPPED_SHOWN = 10  # unmapped component values named in the summary line
READ_PIECE_BYTES = 4 * 2**20  # a response body is read this much at a time (see read_body)

Progress = Callable[[int, int], None]


# ---------------------------------------------------------------------------------------------- target


@dataclass(frozen=True)
class PrometheusTarget:
    """Where and how to query. Neither the URL (it may hold a password) nor the token is in the repr."""

    url: str = field(repr=False)
    token: str | None = field(default=None, repr=False)
    max_points_per_request: int = 11000
    max_samples_per_request: int = 1_000_000
    max_response_bytes: int = 256 * 2**20
    concurrency: int = 4
    timeout_seconds: float = 30.0
    retries: int = 3

    def describe(self) -> str:
        """The URL without credentials, query or fragment: fit for messages and the run log."""
        return url_location(self.url, f"{URL_ENV_VAR} or sources.prometheus.url", PROMETHEUS_URL_SCHEMES)

    def secrets(self) -> list[str | None]:
        return [self.token, urlsplit(self.url).password]


def prometheus_target(config: PlatformConfig, env: Mapping[str, str] | None = None) -> PrometheusTarget:
    """Settings from [sources.prometheus]; URL overridden by SRE_PROMETHEUS_URL; token from SRE_PROMETHEUS_TOKEN."""
    env = os.environ if env is None else env
    source = config.sources.prometheus
    target = PrometheusTarget(
        url=(env.get(URL_ENV_VAR) or source.url).rstrip("/"),
        token=env.get(TOKEN_ENV_VAR) or None,
        max_points_per_request=source.max_points_per_request,
        max_samples_per_request=source.max_samples_per_request,
        max_response_bytes=source.max_response_bytes,
        concurrency=source.concurrency,
        timeout_seconds=source.timeout_seconds,
        retries=source.retries,
    )
    target.describe()  # a URL that cannot be read fails here, before any request
    return target


# ---------------------------------------------------------------------------------------------- window


@dataclass(frozen=True)
class Chunk:
    """One request: a query over evaluation points [start_ms, end_ms] (both included) every step_ms."""

    index: int
    metric: str
    query: str
    start_ms: int
    end_ms: int
    step_ms: int

    @property
    def start(self) -> datetime:
        return _from_ms(self.start_ms)

    @property
    def end(self) -> datetime:
        return _from_ms(self.end_ms)

    def describe(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M:%S}..{self.end:%Y-%m-%d %H:%M:%S} UTC"


def split_window(start_ms: int, end_ms: int, step_ms: int, max_points: int) -> list[tuple[int, int]]:
    """Chunks [first, last] of the evaluation points start, start + step, ... <= end, each <= max_points."""
    if step_ms <= 0 or max_points <= 0 or end_ms < start_ms:
        raise ValueError("need step > 0, max_points > 0 and end >= start")
    points = (end_ms - start_ms) // step_ms + 1
    return [
        (start_ms + first * step_ms, start_ms + (min(first + max_points, points) - 1) * step_ms)
        for first in range(0, points, max_points)
    ]


def _to_ms(moment: datetime) -> int:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    delta = aware - datetime(1970, 1, 1, tzinfo=UTC)
    return delta // timedelta(milliseconds=1)


def _from_ms(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def _seconds_text(ms: int) -> str:
    """Milliseconds as the exact decimal seconds the API takes (Prometheus and VictoriaMetrics alike)."""
    sign = "-" if ms < 0 else ""
    whole, frac = divmod(abs(ms), 1000)
    return f"{sign}{whole}.{frac:03d}"


# ---------------------------------------------------------------------------------------------- decoding


@dataclass(frozen=True)
class Matrix:
    """A decoded range-query result: per series its labels and point count; all points in series order."""

    labels: list[dict[str, str]]
    counts: np.ndarray  # int64, points per series
    ts_ms: np.ndarray  # int64 milliseconds since the epoch
    values: np.ndarray  # float64, NaN and ±Inf included


_VALUES_KEY = b'"values":['
_OPENING_BRACKET = ord("[")  # one per point inside a values array
_PAIRS_TO_LINES = bytes.maketrans(b"[", b"\n")  # with "]" deleted: [[t,"v"],[t,"v"]] -> \n\nt,"v",\nt,"v"
_CSV_READ = pa_csv.ReadOptions(column_names=["t", "v", "rest"], use_threads=False)
_CSV_CONVERT = pa_csv.ConvertOptions(
    column_types={"t": pa.float64(), "v": pa.float64()},
    include_columns=["t", "v"],
    null_values=[],  # "NaN" is a value here, not a missing one
    quoted_strings_can_be_null=False,
)
_SERIES_SHOWN_CHARS = 200  # of a series' labels in a message
_MAX_ABS_SECONDS = 6e10  # point times within about 1,900 years of 1970: what a datetime (and a message) holds


class ResponseError(ValueError):
    """A response body that is not a successful range-query (matrix) result."""


def decode_matrix(body: bytes, window: tuple[int, int, int] | None = None) -> Matrix:
    """Decode and verify a /api/v1/query_range response body. Raises ResponseError naming what is wrong.

    Why not json.loads: it builds three Python objects per sample and tops out near 1 M samples/s, slower
    than Prometheus serves them. Here the ``"values"`` arrays are cut out of the body (the key cannot occur
    inside a JSON string, where a quote is escaped), turned into CSV lines by one ``bytes.translate`` and
    parsed by Arrow's C++ CSV reader; only the small remainder (status, labels) goes through json.loads.
    Any surprise in the layout falls back to decoding the whole body with json.

    The server's layout is verified, not trusted (see ``_verify``): every time is parsed, never inferred from
    the request's ``window`` (start_ms, end_ms, step_ms), which is accepted for callers' sake and not used.
    """
    try:
        matrix = _decode_fast(body)
    except ResponseError:
        raise
    except (ValueError, KeyError, TypeError, IndexError, pa.ArrowInvalid):
        matrix = _decode_json(body)
    _verify(matrix)
    return matrix


def _verify(matrix: Matrix) -> None:
    """Refuse what would be stored wrong: labels that are not strings, two series with the same labels, and a
    series whose times do not strictly increase (points out of order, or two at one time). Each would become
    rows at wrong times or duplicate rows, which later fail the reports; a range result never holds them."""
    keys: dict[tuple[tuple[str, str], ...], int] = {}
    for position, labels in enumerate(matrix.labels):
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            raise ResponseError(f"series {position + 1}: its labels ({_shown(labels)}) are not an object of strings")
        key = tuple(sorted(labels.items()))
        if key in keys:
            raise ResponseError(
                f"series {keys[key] + 1} and {position + 1} have the same labels {_series_name(labels)}: "
                "a range result holds each series once"
            )
        keys[key] = position
    if matrix.ts_ms.size < 2:
        return
    later = np.diff(matrix.ts_ms) > 0
    firsts = np.cumsum(matrix.counts)[:-1]  # where each series but the first starts
    firsts = firsts[(firsts > 0) & (firsts < matrix.ts_ms.size)]
    later[firsts - 1] = True  # a series' first point may come before the previous series' last
    if later.all():
        return
    point = int(np.argmin(later)) + 1
    series = int(np.searchsorted(np.cumsum(matrix.counts), point, side="right"))
    at, before = int(matrix.ts_ms[point]), int(matrix.ts_ms[point - 1])
    fault = (
        f"two points at {_moment(at)}" if at == before else f"a point at {_moment(at)} after one at {_moment(before)}"
    )
    raise ResponseError(
        f"series {_series_name(matrix.labels[series])} has {fault}: a range result's times strictly increase"
    )


def _moment(ms: int) -> str:
    """A point's time for a message: 2025-12-07 00:05:00 UTC, with milliseconds only when it has some."""
    moment = _from_ms(ms)
    return f"{moment:%Y-%m-%d %H:%M:%S}{f'.{ms % 1000:03d}' if ms % 1000 else ''} UTC"


def _series_name(labels: dict[str, str]) -> str:
    """Labels as Prometheus writes a series, {instance="app-1", job="app"}, cut short for a message."""
    text = "{" + ", ".join(f"{name}={json.dumps(value)}" for name, value in sorted(labels.items())) + "}"
    return text if len(text) <= _SERIES_SHOWN_CHARS else text[: _SERIES_SHOWN_CHARS - 4] + "...}"


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= _SERIES_SHOWN_CHARS else text[: _SERIES_SHOWN_CHARS - 3] + "..."


def _times_ms(seconds: np.ndarray) -> np.ndarray:
    """Point times in seconds (float64) as int64 milliseconds; ResponseError when one is not a time."""
    if seconds.size and not (seconds.min() > -_MAX_ABS_SECONDS and seconds.max() < _MAX_ABS_SECONDS):  # or NaN
        bad = seconds[~(np.abs(seconds) < _MAX_ABS_SECONDS)][0]
        raise ResponseError(f"a point's time is {float(bad)!r}, not seconds since 1970")
    return np.rint(seconds * 1000.0).astype(np.int64)


def _decode_fast(body: bytes) -> Matrix:
    view = memoryview(body)
    octets = np.frombuffer(body, dtype=np.uint8)
    skeleton: list[Any] = []
    arrays: list[tuple[int, int]] = []  # where each non-empty values array starts and ends
    counts: list[int] = []
    position = 0
    while (found := body.find(_VALUES_KEY, position)) >= 0:
        opening = found + len(_VALUES_KEY) - 1
        if body[opening + 1] == 0x5D:  # "values":[] -- no points
            closing = opening + 2
            counts.append(0)
        else:
            closing = _values_end(body, opening)
            arrays.append((opening, closing))
            counts.append(int(np.count_nonzero(octets[opening + 1 : closing] == _OPENING_BRACKET)))
        skeleton += (view[position:opening], b"[]")
        position = closing
    skeleton.append(view[position:])
    document = json.loads(b"".join(skeleton))
    result = _result(document)
    if len(result) != len(counts) or any(series["values"] for series in result):
        raise ValueError("values arrays not where expected")
    labels = [series["metric"] for series in result]
    total = sum(counts)
    if not total:
        return Matrix(labels, np.asarray(counts, dtype=np.int64), np.empty(0, np.int64), np.empty(0))
    spans = [view[opening:closing] for opening, closing in arrays]
    lines = b",".join([*spans, b""]).translate(_PAIRS_TO_LINES, b"]")  # a "," after every pair
    table = pa_csv.read_csv(pa.py_buffer(lines), read_options=_CSV_READ, convert_options=_CSV_CONVERT)
    if table.num_rows != total:
        raise ValueError(f"decoded {table.num_rows} points, expected {total}")
    times = _times_ms(table.column("t").to_numpy())
    return Matrix(labels, np.asarray(counts, dtype=np.int64), times, table.column("v").to_numpy())


def _values_end(body: bytes, opening: int) -> int:
    """Where the values array opened at ``opening`` ends (just past its "]]").

    Both Prometheus and VictoriaMetrics put "values" last in a series object, so the array ends right before
    the object's "}", the first "}" after it: memchr finds that one far faster than a search for "]]" among
    the "],[" of every point. Points hold no ":", so one between the two means another key came after "values"
    (a histogram, say), and the slow search decides.
    """
    brace = body.find(b"}", opening)
    if brace > opening and body[brace - 2 : brace] == b"]]" and body.find(b":", opening, brace) < 0:
        return brace  # no ":" in between: only points, no later key of the same object
    closing = body.find(b"]]", opening) + 2
    if closing < 2:
        raise ValueError("unterminated values array")
    return closing


def _decode_json(body: bytes) -> Matrix:
    """The plain, slower decoding: every sample through Python objects."""
    try:
        document = json.loads(body)
        result = _result(document)
        labels: list[dict[str, str]] = []
        counts: list[int] = []
        times: list[float] = []
        values: list[str] = []
        for series in result:
            labels.append(series["metric"])
            points = series.get("values") or []
            counts.append(len(points))
            times += (point[0] for point in points)
            values += (point[1] for point in points)
        return Matrix(
            labels,
            np.asarray(counts, dtype=np.int64),
            _times_ms(np.asarray(times, dtype=np.float64)),
            np.asarray(values, dtype=np.float64),
        )
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        if isinstance(exc, ResponseError):
            raise
        raise ResponseError(f"not a range-query result: {type(exc).__name__}: {exc}") from None


def _result(document: Any) -> list[dict[str, Any]]:
    """The series of a successful matrix result; ResponseError for any other answer."""
    if not isinstance(document, dict) or document.get("status") != "success":
        raise ResponseError(f"status {document.get('status') if isinstance(document, dict) else None!r}")
    data = document["data"]
    if not isinstance(data, dict):
        raise ResponseError(f"data is {_shown(data)}, expected an object")
    if data.get("resultType") != "matrix":
        raise ResponseError(f"result type {data.get('resultType')!r}, expected 'matrix'")
    result = data["result"]
    if not isinstance(result, list):
        raise ResponseError(f"result is {_shown(result)}, expected a list of series")
    return result


# ---------------------------------------------------------------------------------------------- fetching


class _Transient(Exception):
    """A failure worth retrying: refused or dropped connection, timeout, HTTP 408/429/5xx."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _ChunkFailed(Exception):
    """A chunk failed for good (retries spent, or a failure no retry will fix)."""

    def __init__(self, reason: str, attempts: int = 1) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts


class _Cancelled(Exception):
    """The run is being abandoned; a worker stops before its next attempt."""


class _Fetcher:
    """Fetches chunks on a bounded thread pool, with retries; ``results()`` yields each decoded chunk in turn.

    The connection (URL, headers, session) is prometheus-api-client's ``PrometheusConnect``. The request
    itself is a plain GET on its session because ``custom_query_range`` returns ``response.json()``: that
    JSON decoding alone runs at about 1 M samples/s on the 2-core reference machine, about the whole
    end-to-end budget, while ``decode_matrix`` on the raw bytes is several times faster (see
    benchmarks/bench_prometheus.py, which measures both).
    """

    def __init__(self, target: PrometheusTarget) -> None:
        self.target = target
        headers = {"Accept-Encoding": ACCEPT_ENCODING}
        if target.token:
            headers["Authorization"] = f"Bearer {target.token}"
        self.session = requests.Session()
        self.client = PrometheusConnect(
            url=target.url,
            headers=headers,
            session=self.session,
            timeout=target.timeout_seconds,
            retry=Retry(total=0, read=False),  # retries are ours: with backoff, cancellable, reported
        )
        adapter = HTTPAdapter(pool_maxsize=target.concurrency, max_retries=Retry(total=0, read=False))
        self.session.mount(target.url, adapter)  # a pool as large as the worker count
        self.cancelled = threading.Event()
        self.unreachable = threading.Event()
        self.retry_lock = threading.Lock()
        self.retries_warned: set[tuple[str, int]] = set()  # (reason, attempt) already logged
        self.pool = ThreadPoolExecutor(max_workers=target.concurrency, thread_name_prefix="sre-prometheus")
        self.pending: dict[Future[Matrix], Chunk] = {}
        self.waiting: Iterator[Chunk] = iter(())

    def series_counts(self, probes: list[tuple[str, int]]) -> list[int]:
        """How many series each (query, time in ms) returns, by an instant ``count()``; 0 when it cannot say
        (no series then, or a failure: the range requests that follow report failures properly)."""
        return list(self.pool.map(lambda probe: self._count(*probe), probes))

    def _count(self, query: str, at_ms: int) -> int:
        if self.unreachable.is_set():  # a down or hanging server is not asked again: the range requests say why
            return 0
        try:
            response = self.session.get(
                f"{self.client.url}/api/v1/query",
                params={"query": f"count({query})", "time": _seconds_text(at_ms)},
                headers=self.client.headers,
                timeout=self.target.timeout_seconds,
            )
            result = response.json()["data"]["result"] if response.status_code == 200 else []
            return int(float(result[0]["value"][1])) if result else 0
        except requests.RequestException:
            self.unreachable.set()
            return 0
        except (ValueError, KeyError, IndexError, TypeError):
            return 0

    def start(self, chunks: list[Chunk]) -> None:
        """Put the first chunks in flight (at most ``concurrency * IN_FLIGHT_PER_WORKER``) and return."""
        self.waiting = iter(chunks)
        for chunk in self.waiting:
            self.pending[self.pool.submit(self._fetch, chunk)] = chunk
            if len(self.pending) >= self.target.concurrency * IN_FLIGHT_PER_WORKER:
                break

    def results(self) -> Iterator[tuple[Chunk, Matrix]]:
        """Each chunk with its decoded result, on the calling thread, as they arrive. Raises on the first failure."""
        while self.pending:
            done, _ = wait(self.pending, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: self.pending[f].index):
                chunk = self.pending.pop(future)
                try:
                    matrix = future.result()
                except _ChunkFailed as failure:
                    raise self._error(chunk, failure) from None
                next_chunk = next(self.waiting, None)
                if next_chunk is not None:
                    self.pending[self.pool.submit(self._fetch, next_chunk)] = next_chunk
                yield chunk, matrix

    def close(self) -> None:
        """Stop: cancel what has not started, let running attempts end, release the connections."""
        self.cancelled.set()
        for future in self.pending:
            future.cancel()
        self.pool.shutdown(wait=True)
        self.client.close()

    def _fetch(self, chunk: Chunk) -> Matrix:
        """One chunk, retried with backoff while the failure is transient (runs on a worker thread)."""
        attempts = self.target.retries + 1
        for attempt in range(attempts):
            if self.cancelled.is_set():
                raise _Cancelled
            try:
                return self._attempt(chunk)
            except _Transient as transient:
                reason = transient.reason
            except _ChunkFailed as failure:
                failure.attempts = attempt + 1
                raise
            if attempt + 1 < attempts:
                delay = min(
                    RETRY_INITIAL_BACKOFF_SECONDS * RETRY_BACKOFF_MULTIPLIER**attempt, RETRY_MAX_BACKOFF_SECONDS
                )
                if self.cancelled.is_set():
                    raise _Cancelled
                if self._first_to_retry(reason, attempt):
                    where = f"{self.target.describe()}: query {chunk.metric!r} chunk {chunk.describe()}"
                    log.warning(
                        "%s: %s; retrying in %.1f s (attempt %d of %d)",
                        where, redact(reason, self.target.secrets()), delay, attempt + 2, attempts,
                    )  # fmt: skip
                if self.cancelled.wait(delay):
                    raise _Cancelled
        raise _ChunkFailed(reason, attempts)

    def _first_to_retry(self, reason: str, attempt: int) -> bool:
        """Whether this is the first request of the run to retry for this reason after this many attempts:
        a server that is down fails every request in flight alike, and one warning per round says it."""
        with self.retry_lock:
            if (reason, attempt) in self.retries_warned:
                return False
            self.retries_warned.add((reason, attempt))
            return True

    def _attempt(self, chunk: Chunk) -> Matrix:
        """GET one chunk and decode it. Raises _Transient (worth retrying) or _ChunkFailed (not)."""
        params = {
            "query": chunk.query,
            "start": _seconds_text(chunk.start_ms),
            "end": _seconds_text(chunk.end_ms),
            "step": _seconds_text(chunk.step_ms),
            "nocache": "1",  # VictoriaMetrics: evaluate at exactly start + k*step (Prometheus ignores it)
        }
        url = f"{self.client.url}/api/v1/query_range"
        try:
            response = self.session.get(
                url, params=params, headers=self.client.headers, timeout=self.target.timeout_seconds, stream=True
            )
            try:
                body = read_body(response, self.target.max_response_bytes)
            finally:
                response.close()
        except (requests.Timeout, urllib3.exceptions.ReadTimeoutError):
            raise _Transient(f"timed out after {self.target.timeout_seconds:g} s") from None
        except requests.ConnectionError as exc:
            raise _Transient(_connection_failure(exc, self.target.timeout_seconds)) from None
        except (
            requests.exceptions.ChunkedEncodingError,
            urllib3.exceptions.ProtocolError,
            urllib3.exceptions.SSLError,
        ):
            raise _Transient("connection broken while reading the response") from None
        except urllib3.exceptions.DecodeError:  # a proxy's body that says gzip and is not
            raise _ChunkFailed("the response body cannot be decoded (its Content-Encoding is wrong)") from None
        except requests.RequestException as exc:  # a malformed URL and the like: no retry will help
            raise _ChunkFailed(f"{type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            reason = f"HTTP {response.status_code}: {_api_error(body)}"
            raise (_Transient if response.status_code in RETRY_HTTP_STATUSES else _ChunkFailed)(reason)
        try:
            return decode_matrix(body, (chunk.start_ms, chunk.end_ms, chunk.step_ms))
        except ResponseError as exc:
            raise _ChunkFailed(f"unexpected response: {exc}") from None

    def _error(self, chunk: Chunk, failure: _ChunkFailed) -> CollectionError:
        tries = f" after {failure.attempts} attempts" if failure.attempts > 1 else ""
        message = (
            f"Prometheus {self.target.describe()}: query {chunk.metric!r} chunk {chunk.describe()} "
            f"failed{tries}: {failure.reason}"
        )
        return CollectionError(redact(" ".join(message.split()), self.target.secrets()))


def read_body(response: requests.Response, max_bytes: int | None = None) -> bytes:
    """A streamed response's whole body, read in pieces of READ_PIECE_BYTES: a fraction of the CPU of joining
    ``iter_content``'s small pieces (measured on the benchmark's 18 MB bodies). A body cut short raises
    urllib3's ProtocolError; a stalled one its ReadTimeoutError.

    A body over ``max_bytes`` (sources.prometheus.max_response_bytes) fails the chunk for good: refused by its
    Content-Length before any of it is read, otherwise as soon as the pieces read pass the limit, so that a
    server sending far more than the query's series could fill is never taken into memory. A plain body's
    pieces skip urllib3's decoding buffer: half the CPU of reading them through it (measured on 18 MB).
    """
    if max_bytes is None:
        return response.raw.read(decode_content=True)
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _ChunkFailed(f"the response is {int(declared):,} bytes (its Content-Length), {_over(max_bytes)}")
    encoded = response.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")
    pieces: list[bytes] = []
    size = 0
    while piece := response.raw.read(min(READ_PIECE_BYTES, max_bytes + 1 - size), decode_content=encoded):
        size += len(piece)
        if size > max_bytes:
            raise _ChunkFailed(f"the response was refused after {size:,} bytes, {_over(max_bytes)}")
        pieces.append(piece)
    return b"".join(pieces)


def _over(max_bytes: int) -> str:
    return (
        f"over sources.prometheus.max_response_bytes = {max_bytes:,}: raise it if this query's answers are that large"
    )


def _connection_failure(exc: requests.ConnectionError, timeout: float) -> str:
    """'connection refused', 'connection reset', ... rather than urllib3's paragraph with the whole URL."""
    text = str(exc)
    for marker, reason in (
        ("timed out", f"timed out after {timeout:g} s"),
        ("Connection refused", "connection refused"),
        ("Connection reset", "connection reset"),
        ("RemoteDisconnected", "connection closed by the server"),
        ("Connection aborted", "connection aborted"),
        ("Name or service not known", "host name not found"),
        ("IncompleteRead", "response cut short"),
    ):
        if marker in text:
            return reason
    cause = exc.__cause__ or exc.__context__
    return f"connection failed: {type(cause or exc).__name__}"


def _api_error(body: bytes) -> str:
    """The API's own error message from an error body, or the start of the body."""
    try:
        document = json.loads(body)
        return f"{document.get('errorType', 'error')}: {document['error']}"[:300]
    except (ValueError, KeyError, TypeError, AttributeError):
        return body[:200].decode("utf-8", "replace") or "empty response"


# ---------------------------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class PrometheusSummary:
    """What a collection wrote."""

    target: str
    start: datetime
    end: datetime
    step: timedelta
    metrics: int
    chunks: int
    series: int
    rows_written: int
    dropped_non_finite: int
    unmapped_series: int = 0
    unmapped_components: tuple[str, ...] = ()  # 'metric: label=value' of series whose component is unknown
    empty_metrics: tuple[str, ...] = ()  # queries that returned no series at all

    def __str__(self) -> str:
        text = (
            f"{self.rows_written:,} samples of {self.series:,} series ({self.metrics} metrics, {self.chunks} "
            f"requests) from {self.target}, {self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} UTC "
            f"every {self.step.total_seconds():g} s"
        )
        if self.dropped_non_finite:
            text += f"; {self.dropped_non_finite:,} NaN/Inf values dropped"
        if self.unmapped_series:
            shown = ", ".join(self.unmapped_components[:UNMAPPED_SHOWN])
            more = "..." if len(self.unmapped_components) > UNMAPPED_SHOWN else ""
            text += f"; {self.unmapped_series} series skipped, not a [components] key: {shown}{more}"
        if self.empty_metrics:
            text += f"; no data for {', '.join(self.empty_metrics)}"
        return text


class _Writer:
    """Maps result series to warehouse series and writes each chunk's points (on the calling thread)."""

    def __init__(self, run: WriteRun, config: PlatformConfig, entries: Mapping[str, CatalogueEntry]) -> None:
        self.run = run
        self.config = config
        self.entries = entries
        self.identities: dict[tuple[str, tuple[tuple[str, str], ...]], int | None] = {}
        self.written_series: set[int] = set()
        self.metrics_with_data: set[str] = set()
        self.unmapped: set[str] = set()
        self.unmapped_keys: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        self.rows = 0
        self.dropped = 0

    def write(self, chunk: Chunk, matrix: Matrix) -> None:
        ids = np.empty(len(matrix.labels), dtype=np.int64)
        keep = np.ones(len(matrix.labels), dtype=bool)
        new_series: list[dict[str, Any]] = []
        labels_of: dict[int, dict[str, str]] = {}  # this chunk's series by warehouse series
        for position, labels in enumerate(matrix.labels):
            key = (chunk.metric, tuple(sorted(labels.items())))
            if key not in self.identities:
                self.identities[key] = self._identify(chunk.metric, labels, new_series, key)
            identity = self.identities[key]
            if identity is None:
                keep[position] = False
                continue
            if identity in labels_of:  # e.g. {} and {instance="all"}: their points would be duplicate rows
                raise CollectionError(
                    f"Prometheus query {chunk.metric!r} chunk {chunk.describe()}: series "
                    f"{_series_name(labels_of[identity])} and {_series_name(labels)} are one warehouse series once "
                    "its component and instance are set: the query must tell them apart"
                )
            labels_of[identity] = labels
            ids[position] = identity
        if new_series:
            self.run.upsert_series(pd.DataFrame(new_series))
        if matrix.labels:
            self.metrics_with_data.add(chunk.metric)
        series_ids = np.repeat(ids, matrix.counts)
        ts_ms, values = matrix.ts_ms, matrix.values
        inside = ts_ms.size == 0 or (ts_ms.min() >= chunk.start_ms and ts_ms.max() <= chunk.end_ms)
        if not (inside and keep.all()):  # drop unmapped series, and any point outside the chunk asked for
            mask = np.repeat(keep, matrix.counts) & (ts_ms >= chunk.start_ms) & (ts_ms <= chunk.end_ms)
            series_ids, ts_ms, values = series_ids[mask], ts_ms[mask], values[mask]
        if not series_ids.size:
            return
        self.dropped += int(values.size - np.count_nonzero(np.isfinite(values)))
        table = pa.table(
            {
                "series_id": series_ids,
                "ts": pa.array(ts_ms * 1000, type=pa.timestamp("us", tz="UTC")),
                "value": values,  # non-finite values go in so their series' window is replaced; not stored
            }
        )
        self.rows += self.run.replace_samples(table, chunk.start, chunk.end)

    def _identify(
        self,
        metric: str,
        labels: dict[str, str],
        new_series: list[dict[str, Any]],
        key: tuple[str, tuple[tuple[str, str], ...]],
    ) -> int | None:
        entry = self.entries[metric]
        component = entry.component or labels.get(entry.component_label)
        if component not in self.config.components:
            shown = (
                f"{metric}: {entry.component_label}={component!r}"
                if component
                else f"{metric}: no {entry.component_label}"
            )
            self.unmapped.add(shown)
            self.unmapped_keys.add(key)
            return None
        instance = labels.get(entry.instance_label) or "all"
        identity_labels = dict(labels)
        for name, value in (("component", component), ("instance", instance)):
            if identity_labels.get(name, value) != value:  # keep a differing original, as Prometheus does
                identity_labels[f"exported_{name}"] = identity_labels[name]
            identity_labels[name] = value
        sid = series_id(metric, identity_labels)
        if sid not in self.written_series:
            self.written_series.add(sid)
            new_series.append(
                {
                    "series_id": sid,
                    "source": SOURCE,
                    "metric": metric,
                    "component": component,
                    "instance": instance,
                    "labels": canonical_labels(identity_labels),
                }
            )
        return sid


# ---------------------------------------------------------------------------------------------- collecting


def collect_prometheus(
    warehouse: Warehouse,
    config: PlatformConfig,
    start: datetime,
    end: datetime,
    step: timedelta | float,
    metrics: Iterable[str] | None = None,
    env: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> PrometheusSummary:
    """Collect the catalogue's metrics (all, or those named) over [start, end] every ``step`` in one write run.

    ``step`` is a timedelta or seconds; naive datetimes are UTC. ``progress(done, total)`` is called with the
    number of chunks written. Raises CollectionError (the run rolled back and logged as failed).
    """
    target = prometheus_target(config, env)
    entries = _entries(config, metrics)
    step_ms = _to_step_ms(step)
    start_ms, end_ms = _to_ms(start), _to_ms(end)
    if end_ms < start_ms:
        raise CollectionError(
            f"Prometheus window: end {end:%Y-%m-%d %H:%M:%S} is before start {start:%Y-%m-%d %H:%M:%S}"
        )
    report = progress or (lambda _done, _total: None)
    fetcher = _Fetcher(target)
    try:
        chunks = _plan_chunks(fetcher, entries, start_ms, end_ms, step_ms)
        fetcher.start(chunks)  # the first requests are in flight while the warehouse opens
        with warehouse.write_run(
            SOURCE, target=target.describe(), window_start=_from_ms(start_ms), window_end=_from_ms(end_ms)
        ) as run:
            writer = _Writer(run, config, entries)
            report(0, len(chunks))
            for done, (chunk, matrix) in enumerate(fetcher.results(), start=1):
                writer.write(chunk, matrix)
                report(done, len(chunks))
    finally:
        fetcher.close()
    return PrometheusSummary(
        target=target.describe(),
        start=_from_ms(start_ms),
        end=_from_ms(end_ms),
        step=timedelta(milliseconds=step_ms),
        metrics=len(entries),
        chunks=len(chunks),
        series=len(writer.written_series),
        rows_written=writer.rows,
        dropped_non_finite=writer.dropped,
        unmapped_series=len(writer.unmapped_keys),
        unmapped_components=tuple(sorted(writer.unmapped)),
        empty_metrics=tuple(metric for metric in entries if metric not in writer.metrics_with_data),
    )


def _plan_chunks(
    fetcher: _Fetcher, entries: Mapping[str, CatalogueEntry], start_ms: int, end_ms: int, step_ms: int
) -> list[Chunk]:
    """Every metric's window cut into requests of at most ``max_points_per_request`` points per series and
    about ``max_samples_per_request`` samples in all, the series counted by an instant ``count()`` at the
    start, middle and end of the window (a query over a thousand hosts gets shorter requests)."""
    target = fetcher.target
    probes = [start_ms, start_ms + (end_ms - start_ms) // 2, end_ms]
    counts = fetcher.series_counts([(entry.query, at) for entry in entries.values() for at in probes])
    chunks: list[Chunk] = []
    for number, (metric, entry) in enumerate(entries.items()):
        series = max(counts[number * len(probes) : (number + 1) * len(probes)])
        points = min(target.max_points_per_request, max(1, target.max_samples_per_request // max(series, 1)))
        for first, last in split_window(start_ms, end_ms, step_ms, points):
            chunks.append(Chunk(len(chunks), metric, entry.query, first, last, step_ms))
    return chunks


def _entries(config: PlatformConfig, metrics: Iterable[str] | None) -> dict[str, CatalogueEntry]:
    if not config.catalogue:
        raise CollectionError(f"{config.source}: the [catalogue] is empty: no Prometheus query to run")
    if metrics is None:
        return dict(config.catalogue)
    names = list(dict.fromkeys(metrics))
    unknown = [name for name in names if name not in config.catalogue]
    if unknown:
        raise CollectionError(
            f"unknown metric {', '.join(map(repr, unknown))}: expected keys of [catalogue] "
            f"({', '.join(sorted(config.catalogue))})"
        )
    return {name: config.catalogue[name] for name in names}


def _to_step_ms(step: timedelta | float) -> int:
    seconds = step.total_seconds() if isinstance(step, timedelta) else float(step)
    step_ms = round(seconds * 1000)
    if step_ms <= 0:
        raise CollectionError(f"Prometheus step: expected at least 1 ms, got {seconds:g} s")
    return step_ms
