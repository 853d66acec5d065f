"""Counters as pg_stat_* keeps them, and WAL file names: resets restart totals and extremes; names as PostgreSQL's."""

from __future__ import annotations

import numpy as np

from sre_lib.demo.postgres_counters import as_int64, cumulative, first_index_at, last_event, running
from sre_lib.demo.postgres_wal import wal_names


def test_cumulative_totals_restart_at_the_reset_and_lose_that_rows_work() -> None:
    increments = np.array([5.0, 1.0, 2.0, 3.0, 4.0])
    assert cumulative(increments, None).tolist() == [5, 6, 8, 11, 15]
    assert cumulative(increments, 3).tolist() == [5, 6, 8, 0, 4]


def test_running_extremes_restart_at_the_reset() -> None:
    values = np.array([3.0, 1.0, 2.0, 5.0, 4.0])
    assert running(np.minimum, values, None).tolist() == [3, 1, 1, 1, 1]
    assert running(np.maximum, values, 2).tolist() == [3, 3, 2, 5, 5]


def test_first_index_and_last_event() -> None:
    secs = np.array([0.0, 10.0, 20.0, 30.0])
    assert first_index_at(secs, 15.0) == 2
    assert first_index_at(secs, 0.0) is None and first_index_at(secs, 31.0) is None
    last, count = last_event(np.array([25.0, 5.0]), secs)
    assert np.isnan(last[0]) and last[1:].tolist() == [5.0, 5.0, 25.0] and count.tolist() == [0, 1, 1, 2]
    none, zero = last_event(np.array([]), secs)
    assert np.isnan(none).all() and zero.tolist() == [0, 0, 0, 0]
    assert as_int64(np.array([1.6])).dtype == np.int64


def test_wal_names_follow_postgresql() -> None:
    assert wal_names(np.array([0x3A2C0, 0x3A2C1])).tolist() == ["00000001000003A2000000C0", "00000001000003A2000000C1"]
    assert wal_names(np.array([0x100]), timeline=2).tolist() == ["000000020000000100000000"]
