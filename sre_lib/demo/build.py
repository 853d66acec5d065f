"""Build the demo warehouse: every table filled for a 90-day span in one write run, like the collectors write.

Same spec, same rows."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import pandas as pd

from sre_lib.demo.backup_history import backup_frames
from sre_lib.demo.metric_history import metric_frames
from sre_lib.demo.postgres_history import postgres_frames
from sre_lib.demo.redis_history import redis_info_frame
from sre_lib.demo.spec import DemoSpec
from sre_lib.errors import WarehouseError
from sre_lib.warehouse.store import Warehouse, scalar

__all__ = ["DemoSpec", "DemoSummary", "build_demo", "is_demo"]


@dataclass(frozen=True)
class DemoSummary:
    warehouse: str
    rows_by_table: dict[str, int]

    @property
    def total_rows(self) -> int:
        return sum(self.rows_by_table.values())


def build_demo(
    warehouse: str | os.PathLike[str] | None = None,
    spec: DemoSpec | None = None,
    progress: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Replace the warehouse's contents with the demo platform. Refuses a warehouse holding collected data."""
    spec = spec or DemoSpec()
    target = Warehouse(warehouse)
    say = progress or (lambda _message: None)
    _refuse_collected_data(target)
    rows: dict[str, int] = {}
    with target.write_run("demo", target="demo generator", window_start=spec.start, window_end=spec.end) as run:
        run.delete_all()
        say(f"metrics: {spec.days} days at {spec.step} resolution")
        series, samples = metric_frames(spec)
        run.upsert_series(series)
        rows["metric_samples"] = run.replace_samples(samples, spec.start, spec.end)
        connections = _metric(series, samples, "postgresql", "db_connections")
        del samples
        say("PostgreSQL statistics snapshots")
        frames = postgres_frames(spec, connections)
        say("backups, off-site copies and restore tests")
        frames |= backup_frames(spec)
        say("Redis INFO snapshots")
        frames["redis_info"] = redis_info_frame(spec)
        for table, frame in frames.items():
            rows[table] = run.replace_rows(table, frame)
    return DemoSummary(warehouse=str(target.path), rows_by_table=rows)


def is_demo(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the warehouse holds only the demo's synthetic data: a report of it must say so."""
    return bool(
        scalar(
            con,
            "SELECT count(*) FILTER (WHERE source = 'demo') > 0 AND count(*) FILTER (WHERE source <> 'demo') = 0 "
            "FROM collection_runs WHERE status = 'ok'",
        )
    )


def _metric(series: pd.DataFrame, samples: pd.DataFrame, component: str, metric: str) -> pd.Series | None:
    """One demo series' values indexed by time (None if the demo has no such series)."""
    ids = series.loc[(series["component"] == component) & (series["metric"] == metric), "series_id"]
    if ids.empty:
        return None
    chosen = samples[samples["series_id"] == ids.iloc[0]]
    return pd.Series(chosen["value"].to_numpy(), index=pd.DatetimeIndex(chosen["ts"]))


def _refuse_collected_data(target: Warehouse) -> None:
    """The demo wipes the warehouse, so it must never run over one that holds real collections."""
    if not target.path.exists():
        return
    try:
        con = duckdb.connect(str(target.current_snapshot()), read_only=True)
    except (WarehouseError, duckdb.Error):
        return
    try:
        collected = scalar(con, "SELECT count(*) FROM collection_runs WHERE source <> 'demo' AND status = 'ok'")
    finally:
        con.close()
    if collected:
        raise WarehouseError(
            f"warehouse {target.path} holds {collected} collection runs of real data; the demo would erase "
            "them: choose another file with --warehouse"
        )
