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
  chunk as it completes in a temporary file (``SampleWriter``); once all are in, the warehouse is locked and they are
  written with ``WriteRun.replace_samples`` in one write run: the window lands whole or not at all, collecting
  the same window again replaces the same rows (idempotent), and no network wait ever holds the lock.
* Retries: a refused or dropped connection, a timeout, HTTP 429 or 5xx is retried with exponential backoff
  for up to ``retry_seconds`` (``retry_delay``), then the run fails with a CollectionError naming the query,
  the chunk's window and what failed. Nothing is written by a failed run, and it is logged as failed.
* Deadlines: each request is answered in full within ``timeout_seconds`` or cut off (``RequestDeadline``: a socket
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

This module plans a run's chunks and runs it; the pieces are beside it: ``prometheus_target`` (URL, token,
limits), ``prometheus_window`` (chunks and times), ``prometheus_decode`` (answers into arrays, verified),
``prometheus_deadline`` (per-request deadlines, failures), ``prometheus_fetch`` (thread pool, retries) and
``prometheus_write`` (staging and the write run). Their public names are importable from here too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta

from sre_lib.collect.by_source import fetch_then_write
from sre_lib.collect.prometheus_decode import Matrix, ResponseError, decode_matrix
from sre_lib.collect.prometheus_fetch import (
    ACCEPT_ENCODING,
    IN_FLIGHT_PER_WORKER,
    READ_PIECE_BYTES,
    RETRY_BACKOFF_MULTIPLIER,
    RETRY_HTTP_STATUSES,
    RETRY_INITIAL_BACKOFF_SECONDS,
    RETRY_MAX_BACKOFF_SECONDS,
    RUN_DEADLINE_GRACE_SECONDS,
    ChunkFetcher,
    most_attempts,
    read_body,
    retry_delay,
)
from sre_lib.collect.prometheus_target import SOURCE, TOKEN_ENV_VAR, URL_ENV_VAR, PrometheusTarget, prometheus_target
from sre_lib.collect.prometheus_window import Chunk, from_ms, split_window, to_ms
from sre_lib.collect.prometheus_write import UNMAPPED_SHOWN, PrometheusSummary, SampleWriter
from sre_lib.config import CatalogueEntry, PlatformConfig
from sre_lib.errors import CollectionError
from sre_lib.warehouse.store import Warehouse, WriteRun

__all__ = [
    "ACCEPT_ENCODING",
    "IN_FLIGHT_PER_WORKER",
    "READ_PIECE_BYTES",
    "RETRY_BACKOFF_MULTIPLIER",
    "RETRY_HTTP_STATUSES",
    "RETRY_INITIAL_BACKOFF_SECONDS",
    "RETRY_MAX_BACKOFF_SECONDS",
    "RUN_DEADLINE_GRACE_SECONDS",
    "SOURCE",
    "TOKEN_ENV_VAR",
    "UNMAPPED_SHOWN",
    "URL_ENV_VAR",
    "Chunk",
    "Matrix",
    "Progress",
    "PrometheusSummary",
    "PrometheusTarget",
    "ResponseError",
    "collect_prometheus",
    "decode_matrix",
    "most_attempts",
    "prometheus_target",
    "read_body",
    "retry_delay",
    "split_window",
]

Progress = Callable[[int, int], None]


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
    start_ms, end_ms = to_ms(start), to_ms(end)
    if end_ms < start_ms:
        raise CollectionError(
            f"Prometheus window: end {end:%Y-%m-%d %H:%M:%S} is before start {start:%Y-%m-%d %H:%M:%S}"
        )
    report = progress or (lambda _done, _total: None)
    writer = SampleWriter(config, entries)

    def fetch() -> list[Chunk]:
        fetcher = ChunkFetcher(target)
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
            warehouse, SOURCE, fetch, write, target=target.describe(), window_start=from_ms(start_ms),
            window_end=from_ms(end_ms),
        )  # fmt: skip
    finally:
        writer.close()
    return PrometheusSummary(
        target=target.describe(),
        start=from_ms(start_ms),
        end=from_ms(end_ms),
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
    fetcher: ChunkFetcher, entries: Mapping[str, CatalogueEntry], start_ms: int, end_ms: int, step_ms: int
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
