"""PostgreSQL analyses over the collected pg_stat_* snapshots."""
