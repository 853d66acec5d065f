"""Fetching range-query chunks: a bounded thread pool, retries with backoff, deadlines per request and run.

A refused or dropped connection, a timeout, HTTP 408, 429 or 5xx is retried with exponential backoff for up to
``retry_seconds`` (``retry_delay``); then the chunk fails with a CollectionError naming the query, the
chunk's window and what failed. Every request ends within ``timeout_seconds`` and the run's within
``run_timeout_seconds``; closing the fetcher ends the requests in flight at once.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

import requests
import urllib3
from prometheus_api_client import PrometheusConnect
from urllib3.util.retry import Retry

from sre_lib.collect.prometheus_deadline import (
    ChunkFailed,
    RequestDeadline,
    RunCancelled,
    TransientFailure,
    WatchedAdapter,
)
from sre_lib.collect.prometheus_decode import Matrix, ResponseError, decode_matrix
from sre_lib.collect.prometheus_target import PrometheusTarget
from sre_lib.collect.prometheus_window import Chunk, seconds_text
from sre_lib.errors import CollectionError
from sre_lib.secrets import redact

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
READ_PIECE_BYTES = 4 * 2**20  # a response body is read this much at a time (see read_body)
log = logging.getLogger(__name__)


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


class ChunkFetcher:
    """Fetches chunks on a bounded thread pool, with retries; ``results()`` yields each decoded chunk in turn.

    The connection (URL, headers, session) is prometheus-api-client's ``PrometheusConnect``. The request
    itself is a plain GET on its session because ``custom_query_range`` returns ``response.json()``: that
    JSON decoding alone runs at about 1 M samples/s on the 2-core reference machine, about the whole
    end-to-end budget, while ``decode_matrix`` on the raw bytes is several times faster (see
    benchmarks/bench_prometheus.py, which measures both).

    Time: every request ends within ``timeout_seconds`` (a RequestDeadline), and within the run's deadline,
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
        adapter = WatchedAdapter(pool_maxsize=target.concurrency, max_retries=Retry(total=0, read=False))
        self.session.mount(target.url, adapter)  # a pool as large as the worker count
        self.cancelled = threading.Event()
        self.unreachable = threading.Event()
        self.retry_lock = threading.Lock()
        self.retries_warned: set[tuple[str, int]] = set()  # (reason, attempt) already logged
        self.most_attempts = most_attempts(target.retry_seconds, target.retries)
        self.in_flight: set[RequestDeadline] = set()
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
            status, body = self._get("/api/v1/query", {"query": f"count({query})", "time": seconds_text(at_ms)})
        except (TransientFailure, ChunkFailed):
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
                raise self._error(chunk, ChunkFailed(self._run_deadline_reason()))
            for future in sorted(done, key=lambda f: self.pending[f].index):
                chunk = self.pending.pop(future)
                try:
                    matrix = future.result()
                except ChunkFailed as failure:
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
                raise RunCancelled
            try:
                return self._attempt(chunk)
            except TransientFailure as transient:
                reason = transient.reason
            except ChunkFailed as failure:
                failure.attempts = attempt
                raise
            now = time.monotonic()
            first_failure = now if first_failure is None else first_failure
            delay = retry_delay(attempt, now - first_failure, self.target.retry_seconds)
            if delay is None or (self.target.retries is not None and attempt > self.target.retries):
                raise ChunkFailed(reason, attempt)
            if now + delay >= self.run_deadline:
                raise ChunkFailed(f"{reason}; no time left to retry ({self._run_deadline_reason()})", attempt)
            if self._first_to_retry(reason, attempt):
                where = f"{self.target.describe()}: query {chunk.metric!r} chunk {chunk.describe()}"
                log.warning(
                    "%s: %s; retrying in %.1f s (attempt %d of at most %d)",
                    where, redact(reason, self.target.secrets()), delay, attempt + 1, self.most_attempts,
                )  # fmt: skip
            if self.cancelled.wait(delay):
                raise RunCancelled
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

    def _deadline(self) -> RequestDeadline:
        """The next request's deadline: ``timeout_seconds`` from now, or the run's if that comes first."""
        left = self.run_deadline - time.monotonic()
        if left <= 0:
            raise ChunkFailed(self._run_deadline_reason())
        if left < self.target.timeout_seconds:
            return RequestDeadline(left, f"no answer before {self._run_deadline_reason()}", retry=False)
        timeout = self.target.timeout_seconds
        return RequestDeadline(timeout, f"timed out after {timeout:g} s (timeout_seconds)", retry=True)

    def _get(self, path: str, params: Mapping[str, str]) -> tuple[int, bytes]:
        """GET ``path`` and read the whole body within the request's deadline: the status and the body.

        Raises TransientFailure (worth retrying), ChunkFailed (not) or RunCancelled (the run is being abandoned).
        """
        deadline = self._deadline()
        with self.in_flight_lock:
            self.in_flight.add(deadline)
        try:
            if self.cancelled.is_set():  # close() may have ended the requests in flight before this one joined
                raise RunCancelled
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
        """GET one chunk and decode it. Raises TransientFailure (worth retrying) or ChunkFailed (not)."""
        params = {
            "query": chunk.query,
            "start": seconds_text(chunk.start_ms),
            "end": seconds_text(chunk.end_ms),
            "step": seconds_text(chunk.step_ms),
            "nocache": "1",  # VictoriaMetrics: evaluate at exactly start + k*step (Prometheus ignores it)
        }
        status, body = self._get("/api/v1/query_range", params)
        if status != 200:
            reason = f"HTTP {status}: {_api_error(body)}"
            raise (TransientFailure if status in RETRY_HTTP_STATUSES else ChunkFailed)(reason)
        try:
            return decode_matrix(body, (chunk.start_ms, chunk.end_ms, chunk.step_ms))
        except ResponseError as exc:
            raise ChunkFailed(f"unexpected response: {exc}") from None

    def _error(self, chunk: Chunk, failure: ChunkFailed) -> CollectionError:
        tries = f" after {failure.attempts} attempts" if failure.attempts > 1 else ""
        message = (
            f"Prometheus {self.target.describe()}: query {chunk.metric!r} chunk {chunk.describe()} "
            f"failed{tries}: {failure.reason}"
        )
        return CollectionError(redact(" ".join(message.split()), self.target.secrets()))


_TIMEOUTS = (requests.Timeout, urllib3.exceptions.ReadTimeoutError)


def _request_failure(exc: Exception, timeout: float) -> Exception:
    """A failed GET or body read as TransientFailure (worth retrying) or ChunkFailed; any other exception as it is."""
    if isinstance(exc, _TIMEOUTS):
        return TransientFailure(f"timed out after {timeout:g} s (timeout_seconds)")
    if isinstance(exc, requests.ConnectionError):
        return TransientFailure(_connection_failure(exc, timeout))
    if isinstance(
        exc, requests.exceptions.ChunkedEncodingError | urllib3.exceptions.ProtocolError | urllib3.exceptions.SSLError
    ):
        return TransientFailure("connection broken while reading the response")
    if isinstance(exc, urllib3.exceptions.DecodeError):  # a proxy's body that says gzip and is not
        return ChunkFailed("the response body cannot be decoded (its Content-Encoding is wrong)")
    if isinstance(exc, requests.RequestException):  # a malformed URL and the like: no retry will help
        return ChunkFailed(f"{type(exc).__name__}: {exc}")
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
        raise ChunkFailed(f"the response is {int(declared):,} bytes (its Content-Length), {_over(max_bytes)}")
    encoded = response.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")
    pieces: list[bytes] = []
    size = 0
    while piece := response.raw.read(min(READ_PIECE_BYTES, max_bytes + 1 - size), decode_content=encoded):
        size += len(piece)
        if size > max_bytes:
            raise ChunkFailed(f"the response was refused after {size:,} bytes, {_over(max_bytes)}")
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
