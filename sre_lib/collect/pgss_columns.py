"""pg_stat_statements across PostgreSQL 12-18: which server column feeds each normalised warehouse column.

The view's columns changed between extension versions (total_time became total_exec_time in 1.8 / PG 13,
toplevel arrived in 1.9 / PG 14, blk_read_time became shared_blk_read_time in 1.11 / PG 17, ...). The collector
asks the server which columns its installed extension has and maps them here, so a server whose extension
was not updated after a major upgrade is read correctly too.
"""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd

from sre_lib.warehouse.statement_columns import STATEMENT_COLUMNS, STATEMENT_KEY

_COMMON_12 = [
    "userid",
    "dbid",
    "queryid",
    "query",
    "calls",
    "rows",
    "shared_blks_hit",
    "shared_blks_read",
    "shared_blks_dirtied",
    "shared_blks_written",
    "local_blks_hit",
    "local_blks_read",
    "local_blks_dirtied",
    "local_blks_written",
    "temp_blks_read",
    "temp_blks_written",
]
_PLANNING_13 = ["plans", "total_plan_time", "min_plan_time", "max_plan_time", "mean_plan_time", "stddev_plan_time"]
_EXEC_13 = ["total_exec_time", "min_exec_time", "max_exec_time", "mean_exec_time", "stddev_exec_time"]
_WAL_13 = ["wal_records", "wal_fpi", "wal_bytes"]
_JIT_15 = [
    "jit_functions",
    "jit_generation_time",
    "jit_inlining_count",
    "jit_inlining_time",
    "jit_optimization_count",
    "jit_optimization_time",
    "jit_emission_count",
    "jit_emission_time",
]

# The view's columns per PostgreSQL major version with its bundled extension version, from the
# pg_stat_statements chapter of each release's documentation.
DOCUMENTED_COLUMNS: dict[int, frozenset[str]] = {
    12: frozenset(
        [
            *_COMMON_12,
            "total_time",
            "min_time",
            "max_time",
            "mean_time",
            "stddev_time",
            "blk_read_time",
            "blk_write_time",
        ]
    ),
    13: frozenset(_COMMON_12 + _PLANNING_13 + _EXEC_13 + _WAL_13 + ["blk_read_time", "blk_write_time"]),
}
DOCUMENTED_COLUMNS[14] = DOCUMENTED_COLUMNS[13] | {"toplevel"}
DOCUMENTED_COLUMNS[15] = DOCUMENTED_COLUMNS[14] | {"temp_blk_read_time", "temp_blk_write_time", *_JIT_15}
DOCUMENTED_COLUMNS[16] = DOCUMENTED_COLUMNS[15]
DOCUMENTED_COLUMNS[17] = (DOCUMENTED_COLUMNS[16] - {"blk_read_time", "blk_write_time"}) | {
    "shared_blk_read_time",
    "shared_blk_write_time",
    "local_blk_read_time",
    "local_blk_write_time",
    "jit_deform_count",
    "jit_deform_time",
    "stats_since",
    "minmax_stats_since",
}
DOCUMENTED_COLUMNS[18] = DOCUMENTED_COLUMNS[17] | {
    "wal_buffers_full",
    "parallel_workers_to_launch",
    "parallel_workers_launched",
    "generic_plan_calls",
    "custom_plan_calls",
}

EXTENSION_VERSION_BY_MAJOR = {12: "1.7", 13: "1.8", 14: "1.9", 15: "1.10", 16: "1.10", 17: "1.11", 18: "1.12"}

#: Warehouse columns fed by a server column of another name (or of two names across versions), newest first.
_SERVER_NAMES: dict[str, tuple[str, ...]] = {
    "total_exec_time_ms": ("total_exec_time", "total_time"),
    "min_exec_time_ms": ("min_exec_time", "min_time"),
    "max_exec_time_ms": ("max_exec_time", "max_time"),
    "mean_exec_time_ms": ("mean_exec_time", "mean_time"),
    "stddev_exec_time_ms": ("stddev_exec_time", "stddev_time"),
    "total_plan_time_ms": ("total_plan_time",),
    "blk_read_time_ms": ("shared_blk_read_time", "blk_read_time"),
    "blk_write_time_ms": ("shared_blk_write_time", "blk_write_time"),
}
#: Warehouse column (``STATEMENT_COLUMNS``, in order) -> server columns to try, newest name first.
NORMALISED_SOURCES: dict[str, tuple[str, ...]] = {
    column: _SERVER_NAMES.get(column, (column,)) for column in STATEMENT_COLUMNS
}
REQUIRED = ("userid", "dbid", "queryid", "query", "calls", "total_exec_time_ms", "rows")


def column_mapping(available: Collection[str]) -> dict[str, str | None]:
    """For each warehouse column, the server column to read (None: this version does not have it).

    Raises ValueError naming what is missing if the view lacks a column every version has.
    """
    mapping = {
        target: next((c for c in candidates if c in available), None)
        for target, candidates in NORMALISED_SOURCES.items()
    }
    missing = [target for target in REQUIRED if mapping[target] is None]
    if missing:
        raise ValueError(f"pg_stat_statements lacks columns for {missing}; found {sorted(available)}")
    return mapping


def select_list(available: Collection[str], alias: str = "s") -> str:
    """The SELECT list reading pg_stat_statements into the warehouse's normalised shape."""
    parts = []
    for target, source in column_mapping(available).items():
        expression = f"{alias}.{source}" if source else "NULL"
        if target == "queryid" and source:
            expression = f"{alias}.queryid"
        parts.append(f"{expression} AS {target}")
    return ", ".join(parts)


_KEY = tuple(column for column in STATEMENT_KEY if column != "toplevel")
_NOT_SUMMED = frozenset({*_KEY, "toplevel", "query", "min_exec_time_ms", "max_exec_time_ms", "mean_exec_time_ms",
                         "stddev_exec_time_ms", "stats_since"})  # fmt: skip


def merge_levels(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (userid, dbid, queryid) where the view hides ``toplevel``.

    From PostgreSQL 14 the server keeps a top-level and a nested entry of a statement apart (with
    ``pg_stat_statements.track = all``); an extension older than 1.9 (not updated after an upgrade) shows both
    without the column that tells them apart. They are merged as one statement: counters summed, the
    extremes of min and max, mean and (population) standard deviation of the union.
    """
    if "toplevel" in frame and frame["toplevel"].notna().any():
        return frame
    key = [column for column in _KEY if column in frame]
    if not frame.duplicated(key).any():
        return frame
    calls = frame["calls"].astype("float64")
    mean = frame["mean_exec_time_ms"].astype("float64")
    spread = frame["stddev_exec_time_ms"].astype("float64")
    helpers = pd.DataFrame({"_weighted": calls * mean, "_squares": calls * (spread**2 + mean**2)}, index=frame.index)
    grouped = pd.concat([frame, helpers], axis=1).groupby(key, sort=False, dropna=False)
    counters = [c for c in frame.columns if c not in _NOT_SUMMED and pd.api.types.is_numeric_dtype(frame[c])]
    merged = grouped[[*counters, "_weighted", "_squares"]].sum(min_count=1)
    merged["min_exec_time_ms"] = grouped["min_exec_time_ms"].min()
    merged["max_exec_time_ms"] = grouped["max_exec_time_ms"].max()
    for column in frame.columns:  # the texts (query, user and database names) are the same in every entry
        if column not in merged and column not in key:
            merged[column] = grouped[column].first()
    merged["stats_since"] = grouped["stats_since"].min().astype(object).where(lambda since: since.notna(), None)
    total = merged["calls"].astype("float64").where(merged["calls"] > 0)
    merged["mean_exec_time_ms"] = merged.pop("_weighted") / total
    merged["stddev_exec_time_ms"] = ((merged.pop("_squares") / total) - merged["mean_exec_time_ms"] ** 2).clip(
        lower=0
    ) ** 0.5
    return merged.reset_index()[list(frame.columns)]
