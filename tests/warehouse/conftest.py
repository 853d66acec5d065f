"""Fixtures of the warehouse's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from sre_lib.warehouse.store import Warehouse


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    """A new warehouse path in a temporary folder; writers give up on its lock after 0.5 s."""
    return Warehouse(tmp_path / "w.duckdb", lock_timeout=0.5)
