"""What a report says: the capacity, slow-queries and DR reviews, display blocks and charts."""

# A layer: its modules are its API (import them by name); nothing is re-exported here.
__all__ = [
    "blocks",
    "capacity",
    "charts",
    "dr_readiness",
    "dr_tables",
    "slow_queries",
    "slow_query_tables",
]
