"""Running one collection of a named source, as the CLI and scheduled jobs do."""

from __future__ import annotations

from datetime import datetime, timedelta

from sre_lib.config import PlatformConfig
from sre_lib.durations import parse_window
from sre_lib.errors import SreError
from sre_lib.progress import ProgressReporter
from sre_lib.warehouse import Warehouse


def collection_window(since: str | None, start: str | None, end: str | None) -> tuple[datetime, datetime]:
    """The [start, end] window from ``--since`` or ``--start/--end`` (end defaults to now), within 2000 .. now."""
    return parse_window(since, start, end)


def collect_once(
    source: str, warehouse: Warehouse, config: PlatformConfig, start: datetime, end: datetime, step: timedelta
) -> str:
    """Collect one source; return a one-line summary of what was written."""
    if source == "postgres":
        from sre_lib.collect.postgres import collect_postgres

        summary = collect_postgres(warehouse, config)
        text = f"snapshot of {summary.server} at {summary.taken_at:%Y-%m-%d %H:%M:%S %Z}: {summary.total_rows:,} rows"
        if summary.missing_databases:
            text += f"; database {', '.join(summary.missing_databases)} not found, skipped"
        return text
    if source == "redis":
        from sre_lib.collect.redis import collect_redis

        rows = collect_redis(warehouse, config)
        return f"INFO snapshot of {config.sources.redis.server}: {rows} row"
    if source == "prometheus":
        from sre_lib.collect.prometheus import collect_prometheus

        with ProgressReporter("prometheus", unit="chunk") as bar:
            summary = collect_prometheus(warehouse, config, start, end, step, progress=bar.update)
        return f"{summary!s}"
    raise SreError(f"unknown source {source!r}: expected prometheus, postgres, redis or all")
