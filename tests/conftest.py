"""Shared fixtures, and the CI rule: under CI=true a skipped test is a failed test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CI = os.environ.get("CI", "").lower() == "true"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped under CI=true, where every server and tool must be present: {reason}"


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default 90-day demo warehouse, built once per test session (read it, never write it)."""
    from sre_lib.demo.build import build_demo

    path = tmp_path_factory.mktemp("demo") / "warehouse.duckdb"
    build_demo(path)
    return path
