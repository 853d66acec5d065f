"""Collectors: the only writers of the warehouse, one source per module."""

# A layer: its modules are its API (import them by name); nothing is re-exported here.
__all__ = [
    "backup_records",
    "by_source",
    "hypopg_advice",
    "pgbackrest_collect",
    "pgbackrest_command",
    "pgss_columns",
    "postgres_snapshot",
    "prometheus",
    "prometheus_deadline",
    "prometheus_decode",
    "prometheus_fetch",
    "prometheus_target",
    "prometheus_window",
    "prometheus_write",
    "redis_info",
]
