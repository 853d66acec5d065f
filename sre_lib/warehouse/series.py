"""Reading metric series out of the warehouse, for every analysis that works on samples."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb
import pandas as pd

from sre_lib.errors import DataError

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


@dataclass(frozen=True)
class Coverage:
    """Where series have samples: ``spans`` (one row per series) and ``gaps`` (one row per hole)."""

    spans: pd.DataFrame
    gaps: pd.DataFrame


def sample_coverage(
    con: duckdb.DuckDBPyConnection,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    metrics: Sequence[str] | None = None,
    components: Sequence[str] | None = None,
    min_missing: int = 1,
) -> Coverage:
    """Each series' span in [start, end] and the holes inside it of at least ``min_missing`` samples in a row.

    Why: an unscraped server or a restart leaves a hole, a new server begins late and a removed one ends early;
    analyses treat these as gaps, and reports name them. A series' step is its most common interval between
    samples; an interval of ``k`` steps is ``k - 1`` missing samples.

    ``spans``: series_id, component, instance, metric, samples, first_ts, last_ts, step (NaT with one sample).
    ``gaps``: series_id, component, instance, metric, step, missing, first_missing (the first instant without
    a sample), resumed (the next sample); ordered by series and time.
    """
    if isinstance(min_missing, bool) or not isinstance(min_missing, int) or min_missing < 1:
        raise DataError(f"min_missing: expected a whole number of samples >= 1, got {min_missing!r}")
    sql, params = sample_query(metrics, components, start, end)
    # integer microseconds: interval arithmetic over a million rows is several times slower in DuckDB
    query = f"""
        WITH samples AS ({sql}),
        intervals AS MATERIALIZED (
            SELECT series_id, epoch_us(ts) AS t, t - lag(t) OVER (PARTITION BY series_id ORDER BY ts) AS d
            FROM samples
        ),
        spans AS (
            SELECT series_id, count(*) AS samples, min(t) AS first_us, max(t) AS last_us, mode(d) AS step_us
            FROM intervals GROUP BY ALL
        ),
        holes AS (
            SELECT series_id, list({{'first_us': t - d + step_us, 'resumed_us': t,
                                     'missing': CAST(round(d / step_us) AS BIGINT) - 1}} ORDER BY t) AS holes
            FROM intervals JOIN spans USING (series_id)
            WHERE step_us > 0 AND d >= 1.5 * step_us AND round(d / step_us) - 1 >= ?
            GROUP BY ALL
        )
        SELECT series_id, s.component, s.instance, s.metric, spans.* EXCLUDE (series_id), holes.holes
        FROM spans JOIN metric_series s USING (series_id) LEFT JOIN holes USING (series_id)
        ORDER BY s.component, s.instance, s.metric, series_id
    """
    found = con.execute(query, [*params, min_missing]).df()
    identity = ["series_id", "component", "instance", "metric"]
    spans = found[[*identity, "samples"]].assign(
        samples=found["samples"].astype("int64"),
        first_ts=_instants(found["first_us"]),
        last_ts=_instants(found["last_us"]),
        step=pd.to_timedelta(found["step_us"], unit="us"),
    )
    holes = found.loc[found["holes"].notna(), [*identity, "step_us", "holes"]].explode("holes").reset_index(drop=True)
    parts = pd.DataFrame(holes["holes"].tolist(), columns=["first_us", "resumed_us", "missing"])
    gaps = holes[identity].assign(
        step=pd.to_timedelta(holes["step_us"].astype("float64"), unit="us"),
        missing=parts["missing"].astype("int64"),
        first_missing=_instants(parts["first_us"]),
        resumed=_instants(parts["resumed_us"]),
    )
    return Coverage(spans=spans.reset_index(drop=True), gaps=gaps)


def _instants(microseconds: pd.Series) -> pd.Series:
    """UTC instants from microseconds since the epoch (missing stays NaT)."""
    return pd.to_datetime(microseconds.astype("float64"), unit="us", utc=True)
