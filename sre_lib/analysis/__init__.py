"""Analyses: pure functions over frames or a read-only warehouse connection."""
