"""Sample loading (analysis.health.sample_loading): a warehouse in any storage layout and a frame give the same
results; bad frames and sources get a clear error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from health_inputs import T0, at_minute, make_series, platform_frame, write_samples

from sre_lib.analysis import health
from sre_lib.config import PlatformConfig
from sre_lib.errors import DataError
from sre_lib.warehouse.store import Warehouse


@pytest.mark.parametrize("layout", ["one run", "two runs", "by sample"])
def test_the_warehouse_and_a_frame_give_the_same_results(tmp_path: Path, config: PlatformConfig, layout: str) -> None:
    frame = platform_frame()
    warehouse = Warehouse(tmp_path / "w.duckdb", lock_timeout=1)
    if layout == "two runs":  # each series is stored in two stretches
        half = pd.Timestamp(T0) + pd.Timedelta(hours=12)
        write_samples(warehouse, frame[frame.ts < half])
        write_samples(warehouse, frame[frame.ts >= half])
    elif layout == "by sample":  # every series interleaved with the others, sample by sample
        write_samples(warehouse, frame.sort_values(["ts", "instance", "metric"], kind="stable"))
    else:
        write_samples(warehouse, frame)
    con = warehouse.open_read_only()
    try:
        from_warehouse = health.assess(con, config, sustained=60)
        per_sample = health.classify(con, config, start=at_minute(600), sustained=60)
        status = health.current_status(con, config, sustained=60)
    finally:
        con.close()
    from_frame = health.assess(frame, config, sustained=60)
    columns = ["component", "instance", "metric", "healthy_minutes", "warning_minutes", "critical_minutes"]
    pd.testing.assert_frame_equal(from_warehouse.time_in_bands[columns], from_frame.time_in_bands[columns])
    pd.testing.assert_frame_equal(
        from_warehouse.episodes.drop(columns="series_id"), from_frame.episodes.drop(columns="series_id")
    )
    assert set(from_warehouse.time_in_bands.metric) == {"cpu", "memory", "redis_hit_ratio"}  # no request_rate
    expected = health.classify(frame[frame.ts >= at_minute(600)], config, sustained=60)
    expected = expected[expected.metric.isin(["cpu", "memory", "redis_hit_ratio"])]
    merged = per_sample.merge(expected, on=["component", "instance", "metric", "ts"], suffixes=("", "_frame"))
    assert len(merged) == len(expected) == len(per_sample)
    assert (merged["status"] == merged["status_frame"]).all()
    pd.testing.assert_frame_equal(
        status.drop(columns="series_id"), health.current_status(frame, config, sustained=60).drop(columns="series_id")
    )


def test_bad_input_gets_a_clear_error(config: PlatformConfig) -> None:
    good = make_series([50.0, 60.0, 70.0])
    with pytest.raises(DataError, match="no rows"):
        health.classify(good.iloc[:0], config)
    with pytest.raises(DataError, match=r"all 3 values of \['cpu'\] are NaN"):
        health.time_in_bands(good.assign(value=np.nan), config)
    with pytest.raises(DataError, match="'cpuu'"):
        health.classify(good.assign(metric="cpuu"), config)
    with pytest.raises(DataError, match=r"missing column\(s\) \['value'\]"):
        health.classify(good.drop(columns="value"), config)
    with pytest.raises(DataError, match=r"missing column\(s\) \['ts'\]"):
        health.episodes(good.drop(columns="ts"), config)
    with pytest.raises(DataError, match=r"negative value\(s\) for 'cpu' \(first -5 at row 1\)"):
        health.classify(good.assign(value=[50.0, -5.0, 70.0]), config)
    with pytest.raises(DataError, match=r"cpu on app/app-1: 1 duplicate timestamp"):
        health.classify(good.assign(ts=[at_minute(0), at_minute(1), at_minute(1)]), config)
    with pytest.raises(DataError, match="must be numeric"):
        health.classify(good.assign(value=["a", "b", "c"]), config)
    with pytest.raises(ValueError, match=r"sustained: no bands for metric\(s\) \['cpuu'\]"):
        health.classify(good, config, sustained={"cpuu": 5})
    with pytest.raises(ValueError, match=r"start .* must be before end"):
        health.time_in_bands(good, config, at_minute(10), at_minute(0))
    with pytest.raises(DataError, match="sustained rule of \\['cpu'\\] needs a 'ts' column"):
        health.classify(good.drop(columns="ts"), config, sustained=10)
    with pytest.raises(TypeError, match="DuckDB connection or a DataFrame"):
        health.classify([1, 2, 3], config)  # type: ignore[arg-type]
