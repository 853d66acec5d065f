"""Running one collection of a named source, as the CLI and scheduled jobs do; fetch first, then write."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sre_lib.config import PlatformConfig
from sre_lib.durations import parse_window
from sre_lib.errors import CollectionError, SreError
from sre_lib.progress import ProgressReporter
from sre_lib.warehouse.store import Warehouse, WriteRun

log = logging.getLogger(__name__)

Fetched = TypeVar("Fetched")
Written = TypeVar("Written")


def collection_window(since: str | None, start: str | None, end: str | None) -> tuple[datetime, datetime]:
    """The [start, end] window from ``--since`` or ``--start/--end`` (end defaults to now), within 2000 .. now."""
    return parse_window(since, start, end)


def collect_once(
    source: str, warehouse: Warehouse, config: PlatformConfig, start: datetime, end: datetime, step: timedelta
) -> str:
    """Collect one source; return a one-line summary of what was written.

    A CollectionError leaves here with its ``source`` and ``target`` set, whichever collector raised it.
    """
    try:
        return _collect_source(source, warehouse, config, start, end, step)
    except CollectionError as exc:
        exc.source = exc.source or source
        exc.target = exc.target or _target_name(source, config)
        raise


def _target_name(source: str, config: PlatformConfig) -> str | None:
    """The server a source reads, as messages show it: a server name, or Prometheus's URL without credentials."""
    if source == "postgres":
        return config.sources.postgres.server
    if source == "redis":
        return config.sources.redis.server
    if source == "prometheus":
        from sre_lib.collect.prometheus import prometheus_target

        try:
            return prometheus_target(config).describe()
        except SreError:  # an unusable URL: the message already says so, and the URL may hold a password
            return None
    if source == "backups" and config.sources.pgbackrest is not None:
        return f"pgbackrest stanza {config.sources.pgbackrest.stanza}"
    return None


def _collect_source(
    source: str, warehouse: Warehouse, config: PlatformConfig, start: datetime, end: datetime, step: timedelta
) -> str:
    if source == "postgres":
        from sre_lib.collect.postgres_snapshot import collect_postgres

        summary = collect_postgres(warehouse, config)
        text = f"snapshot of {summary.server} at {summary.taken_at:%Y-%m-%d %H:%M:%S %Z}: {summary.total_rows:,} rows"
        if summary.missing_databases:
            text += f"; database {', '.join(summary.missing_databases)} not found, skipped"
        return text
    if source == "redis":
        from sre_lib.collect.redis_info import collect_redis

        rows = collect_redis(warehouse, config)
        return f"INFO snapshot of {config.sources.redis.server}: {rows} row"
    if source == "prometheus":
        from sre_lib.collect.prometheus import collect_prometheus

        with ProgressReporter("prometheus", unit="chunk") as bar:
            summary = collect_prometheus(warehouse, config, start, end, step, progress=bar.update)
        return f"{summary!s}"
    if source == "backups":
        from sre_lib.collect.pgbackrest_collect import NOT_CONFIGURED_MESSAGE, collect_backups

        if config.sources.pgbackrest is None:  # the shipped hourly job, on a host without pgBackRest
            return NOT_CONFIGURED_MESSAGE
        return str(collect_backups(warehouse, config))
    raise CollectionError(
        f"unknown source {source!r}: expected prometheus, postgres, redis, backups or all", source=source
    )


def fetch_then_write(
    warehouse: Warehouse,
    source: str,
    fetch: Callable[[], Fetched],
    write: Callable[[WriteRun, Fetched], Written],
    target: str = "",
    window_start: datetime | None = None,
    window_end: datetime | None = None,
) -> Written:
    """Fetch from a server with the warehouse unlocked, then lock it only to ``write`` what was fetched, in one run.

    A run that held the write lock while it waited on a server kept every other collection and job out for as
    long as the server took, or for ever. Here the lock covers the local write alone. A fetch that fails or is
    interrupted (Ctrl-C, SIGTERM) writes nothing and is logged as a failed run all the same, with the time the
    collection started; its exception then propagates.
    """
    started_at = datetime.now(UTC)
    try:
        fetched = fetch()
    except BaseException as failure:
        _log_failed_run(warehouse, source, target, window_start, window_end, started_at, failure)
        raise
    with warehouse.write_run(source, target, window_start, window_end, started_at=started_at) as run:
        return write(run, fetched)


def _log_failed_run(
    warehouse: Warehouse,
    source: str,
    target: str,
    window_start: datetime | None,
    window_end: datetime | None,
    started_at: datetime,
    failure: BaseException,
) -> None:
    """Log ``failure`` as a failed run, as ``write_run`` logs one whose body raises: by opening a run that does."""
    try:
        with warehouse.write_run(source, target, window_start, window_end, started_at=started_at):
            raise failure
    except BaseException as raised:
        if raised is not failure:  # the warehouse could not log it (busy, unwritable): the failure still stands
            log.warning("%s: the failed run could not be logged in %s: %s", source, warehouse.path, raised)
