"""Cache hit ratios over a window: per database (pg_stat_database, and its tables' heap and index blocks) and
per table, the share of block accesses shared buffers served. Deltas follow
``sre_lib.analysis.postgres.snapshots``.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from sre_lib.analysis.postgres.snapshots import Instant, resolve_window, window_deltas_sql
from sre_lib.analysis.postgres.table_activity import TABLE_KEY, activity_in

__all__ = [
    "CACHE_HIT_MIN_RATIO",
    "CACHE_MIN_BLOCKS",
    "cache_hit_ratios",
    "tables_low_cache_hit",
]

#: Cache hit ratio: flag below this share of block accesses served from shared buffers ...
CACHE_HIT_MIN_RATIO = 0.99
#: ... for a table whose heap (or indexes) saw at least this many block accesses over the window.
CACHE_MIN_BLOCKS = 1_000


def _ratio(hit: pd.Series, read: pd.Series) -> pd.Series:
    total = hit.fillna(0) + read.fillna(0)
    return (hit.fillna(0) / total.where(total > 0)).astype("float64")


def cache_hit_ratios(
    con: duckdb.DuckDBPyConnection,
    server: str | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    min_ratio: float = CACHE_HIT_MIN_RATIO,
) -> pd.DataFrame:
    """Per database, over the window: ``hit_ratio`` of all its block accesses (pg_stat_database), and of its
    tables' heap and index blocks (pg_statio_user_tables deltas summed, for the databases whose tables are
    collected). ``below`` when any of the three is under ``min_ratio``."""
    window = resolve_window(con, server, start, end, "pg_databases")
    sql, params = window_deltas_sql(
        "pg_databases", ("datname",), ("blks_hit", "blks_read"), window.server, window.start, window.end
    )
    databases = con.execute(sql, params).df()[["datname", "blks_hit", "blks_read"]]
    tables = activity_in(con, resolve_window(con, window.server, start, end, "pg_tables"))  # it must have tables
    statio = tables.groupby("datname", as_index=False)[
        ["heap_blks_hit", "heap_blks_read", "idx_blks_hit", "idx_blks_read"]
    ]
    frame = databases.merge(statio.sum(min_count=1), on="datname", how="outer")
    frame["hit_ratio"] = _ratio(frame["blks_hit"], frame["blks_read"])
    frame["heap_hit_ratio"] = _ratio(frame["heap_blks_hit"], frame["heap_blks_read"])
    frame["index_hit_ratio"] = _ratio(frame["idx_blks_hit"], frame["idx_blks_read"])
    frame["below"] = (frame[["hit_ratio", "heap_hit_ratio", "index_hit_ratio"]] < min_ratio).any(axis=1)
    frame.insert(0, "server", window.server)
    return frame.sort_values("datname").reset_index(drop=True)


def tables_low_cache_hit(
    con: duckdb.DuckDBPyConnection,
    server: str | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    min_ratio: float = CACHE_HIT_MIN_RATIO,
    min_blocks: int = CACHE_MIN_BLOCKS,
) -> pd.DataFrame:
    """Tables whose heap or index cache hit ratio over the window is under ``min_ratio``, counting only a part
    (heap, indexes) with at least ``min_blocks`` block accesses. Most blocks read first."""
    frame = activity_in(con, resolve_window(con, server, start, end, "pg_tables"))
    frame["heap_hit_ratio"] = _ratio(frame["heap_blks_hit"], frame["heap_blks_read"])
    frame["index_hit_ratio"] = _ratio(frame["idx_blks_hit"], frame["idx_blks_read"])
    heap_blocks = frame["heap_blks_hit"].fillna(0) + frame["heap_blks_read"].fillna(0)
    index_blocks = frame["idx_blks_hit"].fillna(0) + frame["idx_blks_read"].fillna(0)
    low = ((heap_blocks >= min_blocks) & (frame["heap_hit_ratio"] < min_ratio)) | (
        (index_blocks >= min_blocks) & (frame["index_hit_ratio"] < min_ratio)
    )
    columns = [
        "server",
        "as_of",
        *TABLE_KEY,
        "heap_blks_hit",
        "heap_blks_read",
        "heap_hit_ratio",
        "idx_blks_hit",
        "idx_blks_read",
        "index_hit_ratio",
    ]
    found = frame[low.fillna(False)]
    found = found.assign(_read=found["heap_blks_read"].fillna(0) + found["idx_blks_read"].fillna(0))
    return found.sort_values("_read", ascending=False, kind="stable")[columns].reset_index(drop=True)
