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
  into numpy arrays (no per-sample Python objects, see ``decode_matrix``). The calling thread stages each
  chunk as it completes in a temporary file (``_Writer``); once all are in, the warehouse is locked and they are
  written with ``WriteRun.replace_samples`` in one write run: the window lands whole or not at all, collecting
  the same window again replaces the same rows (idempotent), and no network wait ever holds the lock.
* Retries: a refused or dropped connection, a timeout, HTTP 429 or 5xx is retried with exponential backoff
  for up to ``retry_seconds`` (``retry_delay``), then the run fails with a CollectionError naming the query,
  the chunk's window and what failed. Nothing is written by a failed run, and it is logged as failed.
* Deadlines: each request is answered in full within ``timeout_seconds`` or cut off (``_Deadline``: a socket
  timeout alone bounds each read, not a body dribbled byte by byte), and the run's requests and retries end
  within ``run_timeout_seconds``. An interrupted run (Ctrl-C, SIGTERM) cuts its requests in flight at once.
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

import contextlib
import itertools
import json
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
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
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.retry import Retry

from sre_lib.collect.by_source import fetch_then_write
from sre_lib.config import PROMETHEUS_URL_SCHEMES, CatalogueEntry, PlatformConfig
from sre_lib.errors import CollectionError
from sre_lib.secrets import redact, url_location
from sre_lib.warehouse.store import Warehouse, WriteRun, canonical_labels, series_id

log = logging.getLogger(__name__)

URL_ENV_VAR = "SRE_PROMETHEUS_URL"
TOKEN_ENV_VAR = "SRE_PROMETHEUS_TOKEN"
SOURCE = "prometheus"

# Retry policy for transient failures: waits of 0.5 s, 1 s, 2 s, ... (at most 8 s) between attempts, for up to
# retry_seconds after a request's first failure (see retry_delay).
RETRY_INITIAL_BACKOFF_SECONDS = 0.5
RETRY_BACKOFF_MULTIPLIER = 2.0
RETRY_MAX_BACKOFF_SECONDS = 8.0
RETRY_HTTP_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# Past the run's deadline every request has been cut off by it; this is only how long the results wait beyond it
# for the workers to say so (a last response being decoded) before the run is abandoned without them.
RUN_DEADLINE_GRACE_SECONDS = 5.0

IN_FLIGHT_PER_WORKER = 2  # chunks fetched or decoded but not yet staged, per worker: bounds memory
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
    timeout_seconds: float = 30.0  # per request, in all
    retry_seconds: float = 60.0  # how long a failing request is retried after its first failure
    retries: int | None = None  # at most this many retries of a request (None: as many as retry_seconds allows)
    run_timeout_seconds: float = 3600.0  # every request and retry of the run

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
        retry_seconds=source.retry_seconds,
        retries=source.retries,
        run_timeout_seconds=source.run_timeout_seconds,
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


def retry_delay(retry: int, failing_for: float, retry_seconds: float) -> float | None:
    """The wait before retry number ``retry`` (1, 2, ...) of a request first failed ``failing_for`` seconds ago:
    0.5 s doubling up to 8 s, cut short to end ``retry_seconds`` after the first failure; None once that passed.

    A routine Prometheus restart (WAL replay included) takes tens of seconds: retries spread over a minute by
    default outlast it, while a server that stays down still fails the run within about that minute.
    """
    left = retry_seconds - failing_for
    if left <= 0:
        return None
    return min(RETRY_INITIAL_BACKOFF_SECONDS * RETRY_BACKOFF_MULTIPLIER ** (retry - 1), RETRY_MAX_BACKOFF_SECONDS, left)


def most_attempts(retry_seconds: float, retries: int | None) -> int:
    """Attempts of a request that fails at once every time: the 'of N' of the retry warnings."""
    waited, attempts = 0.0, 1
    while (retries is None or attempts <= retries) and (delay := retry_delay(attempts, waited, retry_seconds)):
        waited += delay
        attempts += 1
    return attempts


_this_request = threading.local()  # .deadline: the _Deadline of the request this thread is making, if any


class _Deadline:
    """One request's limit in all, enforced by shutting its socket down when it passes.

    A socket timeout bounds each read, not the request: a body dribbled a byte a second never trips it. So a
    timer shuts down the socket the request uses (see ``_WatchedConnection``), which ends a read blocked on it at
    once; ``failure()`` then says why the request failed, whatever exception or short body it ended with.
    """

    def __init__(self, seconds: float, reason: str, retry: bool) -> None:
        self.seconds = seconds
        self.reason = reason  # what passed, e.g. "timed out after 30 s"
        self.retry = retry  # whether another attempt may do better (not when the run's own deadline passed)
        self.expired = False
        self.cancelled = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._finished = False
        self._timer = threading.Timer(seconds, self.expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        _this_request.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        with self._lock:
            self._finished = True  # the connection may go back to the pool: never shut it down from now on
        self._timer.cancel()
        _this_request.deadline = None

    def watch(self, sock: socket.socket) -> None:
        """Shut ``sock`` down when the deadline passes (at once if it has)."""
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shut_down(sock)

    def expire(self, cancel: bool = False) -> None:
        """End the request now: its deadline passed, or (``cancel``) the run is being abandoned."""
        with self._lock:
            if self._finished or self.expired:
                return
            self.expired, self.cancelled = True, cancel
            sockets = list(self._sockets)
        for sock in sockets:
            _shut_down(sock)

    def failure(self) -> Exception:
        if self.cancelled:
            return _Cancelled()
        return _Transient(self.reason) if self.retry else _ChunkFailed(self.reason)


def _shut_down(sock: socket.socket) -> None:
    # socket.socket's own shutdown, also for a TLS socket: ssl.SSLSocket.shutdown would drop its SSL object
    # under the thread reading from it
    with contextlib.suppress(OSError):  # already closed, or never connected
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _WatchedConnection(HTTPConnection):
    """A connection whose socket is handed to the current request's _Deadline before the response is awaited,
    so that the deadline also ends a wait for headers that never come."""

    def getresponse(self) -> Any:  # type: ignore[override]
        _watch(self.sock)
        return super().getresponse()


class _WatchedTLSConnection(HTTPSConnection):
    __doc__ = _WatchedConnection.__doc__

    def getresponse(self) -> Any:  # type: ignore[override]
        _watch(self.sock)
        return super().getresponse()


def _watch(sock: socket.socket | None) -> None:
    deadline: _Deadline | None = getattr(_this_request, "deadline", None)
    if deadline is not None and sock is not None:
        deadline.watch(sock)


class _WatchedPool(HTTPConnectionPool):
    ConnectionCls = _WatchedConnection


class _WatchedTLSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedTLSConnection


_WATCHED_POOLS: dict[str, type[HTTPConnectionPool]] = {"http": _WatchedPool, "https": _WatchedTLSPool}


class _WatchedAdapter(HTTPAdapter):
    """requests' adapter with connections that a _Deadline can end (directly or through an HTTP proxy)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        if not proxy.lower().startswith("socks"):  # a SOCKS proxy has connection classes of its own
            manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager


class _Fetcher:
    """Fetches chunks on a bounded thread pool, with retries; ``results()`` yields each decoded chunk in turn.

    The connection (URL, headers, session) is prometheus-api-client's ``PrometheusConnect``. The request
    itself is a plain GET on its session because ``custom_query_range`` returns ``response.json()``: that
    JSON decoding alone runs at about 1 M samples/s on the 2-core reference machine, about the whole
    end-to-end budget, while ``decode_matrix`` on the raw bytes is several times faster (see
    benchmarks/bench_prometheus.py, which measures both).

    Time: every request ends within ``timeout_seconds`` (a _Deadline), and within the run's deadline,
    ``run_timeout_seconds`` after the fetcher was made; no retry starts that would end past it. ``close()``
    ends the requests in flight at once (an interrupted or failed run does not wait for them).
    """

    def __init__(self, target: PrometheusTarget) -> None:
        self.target = target
        self.run_deadline = time.monotonic() + target.run_timeout_seconds
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
        adapter = _WatchedAdapter(pool_maxsize=target.concurrency, max_retries=Retry(total=0, read=False))
        self.session.mount(target.url, adapter)  # a pool as large as the worker count
        self.cancelled = threading.Event()
        self.unreachable = threading.Event()
        self.retry_lock = threading.Lock()
        self.retries_warned: set[tuple[str, int]] = set()  # (reason, attempt) already logged
        self.most_attempts = most_attempts(target.retry_seconds, target.retries)
        self.in_flight: set[_Deadline] = set()
        self.in_flight_lock = threading.Lock()
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
            status, body = self._get("/api/v1/query", {"query": f"count({query})", "time": _seconds_text(at_ms)})
        except (_Transient, _ChunkFailed):
            self.unreachable.set()
            return 0
        try:
            result = json.loads(body)["data"]["result"] if status == 200 else []
            return int(float(result[0]["value"][1])) if result else 0
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
            left = self.run_deadline - time.monotonic()
            done, _ = wait(self.pending, timeout=max(left, 0) + RUN_DEADLINE_GRACE_SECONDS, return_when=FIRST_COMPLETED)
            if not done:  # the workers should have failed on the deadline by now: do not wait for them
                chunk = min(self.pending.values(), key=lambda pending: pending.index)
                raise self._error(chunk, _ChunkFailed(self._run_deadline_reason()))
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
        """Stop: cancel what has not started, end the requests in flight, release the connections."""
        self.cancelled.set()
        for future in self.pending:
            future.cancel()
        with self.in_flight_lock:
            in_flight = list(self.in_flight)
        for deadline in in_flight:
            deadline.expire(cancel=True)
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.client.close()

    def _fetch(self, chunk: Chunk) -> Matrix:
        """One chunk, retried with backoff while the failure is transient (runs on a worker thread)."""
        first_failure: float | None = None
        for attempt in itertools.count(1):
            if self.cancelled.is_set():
                raise _Cancelled
            try:
                return self._attempt(chunk)
            except _Transient as transient:
                reason = transient.reason
            except _ChunkFailed as failure:
                failure.attempts = attempt
                raise
            now = time.monotonic()
            first_failure = now if first_failure is None else first_failure
            delay = retry_delay(attempt, now - first_failure, self.target.retry_seconds)
            if delay is None or (self.target.retries is not None and attempt > self.target.retries):
                raise _ChunkFailed(reason, attempt)
            if now + delay >= self.run_deadline:
                raise _ChunkFailed(f"{reason}; no time left to retry ({self._run_deadline_reason()})", attempt)
            if self._first_to_retry(reason, attempt):
                where = f"{self.target.describe()}: query {chunk.metric!r} chunk {chunk.describe()}"
                log.warning(
                    "%s: %s; retrying in %.1f s (attempt %d of at most %d)",
                    where, redact(reason, self.target.secrets()), delay, attempt + 1, self.most_attempts,
                )  # fmt: skip
            if self.cancelled.wait(delay):
                raise _Cancelled
        raise AssertionError("unreachable")  # itertools.count never ends

    def _first_to_retry(self, reason: str, attempt: int) -> bool:
        """Whether this is the first request of the run to retry for this reason after this many attempts:
        a server that is down fails every request in flight alike, and one warning per round says it."""
        with self.retry_lock:
            if (reason, attempt) in self.retries_warned:
                return False
            self.retries_warned.add((reason, attempt))
            return True

    def _run_deadline_reason(self) -> str:
        return f"the run's deadline passed: run_timeout_seconds = {self.target.run_timeout_seconds:g}"

    def _deadline(self) -> _Deadline:
        """The next request's deadline: ``timeout_seconds`` from now, or the run's if that comes first."""
        left = self.run_deadline - time.monotonic()
        if left <= 0:
            raise _ChunkFailed(self._run_deadline_reason())
        if left < self.target.timeout_seconds:
            return _Deadline(left, f"no answer before {self._run_deadline_reason()}", retry=False)
        timeout = self.target.timeout_seconds
        return _Deadline(timeout, f"timed out after {timeout:g} s (timeout_seconds)", retry=True)

    def _get(self, path: str, params: Mapping[str, str]) -> tuple[int, bytes]:
        """GET ``path`` and read the whole body within the request's deadline: the status and the body.

        Raises _Transient (worth retrying), _ChunkFailed (not) or _Cancelled (the run is being abandoned).
        """
        deadline = self._deadline()
        with self.in_flight_lock:
            self.in_flight.add(deadline)
        try:
            if self.cancelled.is_set():  # close() may have ended the requests in flight before this one joined
                raise _Cancelled
            with deadline:
                try:
                    response = self.session.get(
                        f"{self.client.url}{path}", params=params, headers=self.client.headers,
                        timeout=deadline.seconds, stream=True,
                    )  # fmt: skip
                    try:
                        body = read_body(response, self.target.max_response_bytes)
                    finally:
                        response.close()
                except Exception as exc:
                    # whatever the shut-down socket made the read raise; or a socket timeout at the run's deadline
                    if deadline.expired or (not deadline.retry and isinstance(exc, _TIMEOUTS)):
                        raise deadline.failure() from None
                    raise _request_failure(exc, self.target.timeout_seconds) from None
            if deadline.expired:  # a body that ends when its socket is shut down may have looked whole
                raise deadline.failure()
            return response.status_code, body
        finally:
            with self.in_flight_lock:
                self.in_flight.discard(deadline)

    def _attempt(self, chunk: Chunk) -> Matrix:
        """GET one chunk and decode it. Raises _Transient (worth retrying) or _ChunkFailed (not)."""
        params = {
            "query": chunk.query,
            "start": _seconds_text(chunk.start_ms),
            "end": _seconds_text(chunk.end_ms),
            "step": _seconds_text(chunk.step_ms),
            "nocache": "1",  # VictoriaMetrics: evaluate at exactly start + k*step (Prometheus ignores it)
        }
        status, body = self._get("/api/v1/query_range", params)
        if status != 200:
            reason = f"HTTP {status}: {_api_error(body)}"
            raise (_Transient if status in RETRY_HTTP_STATUSES else _ChunkFailed)(reason)
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


_TIMEOUTS = (requests.Timeout, urllib3.exceptions.ReadTimeoutError)


def _request_failure(exc: Exception, timeout: float) -> Exception:
    """A failed GET or body read as _Transient (worth retrying) or _ChunkFailed; any other exception as it is."""
    if isinstance(exc, _TIMEOUTS):
        return _Transient(f"timed out after {timeout:g} s (timeout_seconds)")
    if isinstance(exc, requests.ConnectionError):
        return _Transient(_connection_failure(exc, timeout))
    if isinstance(
        exc, requests.exceptions.ChunkedEncodingError | urllib3.exceptions.ProtocolError | urllib3.exceptions.SSLError
    ):
        return _Transient("connection broken while reading the response")
    if isinstance(exc, urllib3.exceptions.DecodeError):  # a proxy's body that says gzip and is not
        return _ChunkFailed("the response body cannot be decoded (its Content-Encoding is wrong)")
    if isinstance(exc, requests.RequestException):  # a malformed URL and the like: no retry will help
        return _ChunkFailed(f"{type(exc).__name__}: {exc}")
    return exc


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
    """Maps result series to warehouse series as chunks arrive, staging their points; then writes them in one run.

    Staging keeps the warehouse's write lock out of the network waits: a run that held it while a server took
    its time (or never answered) kept every other collection and job out. The points go to an Arrow file in a
    temporary folder (``$TMPDIR``), not to memory, so memory stays bounded by the chunks in flight; ``write``
    then reads them back memory-mapped, chunk by chunk, under the lock.
    """

    _SCHEMA = pa.schema([("series_id", pa.int64()), ("ts", pa.timestamp("us", tz="UTC")), ("value", pa.float64())])

    def __init__(self, config: PlatformConfig, entries: Mapping[str, CatalogueEntry]) -> None:
        self.config = config
        self.entries = entries
        self.identities: dict[tuple[str, tuple[tuple[str, str], ...]], int | None] = {}
        self.written_series: set[int] = set()
        self.metrics_with_data: set[str] = set()
        self.unmapped: set[str] = set()
        self.unmapped_keys: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        self.rows = 0
        self.dropped = 0
        self.new_series: list[dict[str, Any]] = []
        self.staged: list[Chunk] = []  # the chunk of each record batch in the staging file, in order
        self._folder = tempfile.TemporaryDirectory(prefix="sre-prometheus-")
        self._path = Path(self._folder.name) / "samples.arrow"
        self._sink: pa.ipc.RecordBatchFileWriter | None = None

    def stage(self, chunk: Chunk, matrix: Matrix) -> None:
        """Map one chunk's series and stage its points (on the calling thread)."""
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
        self.new_series += new_series
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
        batch = pa.record_batch(
            [
                pa.array(series_ids, type=pa.int64()),
                pa.array(ts_ms * 1000, type=pa.timestamp("us", tz="UTC")),
                pa.array(values, type=pa.float64()),  # non-finite too, so their series' window is replaced; not stored
            ],
            schema=self._SCHEMA,
        )
        if self._sink is None:
            self._sink = pa.ipc.new_file(str(self._path), self._SCHEMA)
        self._sink.write_batch(batch)
        self.staged.append(chunk)

    def write(self, run: WriteRun) -> None:
        """Write every staged chunk in ``run``: its series, then each chunk's points over the chunk's window."""
        if self.new_series:
            run.upsert_series(pd.DataFrame(self.new_series))
        if self._sink is None:
            return
        self._sink.close()
        with pa.memory_map(str(self._path)) as source:
            staged = pa.ipc.open_file(source)
            for number, chunk in enumerate(self.staged):
                points = pa.Table.from_batches([staged.get_batch(number)])
                self.rows += run.replace_samples(points, chunk.start, chunk.end)

    def close(self) -> None:
        """Remove the staging file."""
        if self._sink is not None:
            self._sink.close()  # a second close (after write's) does nothing
        self._folder.cleanup()

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
    number of chunks fetched. Raises CollectionError (nothing written, the run logged as failed).

    Everything is fetched before the warehouse is locked (see ``fetch_then_write``), within the run's deadline
    (``run_timeout_seconds``); an interruption (Ctrl-C, SIGTERM) ends the requests in flight at once.
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
    writer = _Writer(config, entries)

    def fetch() -> list[Chunk]:
        fetcher = _Fetcher(target)
        try:
            chunks = _plan_chunks(fetcher, entries, start_ms, end_ms, step_ms)
            fetcher.start(chunks)
            report(0, len(chunks))
            for done, (chunk, matrix) in enumerate(fetcher.results(), start=1):
                writer.stage(chunk, matrix)
                report(done, len(chunks))
            return chunks
        finally:
            fetcher.close()

    def write(run: WriteRun, chunks: list[Chunk]) -> list[Chunk]:
        writer.write(run)
        return chunks

    try:
        chunks = fetch_then_write(
            warehouse, SOURCE, fetch, write, target=target.describe(), window_start=_from_ms(start_ms),
            window_end=_from_ms(end_ms),
        )  # fmt: skip
    finally:
        writer.close()
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
