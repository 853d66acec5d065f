"""The application: the sre command, scheduled jobs and the papermill report runner."""

# A layer: its modules are its API (import them by name); nothing is re-exported here.
__all__ = [
    "alerts_commands",
    "cli",
    "hub_commands",
    "jobs",
    "report_runner",
]
