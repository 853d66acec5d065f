"""The demo platform: a deterministic synthetic Community Hub, written like the collectors write."""

# A layer: its modules are its API (import them by name); nothing is re-exported here.
__all__ = [
    "backup_history",
    "build",
    "metric_history",
    "postgres_history",
    "redis_history",
    "spec",
]
