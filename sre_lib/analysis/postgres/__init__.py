"""PostgreSQL analyses over the collected pg_stat_* snapshots."""

# A layer: its modules are its API (import them by name); nothing is re-exported here.
__all__ = [
    "maintenance",
    "queries",
    "snapshots",
    "statement_deltas",
]
