"""The current status table (analysis.health.status_table) and its roll-up: the cause named, an empty warehouse,
a small demo warehouse."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from health_inputs import at_minute, platform_frame

from sre_lib.analysis import health
from sre_lib.config import PlatformConfig, load_config
from sre_lib.errors import DataError
from sre_lib.warehouse.store import Warehouse


def test_current_status_and_rollup_name_the_cause(config: PlatformConfig) -> None:
    status = health.current_status(platform_frame(), config, sustained=60)
    rows = status.set_index(["component", "instance", "metric"])
    assert "request_rate" not in set(status.metric)
    end = at_minute(24 * 60 - 1)
    app1 = rows.loc[("app", "app-1", "cpu")]
    assert (app1.status, app1.value, app1.ts, app1.since) == ("critical", 88.0, end, at_minute(24 * 60 - 90 + 60))
    assert not app1.since_clipped and "above critical 80" in app1.detail
    assert rows.loc[("app", "app-2", "cpu")].status == "healthy"
    assert rows.loc[("app", "app-2", "cpu")].since_clipped
    pg = rows.loc[("postgresql", "pg-1", "memory")]
    assert (pg.status, pg.since) == ("no data", at_minute(24 * 60 - 60))  # last sample at -61 min held one step
    evictions = rows.loc[("redis", "redis-1", "redis_evictions")]
    assert evictions.status == "warning" and evictions.detail.startswith("evictions rising")

    result = health.rollup(status, config)
    assert (result.status, result.component, result.instance, result.metric) == ("critical", "app", "app-1", "cpu")
    assert "app-1" in repr(result) and "critical" in result.cause
    components = result.components.set_index("component")
    assert list(components.index) == ["app", "postgresql", "redis", "media"]  # the config's order
    assert components.loc["app", "critical"] == 1 and components.loc["app", "series"] == 2
    assert (components.loc["postgresql", "status"], components.loc["postgresql", "metric"]) == ("no data", "memory")
    assert (components.loc["redis", "status"], components.loc["redis", "metric"]) == ("warning", "redis_evictions")
    assert components.loc["media", "status"] == "not monitored"
    assert components.loc["media", "detail"] == "no series for this component"
    assert components["since_clipped"].tolist() == [False, False, True, False]  # only the trend held from the start


def test_an_empty_warehouse_gives_empty_results_not_errors(tmp_path: Path, config: PlatformConfig) -> None:
    warehouse = Warehouse(tmp_path / "empty.duckdb", lock_timeout=1)
    warehouse.ensure_created()
    con = warehouse.open_read_only()
    try:
        assert health.current_status(con, config).empty
        assert health.evictions_trend(con, config).empty
        with pytest.raises(DataError, match="no samples of a banded metric"):
            health.time_in_bands(con, config)
        assert health.time_in_bands(con, config, at_minute(0), at_minute(60)).empty
    finally:
        con.close()
    rolled = health.rollup(pd.DataFrame(columns=["component", "metric", "status"]), config)
    assert rolled.status == "no data" and set(rolled.components.status.astype(str)) == {"not monitored"}


def test_a_small_demo_warehouse_gets_a_status_for_every_component(tmp_path: Path) -> None:
    from sre_lib.demo.build import build_demo
    from sre_lib.demo.spec import DemoSpec

    build_demo(tmp_path / "demo.duckdb", DemoSpec(days=3))
    config = load_config()
    con = Warehouse(tmp_path / "demo.duckdb").open_read_only()
    try:
        status = health.current_status(con, config)
        assessment = health.assess(con, config)
    finally:
        con.close()
    banded = set(health.indicator_bands(config)) | set(health.TREND_METRICS)
    assert set(status.metric) <= banded and "request_rate" not in set(status.metric)
    assert "redis_evictions" in set(status.metric)
    assert status["status"].notna().all() and status["ts"].notna().all()
    assert (status.loc[status.metric != "redis_evictions", "status"] != "no data").all()
    result = health.rollup(status, config)
    assert set(result.components.component) == set(config.components)
    assert result.status in health.STATUSES
    np.testing.assert_allclose(
        assessment.time_in_bands[["healthy_share", "warning_share", "critical_share", "no_data_share"]].sum(axis=1), 1.0
    )
    assert "Assessment(" in repr(assessment) and len(assessment.samples()) > 0
