"""Analyses: pure functions over frames or a read-only warehouse connection."""

# A layer: its modules are its API (import them by name); nothing is re-exported here.
__all__ = [
    "alerts",
    "dr",
    "forecast",
    "health",
    "postgres",
    "predict_linear",
    "queueing",
    "redis_intervals",
    "scaling",
    "signals",
    "thresholds",
]
