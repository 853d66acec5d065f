"""Reading metric series out of the warehouse, for every analysis that works on samples."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb
import pandas as pd

SAMPLE_COLUMNS = ["series_id", "component", "instance", "metric", "ts", "value"]


def sample_query(
    metrics: Sequence[str] | None = None,
    components: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> tuple[str, list[object]]:
    """SQL (and its parameters) selecting samples joined with their series identity, filtered as asked.

    Returned as SQL so analyses can aggregate inside DuckDB instead of pulling every sample into pandas.
    """
    where, params = [], []
    if metrics is not None:
        where.append("s.metric IN (SELECT unnest(?))")
        params.append(list(metrics))
    if components is not None:
        where.append("s.component IN (SELECT unnest(?))")
        params.append(list(components))
    if start is not None:
        where.append("m.ts >= ?")
        params.append(start)
    if end is not None:
        where.append("m.ts <= ?")
        params.append(end)
    sql = (
        "SELECT m.series_id, s.component, s.instance, s.metric, m.ts, m.value "
        "FROM metric_samples m JOIN metric_series s USING (series_id)"
    )
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql, params


def read_samples(
    con: duckdb.DuckDBPyConnection,
    metrics: Sequence[str] | None = None,
    components: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> pd.DataFrame:
    """Samples with their series identity, ordered by series and time: columns ``SAMPLE_COLUMNS``."""
    sql, params = sample_query(metrics, components, start, end)
    return con.execute(sql + " ORDER BY m.series_id, m.ts", params).df()


def list_series(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every series with its span and sample count."""
    return con.execute(
        "SELECT s.series_id, s.component, s.instance, s.metric, s.source, count(m.ts) AS samples, "
        "min(m.ts) AS first_ts, max(m.ts) AS last_ts "
        "FROM metric_series s LEFT JOIN metric_samples m USING (series_id) "
        "GROUP BY ALL ORDER BY s.component, s.instance, s.metric"
    ).df()
