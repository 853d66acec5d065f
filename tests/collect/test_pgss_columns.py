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
