"""Collectors: the only writers of the warehouse, one source per module."""
