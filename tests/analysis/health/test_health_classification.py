"""The public views (analysis.health.classification): classify keeps a frame's rows, and real CloudWatch CPU data
agrees with an independent pandas computation of the same rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from health_inputs import make_series
from support.paths import NAB_DATA

from sre_lib.analysis import health
from sre_lib.config import PlatformConfig


def test_classify_keeps_the_frames_rows_and_marks_what_it_cannot_classify(config: PlatformConfig) -> None:
    frame = pd.concat(
        [make_series([50, np.nan, 90]), make_series([100, 200, 300], metric="request_rate", instance="all")],
        ignore_index=True,
    ).sample(frac=1.0, random_state=3)  # shuffled: the result follows the input's order
    result = health.classify(frame, config)
    assert list(result.index) == list(frame.index)
    pd.testing.assert_frame_equal(result[frame.columns], frame)
    status = result.set_index(["metric", "value"])["status"]
    assert status[("cpu", 50.0)] == "healthy" and status[("cpu", 90.0)] == "critical"
    assert (result.loc[result["value"].isna(), "status"] == "no data").all()
    assert result.loc[result["metric"] == "request_rate", "status"].isna().all()


def _nab_frames() -> list[tuple[str, pd.DataFrame]]:
    files = sorted(NAB_DATA.glob("ec2_cpu_utilization_*.csv"))
    if not files:
        pytest.skip(f"NAB CloudWatch data not found in {NAB_DATA}")
    return [(f.stem, pd.read_csv(f, parse_dates=["timestamp"])) for f in files]


def test_real_cloudwatch_cpu_matches_an_independent_pandas_computation(config: PlatformConfig) -> None:
    seen = set()
    for name, raw in _nab_frames():
        frame = raw.rename(columns={"timestamp": "ts"}).assign(metric="cpu", instance=name)
        # Independent computation of the same rules with plain pandas.
        value = frame["value"]
        expected = np.select([value > 80, value >= 60], ["critical", "warning"], "healthy")
        result = health.classify(frame, config)
        assert (result["status"].astype(str).to_numpy() == expected).all(), name
        seen |= set(expected)

        ts = frame["ts"].dt.tz_localize("UTC")
        step = ts.diff().median()
        gap = ts.shift(-1) - ts
        held = gap.where(gap <= 2 * step, step).fillna(step)
        minutes = (held / pd.Timedelta(minutes=1)).groupby(expected).sum()
        tib = health.time_in_bands(frame, config).iloc[0]
        for status in ("healthy", "warning", "critical"):
            assert tib[f"{status}_minutes"] == pytest.approx(minutes.get(status, 0.0)), (name, status)
        assert tib.window_minutes == pytest.approx(((ts.iloc[-1] - ts.iloc[0]) + step) / pd.Timedelta(minutes=1))

        run = ((pd.Series(expected) != pd.Series(expected).shift()) | (gap.shift() > 2 * step)).cumsum()
        bad = pd.DataFrame({"run": run, "status": expected, "value": value})[expected != "healthy"]
        runs = bad.groupby("run").agg(status=("status", "first"), peak=("value", "max"))
        eps = health.episodes(frame, config)
        assert len(eps) == len(runs), name
        assert sorted(eps["peak"]) == sorted(runs["peak"]), name
    assert seen == {"healthy", "warning", "critical"}
