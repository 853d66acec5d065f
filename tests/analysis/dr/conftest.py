"""The healthy DR platform, built once per module: tests that only move ``as_of`` read it."""

from __future__ import annotations

import pytest
from support.dr_platform import build

from sre_lib.warehouse.store import Warehouse


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """The healthy platform of ``support.dr_platform``, built once: tests that only move ``as_of`` read it."""
    return build(tmp_path_factory.mktemp("baseline"))
