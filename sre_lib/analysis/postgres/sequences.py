"""Sequences near their limit, as of the latest snapshot at or before ``end``: how much of its range each has
used, how long it lasts at its recent pace, and what lifts the limit (the sequence's own bound, a wider
type, or its owning column's type). A sequence the collector's role may not read is reported as unknown,
with the GRANT it needs.
"""

from __future__ import annotations

import re
from datetime import timedelta

import duckdb
import numpy as np
import pandas as pd

from sre_lib.analysis.postgres.index_definitions import quote_identifier
from sre_lib.analysis.postgres.snapshots import Instant, latest_rows, resolve_window
from sre_lib.warehouse.store import scalar

__all__ = [
    "SEQUENCE_MIN_RATIO",
    "SEQUENCE_PACE_DAYS",
    "sequences_near_limit",
]

#: Sequences: flag when last_value has used this share of the way to the sequence's limit.
SEQUENCE_MIN_RATIO = 0.90
#: ... and say how long it lasts at the pace of this many days before the snapshot.
SEQUENCE_PACE_DAYS = 30
_TYPE_MAX = {"smallint": 2**15 - 1, "integer": 2**31 - 1, "bigint": 2**63 - 1}


def sequences_near_limit(
    con: duckdb.DuckDBPyConnection,
    server: str | None = None,
    end: Instant | None = None,
    *,
    min_ratio: float = SEQUENCE_MIN_RATIO,
    monitor_role: str | None = None,
) -> pd.DataFrame:
    """Sequences at or above ``min_ratio`` of their limit, and sequences whose last_value is unknown, as of the
    latest snapshot <= end.

    ``used_ratio`` is the share of the sequence's range already used: (last_value - min_value) / (max_value -
    min_value) for an ascending sequence (increment_by > 0), (max_value - last_value) / (max_value - min_value)
    for a descending one. Where min_value was not collected (before schema version 2) it is last_value /
    max_value, or last_value over the type's minimum for a descending sequence. ``type_max`` is the data
    type's maximum. The ``action`` says what lifts the limit: widening the type, or the sequence's own
    MAXVALUE / MINVALUE when it is set inside the type's range. A sequence owned by a column (serial,
    identity, OWNED BY) of a narrower type runs out at the column's maximum (or minimum) first: a bigint
    sequence feeding an integer column fails at 2**31 - 1, so that is its limit, and the action widens the
    column. A NULL last_value means the collector's role may not read the sequence (or it was never used):
    ``status`` "unknown" and ``action`` the GRANT it needs (``monitor_role`` defaults to the role of the last
    PostgreSQL collection).
    """
    frame = latest_rows(con, "pg_sequences", resolve_window(con, server, None, end, "pg_sequences"))
    for column in ("owner_table", "owner_column", "column_type"):  # NULL in rows from before schema 4
        frame[column] = frame[column] if column in frame else pd.Series(None, index=frame.index, dtype="object")
    role = monitor_role or _collector_role(con) or "<monitor role>"
    data_type = frame["data_type"].astype("str").str.lower()
    type_max = data_type.map(_TYPE_MAX).astype("float64")
    last = frame["last_value"].astype("float64")
    descending = frame["increment_by"].fillna(1) < 0
    min_value = frame["min_value"] if "min_value" in frame else pd.Series(np.nan, index=frame.index)
    low, high = min_value.astype("float64"), frame["max_value"].astype("float64")
    column_type = frame["column_type"].astype("str").str.lower()
    column_max = column_type.map(_TYPE_MAX).astype("float64")  # NaN: not owned by a column (or not collected)
    column_bound = pd.Series(np.where(descending, low < -column_max - 1, high > column_max), index=frame.index)
    high = high.mask(column_bound & ~descending, column_max)  # the column's maximum comes first
    low = low.mask(column_bound & descending, -column_max - 1)
    limit = np.where(descending, low.fillna(-type_max - 1), high)
    span = (high - low).where(high > low)
    ranged = np.where(descending, (high - last) / span, (last - low) / span)
    legacy = last / limit
    frame["min_value"] = min_value
    frame["type_max"] = type_max
    frame["limit_value"] = limit
    frame["used_ratio"] = np.clip(np.where(low.notna(), ranged, legacy), 0.0, None)
    frame["remaining_values"] = np.abs(limit - last)
    frame = _sequence_pace(con, frame)
    unknown = frame["last_value"].isna()
    near = (frame["used_ratio"] >= min_ratio).fillna(False)
    frame["status"] = np.where(unknown, "unknown", "near limit")
    names = [
        f"{quote_identifier(s)}.{quote_identifier(q)}"
        for s, q in zip(frame["schemaname"], frame["sequencename"], strict=True)
    ]
    type_bound = np.where(descending, -type_max - 1, type_max)
    owners = zip(frame["owner_table"], frame["owner_column"], column_type, strict=True)
    actions = [
        _column_action(owner, name, role if is_unknown else None)
        if bound
        else _sequence_action(name, role, is_unknown, kind, is_down, at_type_bound)
        for name, is_unknown, kind, is_down, at_type_bound, bound, owner in zip(
            names, unknown, data_type, descending, limit == type_bound, column_bound, owners, strict=True
        )
    ]
    frame["action"] = pd.Series(actions, index=frame.index, dtype="object")  # text even with no sequence at all
    found = frame[unknown | near].rename(columns={"taken_at": "as_of"})
    columns = [
        "server",
        "as_of",
        "datname",
        "schemaname",
        "sequencename",
        "data_type",
        "owner_table",
        "owner_column",
        "column_type",
        "last_value",
        "increment_by",
        "min_value",
        "max_value",
        "limit_value",
        "type_max",
        "used_ratio",
        "remaining_values",
        "values_per_day",
        "days_left",
        "status",
        "action",
    ]
    found = found.sort_values(["used_ratio", "sequencename"], ascending=[False, True], na_position="last")
    return found[columns].reset_index(drop=True)


def _sequence_pace(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> pd.DataFrame:
    """``values_per_day`` each sequence moved over the SEQUENCE_PACE_DAYS before its snapshot, and
    ``days_left`` at that pace (NaN when it did not move, or without an earlier snapshot)."""
    if frame.empty:
        return frame.assign(values_per_day=pd.Series(dtype="float64"), days_left=pd.Series(dtype="float64"))
    as_of = pd.Timestamp(frame["taken_at"].max())
    earlier = con.execute(
        """
        SELECT datname, schemaname, sequencename, arg_min(last_value, taken_at) AS first_value,
               min(taken_at) AS first_at
        FROM pg_sequences
        WHERE server = ? AND taken_at >= ? AND taken_at < ? AND last_value IS NOT NULL
        GROUP BY ALL
        """,
        [str(frame["server"].iloc[0]), as_of - timedelta(days=SEQUENCE_PACE_DAYS), as_of],
    ).df()
    merged = frame.merge(earlier, on=["datname", "schemaname", "sequencename"], how="left")
    days = (
        pd.to_datetime(merged["taken_at"], utc=True) - pd.to_datetime(merged["first_at"], utc=True)
    ).dt.total_seconds() / 86_400
    moved = (merged["last_value"].astype("float64") - merged["first_value"].astype("float64")).abs()
    pace = (moved / days).where((days > 0) & (moved > 0))
    return merged.drop(columns=["first_value", "first_at"]).assign(
        values_per_day=pace, days_left=merged["remaining_values"] / pace
    )


def _sequence_action(name: str, role: str, unknown: bool, data_type: str, descending: bool, at_type_bound: bool) -> str:
    """What to do about one flagged sequence."""
    if unknown:
        return f"GRANT SELECT ON SEQUENCE {name} TO {role} (or it has never been used)"
    if not at_type_bound:
        bound = "MINVALUE (lower it)" if descending else "MAXVALUE (raise it)"
        return f"ALTER SEQUENCE {name} {bound}: its own limit, inside the {data_type} range, is near"
    if data_type != "bigint":
        return f"ALTER SEQUENCE {name} AS bigint (and its column to bigint) before it runs out"
    return f"{name} is near the end of bigint: plan a new key (a wider type does not exist)"


def _column_action(owner: tuple[str, str, str], name: str, role: str | None) -> str:
    """What to do about a sequence whose owning column's type runs out before the sequence does; with a
    ``role``, its last value is unknown: first see how far it is (widening a column rewrites the table)."""
    table, column, kind = owner
    if role is not None:
        where = f"{table}.{column}"
        return f"GRANT SELECT ON SEQUENCE {name} TO {role} to see how near its {kind} column {where} is to full"
    widen = f"ALTER TABLE {table} ALTER COLUMN {quote_identifier(column)} TYPE bigint"
    return f"its column {table}.{column} is {kind} and runs out first: {widen}"


def _collector_role(con: duckdb.DuckDBPyConnection) -> str | None:
    target = scalar(
        con,
        "SELECT target FROM collection_runs WHERE source = 'postgres' AND status = 'ok' "
        "ORDER BY started_at DESC LIMIT 1",
    )
    match = re.search(r"\(([^@()\s]+)@", target or "")
    return match.group(1) if match else None
