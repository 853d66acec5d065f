"""The pg_stat_statements column mapping for every major version 12 to 18, against the documented lists."""

from __future__ import annotations

import re

import pytest

from sre_lib.collect.pgss_columns import DOCUMENTED_COLUMNS, NORMALISED_SOURCES, column_mapping, select_list

EXPECTED_SOURCES = {
    12: {
        "total_exec_time_ms": "total_time",
        "blk_read_time_ms": "blk_read_time",
        "toplevel": None,
        "plans": None,
        "wal_bytes": None,
        "stats_since": None,
    },
    13: {
        "total_exec_time_ms": "total_exec_time",
        "blk_read_time_ms": "blk_read_time",
        "toplevel": None,
        "plans": "plans",
        "wal_bytes": "wal_bytes",
        "stats_since": None,
    },
    14: {"total_exec_time_ms": "total_exec_time", "toplevel": "toplevel", "stats_since": None},
    15: {"total_exec_time_ms": "total_exec_time", "blk_read_time_ms": "blk_read_time", "stats_since": None},
    16: {"blk_write_time_ms": "blk_write_time", "stats_since": None},
    17: {
        "blk_read_time_ms": "shared_blk_read_time",
        "blk_write_time_ms": "shared_blk_write_time",
        "stats_since": "stats_since",
        "toplevel": "toplevel",
    },
    18: {
        "blk_read_time_ms": "shared_blk_read_time",
        "stats_since": "stats_since",
        "mean_exec_time_ms": "mean_exec_time",
    },
}


@pytest.mark.parametrize("major", sorted(DOCUMENTED_COLUMNS))
def test_mapping_reads_only_columns_the_version_has(major: int) -> None:
    columns = DOCUMENTED_COLUMNS[major]
    mapping = column_mapping(columns)
    assert set(mapping) == set(NORMALISED_SOURCES)
    for target, source in mapping.items():
        assert source is None or source in columns, (major, target, source)
        if source is None:
            assert not any(c in columns for c in NORMALISED_SOURCES[target]), (major, target)
    for target, source in EXPECTED_SOURCES[major].items():
        assert mapping[target] == source, (major, target)
    referenced = set(re.findall(r"s\.(\w+) AS", select_list(columns)))
    assert referenced <= columns


def test_every_version_fills_the_core_counters() -> None:
    for major, columns in DOCUMENTED_COLUMNS.items():
        mapping = column_mapping(columns)
        for target in ("calls", "total_exec_time_ms", "rows", "shared_blks_read", "blk_read_time_ms"):
            assert mapping[target] is not None, (major, target)


def test_a_view_missing_core_columns_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match=r"lacks columns for \['calls'"):
        column_mapping(DOCUMENTED_COLUMNS[15] - {"calls"})


def test_two_levels_of_one_statement_merge_as_the_union_of_their_calls() -> None:
    import numpy as np
    import pandas as pd

    from sre_lib.collect.pgss_columns import merge_levels

    top, nested = np.array([1.0, 2.0, 3.0]), np.array([4.0, 4.5, 4.0, 6.0, 4.0])

    def entry(times: np.ndarray, rows: int) -> dict[str, object]:
        return {"userid": 10, "dbid": 5, "queryid": -42, "toplevel": None, "query": "SELECT $1", "calls": len(times),
                "total_exec_time_ms": times.sum(), "min_exec_time_ms": times.min(), "max_exec_time_ms": times.max(),
                "mean_exec_time_ms": times.mean(), "stddev_exec_time_ms": times.std(), "rows": rows,
                "username": "app", "stats_since": None}  # fmt: skip

    other = {**entry(top, 1), "queryid": 7}
    merged = merge_levels(pd.DataFrame([entry(top, 3), entry(nested, 5), other])).set_index("queryid")
    union = np.concatenate([top, nested])
    assert list(merged.index) == [-42, 7]
    row = merged.loc[-42]
    assert (row.calls, row.rows, row.username, row.query) == (8, 8, "app", "SELECT $1")
    assert (row.min_exec_time_ms, row.max_exec_time_ms) == (1.0, 6.0)
    assert row.mean_exec_time_ms == pytest.approx(union.mean())
    assert row.stddev_exec_time_ms == pytest.approx(union.std())
    assert merged.loc[7, "calls"] == 3  # alone: untouched
    with_levels = pd.DataFrame([{**entry(top, 3), "toplevel": True}, {**entry(nested, 5), "toplevel": False}])
    assert len(merge_levels(with_levels)) == 2  # the view tells them apart: kept apart
