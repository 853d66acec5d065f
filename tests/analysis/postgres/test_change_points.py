"""Change points of a statement's time per call (sre_lib.analysis.postgres.change_points): synthetic series (no
change, noise, a step at the edge), a real PostgreSQL 15's collected history, and the demo's scripted regression."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pg_statement_history import History

from sre_lib.analysis.postgres.change_points import (
    MIN_SEGMENT,
    find_step,
    mean_time_series,
    statement_change_points,
)
from sre_lib.demo import postgres_history as demo
from sre_lib.demo.spec import DemoSpec
from sre_lib.warehouse.store import Warehouse

SEEDS = range(20)


def _noisy(levels: list[tuple[float, int]], seed: int, noise: float = 0.15) -> np.ndarray:
    """Segments of (level ms, length), each value times lognormal noise."""
    rng = np.random.default_rng(seed)
    series = np.concatenate([np.full(length, level) for level, length in levels])
    return series * rng.lognormal(0.0, noise, len(series))


@pytest.mark.parametrize("seed", SEEDS)
def test_a_stable_noisy_series_has_no_change_point(seed: int) -> None:
    assert find_step(_noisy([(6.0, 672)], seed, noise=0.3)) is None


@pytest.mark.parametrize("seed", SEEDS)
def test_a_step_in_noise_is_found_where_it_happened(seed: int) -> None:
    step = find_step(_noisy([(6.0, 400), (18.0, 272)], seed, noise=0.3))
    assert step is not None
    assert abs(step.index - 400) <= 1
    assert 2.6 < step.ratio < 3.4
    assert step.gain > step.penalty


@pytest.mark.parametrize("where", ["start", "end"])
def test_a_step_at_the_edge_of_the_window_is_found(where: str) -> None:
    levels = [(6.0, MIN_SEGMENT), (90.0, 200)] if where == "start" else [(6.0, 200), (90.0, MIN_SEGMENT)]
    step = find_step(_noisy(levels, seed=1))
    assert step is not None and step.index == levels[0][1]
    assert step.ratio > 10


def test_a_faster_statement_is_a_step_down_and_a_small_drift_is_none() -> None:
    down = find_step(_noisy([(90.0, 100), (6.0, 100)], seed=2))
    assert down is not None and down.index == 100 and down.ratio < 0.1
    assert find_step(_noisy([(6.0, 1000), (6.3, 1000)], seed=3, noise=0.02)) is None  # 5 %: under the floor


def test_too_short_a_series_or_bad_values() -> None:
    assert find_step([6.0] * MIN_SEGMENT + [90.0] * (MIN_SEGMENT - 1)) is None
    with pytest.raises(ValueError, match="find_step: values must be finite and positive"):
        find_step([6.0, 0.0, 6.0, 90.0, 90.0, 90.0])


def test_the_regression_of_a_real_postgresql_is_dated_to_its_snapshot(history: History) -> None:
    con = history.con()
    try:
        series = mean_time_series(con, start=history.snaps[0], end=history.snaps[12])
        changes = statement_change_points(con, start=history.snaps[0], end=history.snaps[12])
    finally:
        con.close()
    regress = changes.set_index("queryid").loc[history.ids["regress"]]
    assert regress["changed_at"] == pd.Timestamp(history.snaps[6])  # 1 ms per call up to it, 60 ms after
    assert regress["before_mean_ms"] < 5 and regress["after_mean_ms"] > 55
    assert (regress["intervals_before"], regress["intervals_after"]) == (6, 6)
    days = (history.snaps[12] - history.snaps[6]).total_seconds() / 86400
    assert regress["calls_per_day_since"] == pytest.approx(18 / days)
    expected = regress["calls_per_day_since"] * (regress["after_mean_ms"] - regress["before_mean_ms"])
    assert regress["extra_ms_per_day"] == pytest.approx(expected)
    assert history.ids["stable"] not in set(changes["queryid"])
    assert (series["calls"] > 0).all()
    assert series["mean_ms"].to_numpy() == pytest.approx((series["total_exec_time_ms"] / series["calls"]).to_numpy())


def test_a_window_without_intervals_gives_typed_empty_frame(history: History) -> None:
    con = history.con()
    try:
        changes = statement_change_points(con, start=history.snaps[0], end=history.snaps[1])
    finally:
        con.close()
    assert changes.empty and "changed_at" in changes and str(changes["changed_at"].dtype) == "datetime64[us, UTC]"


def test_the_demo_regression_is_dated_within_one_snapshot_interval(demo_warehouse: Path) -> None:
    spec = DemoSpec()
    con = Warehouse(demo_warehouse).open_read_only()
    try:
        changes = statement_change_points(con, start=spec.end - pd.Timedelta(days=14), end=spec.end)
        queries = dict(con.execute("SELECT DISTINCT queryid, query FROM pg_stat_statements").fetchall())
    finally:
        con.close()
    assert [queries[q] for q in changes["queryid"]] == [demo.REGRESSION_QUERY]  # nothing else changed
    row = changes.iloc[0]
    made = pd.Timestamp(spec.at_day(demo.REGRESSION_DAY))
    assert abs(row["changed_at"] - made) <= row["snapshot_interval"] == spec.pg_snapshot_every
    assert row["after_mean_ms"] / row["before_mean_ms"] == pytest.approx(15.0, rel=0.1)  # the scripted plan flip
    assert row["extra_ms_per_day"] > 3_600_000  # over an hour of database time a day


def test_no_statement_asked_for_gives_no_row(history: History) -> None:
    con = history.con()
    try:
        changes = statement_change_points(con, start=history.snaps[0], end=history.snaps[12], queryids=[])
    finally:
        con.close()
    assert changes.empty and list(changes.columns)[:3] == ["server", "queryid", "changed_at"]
