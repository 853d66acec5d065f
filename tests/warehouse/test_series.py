"""Reading series: where each series has samples, and the holes in them (sample_coverage)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from sre_lib.errors import DataError
from sre_lib.warehouse.series import sample_coverage
from sre_lib.warehouse.store import Warehouse, canonical_labels, series_id

START = datetime(2026, 10, 1, tzinfo=UTC)


def _warehouse(path: Path) -> Warehouse:
    """Two hours of app-1 cpu every minute with a 1-sample hole at 00:30 and a 10-sample hole from 01:00, and
    a disk every 5 minutes from 00:40 (it begins late), with one 5-minute sample missing at 01:20."""
    minutes = pd.date_range(START, START + timedelta(hours=2), freq="1min", inclusive="left")
    in_hole = (minutes >= START + timedelta(hours=1)) & (minutes < START + timedelta(minutes=70))
    cpu = minutes[(minutes != START + timedelta(minutes=30)) & ~in_hole]
    disk = pd.date_range(START + timedelta(minutes=40), START + timedelta(hours=2), freq="5min", inclusive="left")
    disk = disk[disk != START + timedelta(minutes=80)]
    labels = {"component": "app", "instance": "app-1"}
    series, samples = [], []
    for metric, times in (("cpu", cpu), ("disk", disk)):
        sid = series_id(metric, labels)
        series.append({"series_id": sid, "source": "test", "metric": metric, "component": "app",
                       "instance": "app-1", "labels": canonical_labels(labels)})  # fmt: skip
        samples.append(pd.DataFrame({"series_id": sid, "ts": times, "value": 50.0}))
    warehouse = Warehouse(path)
    with warehouse.write_run("test") as run:
        run.upsert_series(pd.DataFrame(series))
        run.replace_samples(pd.concat(samples, ignore_index=True), minutes[0], minutes[-1])
    return warehouse


def test_holes_are_counted_in_each_series_own_step(tmp_path: Path) -> None:
    con = _warehouse(tmp_path / "w.duckdb").open_read_only()
    try:
        every = sample_coverage(con)
        long = sample_coverage(con, min_missing=2)
        late = sample_coverage(con, start=START + timedelta(minutes=65))
        empty = sample_coverage(con, start=START + timedelta(days=1))
    finally:
        con.close()
    gaps = every.gaps.set_index("metric")
    assert every.gaps["missing"].tolist() == [1, 10, 1]  # cpu at 00:30 and from 01:00; disk at 01:20
    assert every.gaps["first_missing"].tolist() == [pd.Timestamp(START + timedelta(minutes=m)) for m in (30, 60, 80)]
    assert every.gaps["resumed"].tolist() == [pd.Timestamp(START + timedelta(minutes=m)) for m in (31, 70, 85)]
    assert gaps.loc["disk", "step"] == pd.Timedelta(minutes=5)
    assert long.gaps["missing"].tolist() == [10]
    assert late.gaps["metric"].tolist() == ["disk"]  # from inside the cpu hole: where cpu's span begins
    spans = every.spans.set_index("metric")
    assert spans.loc["cpu", "first_ts"] == pd.Timestamp(START)
    assert spans.loc["disk", "first_ts"] == pd.Timestamp(START + timedelta(minutes=40))
    assert spans.loc["cpu", "samples"] == 120 - 11 and spans.loc["cpu", "step"] == pd.Timedelta(minutes=1)
    assert empty.spans.empty and empty.gaps.empty
    assert list(empty.gaps.columns) == list(every.gaps.columns)


def test_min_missing_must_be_a_positive_whole_number(tmp_path: Path) -> None:
    con = _warehouse(tmp_path / "w.duckdb").open_read_only()
    try:
        for bad in (0, 1.5, True):
            with pytest.raises(DataError, match="min_missing: expected a whole number of samples >= 1"):
                sample_coverage(con, min_missing=bad)
    finally:
        con.close()
