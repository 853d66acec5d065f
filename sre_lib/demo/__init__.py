"""The demo platform: a deterministic synthetic Community Hub, written like the collectors write."""

# A layer: its modules are its API (import them by name); nothing is re-exported here.
__all__ = [
    "backup_history",
    "build",
    "metric_history",
    "postgres_counters",
    "postgres_history",
    "postgres_scenario",
    "postgres_sessions",
    "postgres_statements",
    "postgres_tables",
    "postgres_wal",
    "redis_history",
    "spec",
    "timeline",
]
