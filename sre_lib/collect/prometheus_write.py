"""Writing a Prometheus collection: result series mapped to warehouse series, points staged, then one write run.

Staging keeps the warehouse's write lock out of the network waits. NaN and ±Inf are not stored (they are
counted in the summary); series whose component is not a [components] key are skipped and named.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from sre_lib.collect.prometheus_decode import Matrix, series_name
from sre_lib.collect.prometheus_target import SOURCE
from sre_lib.collect.prometheus_window import Chunk
from sre_lib.config import CatalogueEntry, PlatformConfig
from sre_lib.errors import CollectionError
from sre_lib.warehouse.store import WriteRun, canonical_labels, series_id

UNMAPPED_SHOWN = 10  # unmapped component values named in the summary line


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


class SampleWriter:
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
                    f"{series_name(labels_of[identity])} and {series_name(labels)} are one warehouse series once "
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
        if "mountpoint" in labels:  # a volume is its own component wherever it is mounted ([components.*] mountpoint)
            component = self.config.mountpoint_component(labels["mountpoint"]) or component
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
