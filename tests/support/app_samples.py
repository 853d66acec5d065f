"""A small app tier's CPU history for capacity tests: two servers, gaps, a server joining or leaving."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd

from sre_lib.warehouse.store import Warehouse, canonical_labels, series_id

END = datetime(2026, 11, 1, tzinfo=UTC)  # 11:00 AEDT


def app_warehouse(
    path: Path,
    hours: float = 8 * 24,
    holes: tuple[tuple[str, datetime, int], ...] = (),
    joins: datetime | None = None,
    leaves: datetime | None = None,
    metrics: tuple[str, ...] = ("cpu",),
) -> Warehouse:
    """1-minute CPU of app-1 and app-2 (a daily cycle around 30 %) for ``hours`` up to END; ``holes``: (server,
    first missing minute, minutes) left out; ``joins``: an app-3 reporting from then; ``leaves``: app-2's last
    sample then; ``metrics``: the same for each (cpu only by default)."""
    warehouse = Warehouse(path)
    times = pd.date_range(END - timedelta(hours=hours), END, freq="1min")
    rng = np.random.default_rng(2)
    series, samples = [], []
    for instance, metric in product(("app-1", "app-2", *(["app-3"] if joins else [])), metrics):
        labels = {"component": "app", "instance": instance}
        sid = series_id(metric, labels)
        series.append({"series_id": sid, "source": "test", "metric": metric, "component": "app",
                       "instance": instance, "labels": canonical_labels(labels)})  # fmt: skip
        keep = np.ones(len(times), dtype=bool)
        for server, first, minutes in holes:
            if server == instance:
                keep &= (times < first) | (times >= first + timedelta(minutes=minutes))
        if instance == "app-3":
            keep &= times >= joins
        if instance == "app-2" and leaves is not None:
            keep &= times <= leaves
        values = 30 + 10 * np.sin(2 * np.pi * times.hour / 24) + rng.normal(0, 1, len(times))
        samples.append(pd.DataFrame({"series_id": sid, "ts": times[keep], "value": values[keep]}))
    with warehouse.write_run("test") as run:
        run.upsert_series(pd.DataFrame(series))
        run.replace_samples(pd.concat(samples, ignore_index=True), times[0], times[-1])
    return warehouse


TEN_MINUTES_AT = datetime(2026, 10, 30, 16, 10, tzinfo=UTC)  # 03:10 on 31 October in Sydney
