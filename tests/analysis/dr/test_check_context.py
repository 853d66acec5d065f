"""The moment a DR check judges: the latest record by default; nothing known yet is a DataError."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from pathlib import Path

import pytest
from support.dr_platform import (
    CONFIG,
    T0,
    dr_checks,
)

from sre_lib.errors import DataError
from sre_lib.warehouse.store import Warehouse


def test_an_empty_warehouse_is_a_data_error_not_a_report(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "empty.duckdb")
    warehouse.ensure_created()
    with pytest.raises(DataError, match="no PostgreSQL snapshot and no backup record for server 'postgresql'"):
        dr_checks(warehouse, as_of=None)


def test_an_as_of_before_any_record_is_a_data_error_naming_where_records_start(baseline: Warehouse) -> None:
    """Not a red report that says 'take a full backup now' about a time nothing was known of."""
    with contextlib.closing(baseline.open_read_only()) as con:
        first = con.execute("SELECT min(finished_at) FROM backups").fetchall()[0][0]
    before = first - timedelta(days=1)
    with pytest.raises(DataError, match=r"no PostgreSQL snapshot or backup record of server 'postgresql' at or "
                                        r"before .* \(as_of\): its records start 20") as raised:  # fmt: skip
        dr_checks(baseline, as_of=before)
    assert f"{first.astimezone(CONFIG.tz):%Y-%m-%d %H:%M}" in str(raised.value)
    assert {result.status for result in dr_checks(baseline, as_of=T0).values()} == {"pass"}
