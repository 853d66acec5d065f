"""Synthetic PostgreSQL statistics: what a collector would have read from the Community Hub database.

Every 15 minutes: pg_snapshots, pg_stat_statements, pg_activity, pg_long_sessions, pg_archiver.
Every hour: pg_tables, pg_indexes, pg_databases, pg_sequences. pg_replication(_slots): no rows, no replica.

The scenario (statements, tables, indexes and the scripted findings) is in ``postgres_scenario``; the frames
come from ``postgres_statements``, ``postgres_sessions``, ``postgres_wal`` and ``postgres_tables``.

Counters are cumulative, as collected. The server is PostgreSQL 17 (pg_stat_statements 1.11), so every column
the warehouse normalises is filled, stats_since included: analyses use it (with stats_reset) to see that an
entry's counters restarted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sre_lib.demo.postgres_scenario import (
    ARCHIVE_FAILURE_DAY,
    AUDIT_INSERT_QUERY,
    NEW_SLOW_QUERY,
    NEW_STATEMENT_DAY,
    REGRESSION_DAY,
    REGRESSION_QUERY,
    RESET_DAY,
    XSS_QUERY,
)
from sre_lib.demo.postgres_sessions import activity_frames
from sre_lib.demo.postgres_statements import snapshots_frame, statements_frame
from sre_lib.demo.postgres_tables import table_frames
from sre_lib.demo.postgres_wal import archiver_frame, wal_names, wal_segment_at
from sre_lib.demo.spec import DemoSpec
from sre_lib.demo.timeline import daily_load, local_instants, seconds_since_start, snapshot_times

# Names other modules and tests import from here, kept after the split into scenario and generators.
__all__ = [
    "ARCHIVE_FAILURE_DAY",
    "AUDIT_INSERT_QUERY",
    "NEW_SLOW_QUERY",
    "NEW_STATEMENT_DAY",
    "REGRESSION_DAY",
    "REGRESSION_QUERY",
    "RESET_DAY",
    "XSS_QUERY",
    "daily_load",
    "local_instants",
    "postgres_frames",
    "seconds_since_start",
    "snapshot_times",
    "wal_names",
    "wal_segment_at",
]

_SEED_OFFSET = 101


_EMPTY_REPLICATION = {
    "server": "str",
    "taken_at": "datetime64[us, UTC]",
    "application_name": "str",
    "client_addr": "str",
    "state": "str",
    "sync_state": "str",
    "sent_lsn": "str",
    "replay_lsn": "str",
    "replay_lag_bytes": "int64",
    "write_lag_seconds": "float64",
    "flush_lag_seconds": "float64",
    "replay_lag_seconds": "float64",
}
_EMPTY_SLOTS = {
    "server": "str",
    "taken_at": "datetime64[us, UTC]",
    "slot_name": "str",
    "slot_type": "str",
    "active": "bool",
    "retained_bytes": "int64",
}

_COLUMN_ORDER = {
    "pg_tables": ["server", "taken_at", "datname", "schemaname", "relname"],
    "pg_indexes": ["server", "taken_at", "datname", "schemaname", "relname", "indexrelname"],
    "pg_databases": ["server", "taken_at", "datname"],
    "pg_sequences": ["server", "taken_at", "datname", "schemaname", "sequencename"],
}


def postgres_frames(spec: DemoSpec, connections: pd.Series | None = None) -> dict[str, pd.DataFrame]:
    """Every PostgreSQL table of the warehouse for the demo span, keyed by table name. ``connections``: the
    db_connections metric (% of max_connections) indexed by time, which the sessions then follow."""
    rng = np.random.default_rng(spec.seed + _SEED_OFFSET)
    fast = snapshot_times(spec, spec.pg_snapshot_every)
    hourly = snapshot_times(spec, spec.table_snapshot_every)
    frames = {
        "pg_snapshots": snapshots_frame(spec, fast),
        "pg_stat_statements": statements_frame(spec, fast, rng),
    }
    frames["pg_activity"], frames["pg_long_sessions"] = activity_frames(spec, fast, rng, connections)
    frames["pg_archiver"] = archiver_frame(spec, fast)
    backends = frames["pg_activity"].groupby("taken_at")["sessions"].sum().reindex(hourly, method="nearest")
    for name, frame in table_frames(spec, hourly, rng, backends.to_numpy()).items():
        lead = _COLUMN_ORDER[name]
        frames[name] = frame[lead + [c for c in frame.columns if c not in lead]]
    frames["pg_replication"] = pd.DataFrame({c: pd.Series(dtype=d) for c, d in _EMPTY_REPLICATION.items()})
    frames["pg_replication_slots"] = pd.DataFrame({c: pd.Series(dtype=d) for c, d in _EMPTY_SLOTS.items()})
    return frames
