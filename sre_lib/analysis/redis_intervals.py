"""Redis INFO snapshots as intervals: what the server did between two snapshots, across restarts and resets.

INFO's counters (keyspace hits and misses, evicted and expired keys, rejected connections, commands, new
connections) count from the server's start or its last ``CONFIG RESETSTAT``. A plain difference of two
snapshots is wrong, even negative, when either happened in between. A restart shows as a new ``run_id``
(or, in rows without one, an uptime shorter than the time since the last snapshot allows); a reset as a
counter going down with the same process. Across either, what the later snapshot counts happened inside the
interval: it is the interval's figure (a lower bound: what came before the restart or reset is lost).
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import numpy as np
import pandas as pd

#: INFO counter column -> its name in an interval row.
COUNTERS = {
    "keyspace_hits": "hits",
    "keyspace_misses": "misses",
    "evicted_keys": "evicted_keys",
    "expired_keys": "expired_keys",
    "rejected_connections": "rejected_connections",
    "total_commands_processed": "commands",
    "total_connections_received": "connections",
}
_SNAPSHOT_COLUMNS = ("server", "taken_at", "run_id", "uptime_in_seconds", "used_memory", "maxmemory", *COUNTERS)

UPTIME_SLACK_SECONDS = 2.0

INTERVAL_COLUMNS = (
    "server", "start", "end", "seconds", "restarted", "counters_reset", *COUNTERS.values(), "hit_ratio",
    "commands_per_second", "used_memory", "maxmemory", "memory_used_pct",
)  # fmt: skip


def info_intervals(info: pd.DataFrame) -> pd.DataFrame:
    """One row per server and pair of consecutive snapshots (``INTERVAL_COLUMNS``), from redis_info rows.

    ``restarted``: a new run_id, or (rows without one) an uptime shorter than the last plus the interval.
    ``counters_reset``: restarted, or a counter went down (CONFIG RESETSTAT); the interval's counts are then
    the later snapshot's own. No count is negative.
    A counter unknown in either snapshot (collected by an older version) is NaN. ``hit_ratio`` is hits over
    lookups (NaN without lookups); ``used_memory``, ``maxmemory`` and ``memory_used_pct`` are the later
    snapshot's (NaN percent when maxmemory is 0, no limit).
    """
    missing = [column for column in ("server", "taken_at", *COUNTERS) if column not in info.columns]
    if missing:
        raise ValueError(f"redis_info rows lack columns {missing}")
    if info.empty:
        return pd.DataFrame(columns=list(INTERVAL_COLUMNS))
    frame = info.reindex(columns=list(_SNAPSHOT_COLUMNS)).sort_values(["server", "taken_at"], kind="stable")
    frame = frame.drop_duplicates(["server", "taken_at"], keep="last").reset_index(drop=True)
    before = frame.groupby("server", sort=False).shift(1)
    paired = before["taken_at"].notna().to_numpy()
    later, earlier = frame[paired].reset_index(drop=True), before[paired].reset_index(drop=True)

    counters_after = later[list(COUNTERS)].astype("float64")
    counters_before = earlier[list(COUNTERS)].astype("float64")
    seconds = (later["taken_at"] - earlier["taken_at"]).dt.total_seconds().to_numpy()
    new_process = later["run_id"].notna() & earlier["run_id"].notna() & (later["run_id"] != earlier["run_id"])
    # the same process has been up for as long as before plus the interval; a new one started inside it
    # (uptime is whole seconds, read a moment apart from the snapshot's time: a little slack)
    uptime_short = later["uptime_in_seconds"].astype("float64") + UPTIME_SLACK_SECONDS < (
        earlier["uptime_in_seconds"].astype("float64") + seconds
    )
    restarted = (new_process | uptime_short).to_numpy()
    went_down = (counters_after < counters_before).any(axis=1).to_numpy()
    started_again = restarted | went_down
    deltas = np.where(started_again[:, None], counters_after, counters_after - counters_before)

    result = pd.DataFrame(
        {
            "server": later["server"],
            "start": earlier["taken_at"],
            "end": later["taken_at"],
            "seconds": seconds,
            "restarted": restarted,
            "counters_reset": started_again,
        }
    )
    for position, name in enumerate(COUNTERS.values()):
        result[name] = deltas[:, position]
    lookups = result["hits"] + result["misses"]
    result["hit_ratio"] = (result["hits"] / lookups).where(lookups > 0)
    result["commands_per_second"] = result["commands"] / seconds
    result["used_memory"] = later["used_memory"].astype("float64")
    result["maxmemory"] = later["maxmemory"].astype("float64")
    limit = result["maxmemory"].where(result["maxmemory"] > 0)
    result["memory_used_pct"] = 100.0 * result["used_memory"] / limit
    return result[list(INTERVAL_COLUMNS)]


def read_info_intervals(
    con: duckdb.DuckDBPyConnection,
    server: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> pd.DataFrame:
    """``info_intervals`` of the warehouse's redis_info rows, of one server or all, between start and end."""
    conditions, parameters = [], []
    for condition, value in (("server = ?", server), ("taken_at >= ?", start), ("taken_at <= ?", end)):
        if value is not None:
            conditions.append(condition)
            parameters.append(value)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    columns = ", ".join(_SNAPSHOT_COLUMNS)
    rows = con.execute(f"SELECT {columns} FROM redis_info {where} ORDER BY server, taken_at", parameters).df()
    return info_intervals(rows)
