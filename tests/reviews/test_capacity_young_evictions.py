"""Redis evictions in the capacity review of a platform minutes old: none is healthy and asks nothing; evictions
that started and continue are rising, and the [redis] policy's action is in the report's actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from sre_lib.config import DEFAULT_CONFIG_PATH, load_config
from sre_lib.reviews.capacity import REDIS_STATUS_ACTIONS, capacity_review, policy_status
from sre_lib.warehouse.store import Warehouse, canonical_labels, series_id

CONFIG = load_config(DEFAULT_CONFIG_PATH)
END = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
MINUTES = 4


def _young_redis(path: Path, evicting_seconds: int) -> Warehouse:
    """Four minutes at 5 s steps, as the live hub collects them: app CPU, Redis up and its evictions per minute,
    none until the last ``evicting_seconds``."""
    times = pd.date_range(END - timedelta(minutes=MINUTES), END, freq="5s")
    evicting = times > END - timedelta(seconds=evicting_seconds)
    plan = [
        ("app", "app-1", "cpu", np.full(len(times), 30.0)),
        ("redis", "redis-1", "up", np.ones(len(times))),
        ("redis", "redis-1", "redis_evictions", np.where(evicting, 40.0, 0.0)),
    ]
    series, samples = [], []
    for component, instance, metric, values in plan:
        labels = {"component": component, "instance": instance}
        sid = series_id(metric, labels)
        series.append({"series_id": sid, "source": "test", "metric": metric, "component": component,
                       "instance": instance, "labels": canonical_labels(labels)})  # fmt: skip
        samples.append(pd.DataFrame({"series_id": sid, "ts": times, "value": values}))
    warehouse = Warehouse(path)
    with warehouse.write_run("test") as run:
        run.upsert_series(pd.DataFrame(series))
        run.replace_samples(pd.concat(samples, ignore_index=True), times[0], times[-1])
    return warehouse


def _review(warehouse: Warehouse):
    con = warehouse.open_read_only()
    try:
        return capacity_review(con, CONFIG, window="30m")
    finally:
        con.close()


def test_no_evictions_on_a_young_platform_is_healthy_and_asks_nothing(tmp_path: Path) -> None:
    review = _review(_young_redis(tmp_path / "w.duckdb", evicting_seconds=0))
    evictions = policy_status(review).set_index("metric").loc["redis_evictions"]
    assert evictions["status"] == "healthy"
    assert evictions["detail"].startswith("no evictions (judged on 4 min of samples")
    assert "redis_evictions" not in set(review.actions["metric"])


def test_evictions_that_started_on_a_young_platform_are_an_action(tmp_path: Path) -> None:
    review = _review(_young_redis(tmp_path / "w.duckdb", evicting_seconds=60))
    evictions = policy_status(review).set_index("metric").loc["redis_evictions"]
    assert evictions["status"] == "warning"
    assert evictions["detail"].startswith("evictions rising: started 2026-12-02 08:59:05 UTC and continue, 40/min")
    action = REDIS_STATUS_ACTIONS["redis_evictions"].format(where="redis/redis-1")
    acted = review.actions[review.actions["action"] == action]
    assert len(acted) == 1 and acted["why"].iloc[0].startswith("Redis policy: evictions rising: started")
