"""The DuckDB warehouse: schema, transactional writes, read snapshots, sample queries."""
