"""Index checks over the collected snapshots (PgHero's index checks, with history): indexes never scanned
in a window, indexes another one makes redundant, indexes left invalid, and tables where sequential scans
outnumber index scans (an index may be missing).

Windows and deltas follow ``sre_lib.analysis.postgres.snapshots``; point-in-time checks read the latest
snapshot at or before ``end``. Each check names its thresholds as keyword arguments whose defaults are the
module constants beside it.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from sre_lib.analysis.postgres.index_definitions import find_duplicate_indexes, quote_identifier
from sre_lib.analysis.postgres.snapshots import Instant, latest_rows, resolve_window
from sre_lib.analysis.postgres.table_activity import TABLE_KEY, activity_in, latest_with_deltas

__all__ = [
    "SEQ_SCAN_MIN_ROWS",
    "duplicate_indexes",
    "invalid_indexes",
    "seq_scan_tables",
    "unused_indexes",
]


def duplicate_indexes(
    con: duckdb.DuckDBPyConnection, server: str | None = None, end: Instant | None = None
) -> pd.DataFrame:
    """Redundant indexes as of the latest snapshot <= end (see ``find_duplicate_indexes``), largest first."""
    latest = latest_rows(con, "pg_indexes", resolve_window(con, server, None, end, "pg_indexes"))
    found = find_duplicate_indexes(latest)
    found = found.sort_values(["index_bytes", "indexrelname"], ascending=[False, True], kind="stable")
    return found.reset_index(drop=True)


def invalid_indexes(
    con: duckdb.DuckDBPyConnection, server: str | None = None, end: Instant | None = None
) -> pd.DataFrame:
    """Indexes marked invalid (a failed CREATE INDEX CONCURRENTLY, REINDEX CONCURRENTLY) at the latest snapshot
    <= end: they cost writes and disk but serve no query. ``action``: drop, then create again."""
    latest = latest_rows(con, "pg_indexes", resolve_window(con, server, None, end, "pg_indexes"))
    invalid = latest[latest["is_valid"].fillna(True) == False].copy()  # noqa: E712 - nullable booleans
    invalid["action"] = [
        f"DROP INDEX CONCURRENTLY {quote_identifier(s)}.{quote_identifier(i)}; then create it again"
        for s, i in zip(invalid["schemaname"], invalid["indexrelname"], strict=True)
    ]
    columns = ["server", "taken_at", "datname", "schemaname", "relname", "indexrelname", "index_bytes", "indexdef"]
    return invalid[[*columns, "action"]].rename(columns={"taken_at": "as_of"}).reset_index(drop=True)


def unused_indexes(
    con: duckdb.DuckDBPyConnection, server: str | None = None, start: Instant | None = None, end: Instant | None = None
) -> pd.DataFrame:
    """Indexes with no scan over the window (idx_scan delta 0 across at least one observed interval), neither
    unique nor primary (they enforce constraints) nor invalid (see ``invalid_indexes``), with their size at
    the latest snapshot <= end. ``observed_since``: the start of the first interval the index was seen in.
    Largest first."""
    frame = latest_with_deltas(
        con,
        "pg_indexes",
        ("datname", "schemaname", "indexrelname"),
        ("idx_scan", "idx_tup_read", "idx_tup_fetch"),
        ("relname", "index_bytes", "indexdef", "is_unique", "is_primary", "is_valid"),
        resolve_window(con, server, start, end, "pg_indexes"),
    )
    unused = frame[
        (frame["intervals"] > 0)
        & (frame["idx_scan"].fillna(0) == 0)
        & ~frame["is_unique"].fillna(False).astype(bool)
        & ~frame["is_primary"].fillna(False).astype(bool)
        & frame["is_valid"].fillna(True).astype(bool)
    ]
    columns = [
        "server",
        "as_of",
        "datname",
        "schemaname",
        "relname",
        "indexrelname",
        "index_bytes",
        "idx_scan",
        "intervals",
        "observed_since",
        "indexdef",
    ]
    unused = unused.sort_values(["index_bytes", "indexrelname"], ascending=[False, True], kind="stable")
    return unused[columns].reset_index(drop=True)


#: Sequential scans dominate a table with at least this many live rows when seq_scan > idx_scan over the window.
SEQ_SCAN_MIN_ROWS = 10_000


def seq_scan_tables(
    con: duckdb.DuckDBPyConnection,
    server: str | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    *,
    min_rows: int = SEQ_SCAN_MIN_ROWS,
) -> pd.DataFrame:
    """Tables with >= ``min_rows`` live rows where sequential scans outnumber index scans over the window
    (deltas of seq_scan and idx_scan; a table without indexes has idx_scan 0). Most rows read first."""
    frame = activity_in(con, resolve_window(con, server, start, end, "pg_tables"))
    frame["idx_scan"] = frame["idx_scan"].fillna(0)
    frame["seq_scan"] = frame["seq_scan"].fillna(0)
    hits = frame[(frame["intervals"] > 0) & (frame["seq_scan"] > frame["idx_scan"]) & (frame["n_live_tup"] >= min_rows)]
    hits = hits.assign(seq_scan_share=hits["seq_scan"] / (hits["seq_scan"] + hits["idx_scan"]))
    columns = ["server", "as_of", *TABLE_KEY, "n_live_tup", "seq_scan", "idx_scan", "seq_scan_share", "seq_tup_read"]
    hits = hits.sort_values(["seq_tup_read", "relname"], ascending=[False, True], kind="stable")
    return hits[columns].reset_index(drop=True)
