"""Rows and reads shared by the warehouse's tests (test_store, test_readers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from sre_lib.warehouse.store import Warehouse

START = datetime(2026, 1, 1, tzinfo=UTC)
END = START + timedelta(hours=2)


def sample_rows(sid: int, start: datetime = START, minutes: int = 120, offset: float = 0.0) -> pd.DataFrame:
    """``minutes`` samples of series ``sid`` from ``start``, one a minute, valued 0, 1, ... plus ``offset``."""
    ts = pd.date_range(start, periods=minutes, freq="1min")
    return pd.DataFrame({"series_id": sid, "ts": ts, "value": np.arange(minutes, dtype=float) + offset})


def backup_rows(backup_id: str, status: str = "ok") -> pd.DataFrame:
    """One row of the backups table: a full backup of server pg at START."""
    return pd.DataFrame(
        {
            "server": ["pg"],
            "backup_id": [backup_id],
            "kind": ["full"],
            "status": [status],
            "started_at": [pd.Timestamp(START)],
            "finished_at": [pd.Timestamp(START + timedelta(minutes=30))],
        }
    )


def load_two_hours(warehouse: Warehouse, sid: int) -> None:
    """A run writing series ``sid`` over [START, END] (120 samples) and backup b1."""
    with warehouse.write_run("test", window_start=START, window_end=END) as run:
        run.replace_samples(sample_rows(sid), START, END)
        run.replace_rows("backups", backup_rows("b1"))


def query_snapshot(warehouse: Warehouse, query: str) -> pd.DataFrame:
    """``query`` on a read snapshot, as a data frame."""
    con = warehouse.open_read_only()
    try:
        return con.execute(query).df()
    finally:
        con.close()
