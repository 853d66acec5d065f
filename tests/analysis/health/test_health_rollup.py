"""The roll-up (analysis.health.health_rollup): worst status wins, ties go to the oldest, unknown statuses refused."""

from __future__ import annotations

import pandas as pd
import pytest
from health_inputs import at_minute

from sre_lib.analysis import health
from sre_lib.config import PlatformConfig
from sre_lib.errors import DataError


def test_rollup_worst_wins_and_ties_go_to_the_oldest(config: PlatformConfig) -> None:
    table = pd.DataFrame(
        {
            "component": ["app", "app", "app", "redis"],
            "instance": ["app-1", "app-2", "app-2", "redis-1"],
            "metric": ["cpu", "cpu", "memory", "redis_memory"],
            "status": ["warning", "warning", "healthy", "warning"],
            "since": [at_minute(50), at_minute(10), at_minute(0), at_minute(5)],
        }
    )
    result = health.rollup(table)
    assert (result.status, result.component, result.instance, result.metric) == (
        "warning",
        "redis",
        "redis-1",
        "redis_memory",
    )
    app = result.components.set_index("component").loc["app"]
    assert (app.status, app.instance, app.warning, app.healthy) == ("warning", "app-2", 2, 1)
    healthy = health.rollup(table.assign(status="healthy"), config)
    # postgresql and media have no series: "not monitored", listed, and no colour on the platform's status
    assert healthy.status == "healthy" and "not monitored" in healthy.cause
    unseen = healthy.components.set_index("component").loc[["postgresql", "media"], "status"]
    assert set(unseen.astype(str)) == {"not monitored"}
    assert health.rollup(table.assign(status="healthy")).status == "healthy"
    with pytest.raises(DataError, match="unknown status"):
        health.rollup(table.assign(status="fine"))
