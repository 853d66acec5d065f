"""The DuckDB warehouse: schema, transactional writes, read snapshots, sample queries.

``store`` writes (write runs, the lock, migrations), ``readers`` reads (snapshots and their checks), ``schema``
holds the DDL, natural keys and series ids, ``series`` the sample queries. Import these names from here.
"""

from sre_lib.warehouse.readers import DEFAULT_READ_WAIT_SECONDS, KEEP_SNAPSHOTS, SnapshotReader
from sre_lib.warehouse.schema import (
    SCHEMA_VERSION,
    canonical_labels,
    scalar,
    schema_sql,
    series_id,
    table_columns,
    table_keys,
)
from sre_lib.warehouse.series import Coverage, list_series, read_samples, sample_coverage, sample_query
from sre_lib.warehouse.store import (
    DEFAULT_LOCK_TIMEOUT_SECONDS,
    DEFAULT_WAREHOUSE_PATH,
    WAREHOUSE_ENV_VAR,
    Warehouse,
    WriteRun,
    open_read_only,
    resolve_warehouse_path,
)

__all__ = [
    "DEFAULT_LOCK_TIMEOUT_SECONDS",
    "DEFAULT_READ_WAIT_SECONDS",
    "DEFAULT_WAREHOUSE_PATH",
    "KEEP_SNAPSHOTS",
    "SCHEMA_VERSION",
    "WAREHOUSE_ENV_VAR",
    "Coverage",
    "SnapshotReader",
    "Warehouse",
    "WriteRun",
    "canonical_labels",
    "list_series",
    "open_read_only",
    "read_samples",
    "resolve_warehouse_path",
    "sample_coverage",
    "sample_query",
    "scalar",
    "schema_sql",
    "series_id",
    "table_columns",
    "table_keys",
]
