"""PostgreSQL analyses over the collected pg_stat_* snapshots."""

# A layer: its modules are its API (import them by name); nothing is re-exported here.
__all__ = [
    "cache_hits",
    "change_points",
    "connections",
    "growth",
    "index_advice",
    "index_definitions",
    "indexes",
    "maintenance",
    "queries",
    "regressions",
    "sequences",
    "snapshots",
    "statement_deltas",
    "statement_windows",
    "table_activity",
]
