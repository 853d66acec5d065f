"""Prometheus alerting and recording rules generated from the platform config, with promtool unit tests."""

# A layer package: its modules are its API (import them by name); nothing is re-exported here.
__all__ = ["band_rules", "burn_rates", "rule_files", "rule_tests"]
