"""Off-site copies: the age of the last successful copy against the weekly interval."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from support.dr_platform import (
    SYDNEY,
    T0,
    check,
    dr_checks,
    offsite,
)

from sre_lib.warehouse.store import Warehouse


@pytest.mark.parametrize(
    ("age", "status", "text"),
    [
        (timedelta(days=3), "pass", "3 d"),
        (timedelta(days=8), "pass", "8 d"),
        (timedelta(days=8, hours=12), "warn", "8 d 12 h"),
        (timedelta(days=14), "warn", "14 d"),
        (timedelta(days=14, seconds=1), "fail", "14 d"),
    ],
)
def test_offsite_copy_age_against_the_weekly_interval(
    baseline: Warehouse, age: timedelta, status: str, text: str
) -> None:
    copied = T0 - timedelta(days=3)  # the baseline's last copy, 29 Oct 11:00 AEDT
    result = dr_checks(baseline, as_of=copied + age)["offsite_copies"]
    assert result.status == status
    assert result.evidence["age_seconds"] == age.total_seconds()
    assert result.evidence["age"] == text
    as_of = f"{(copied + age).astimezone(SYDNEY):%Y-%m-%d %H:%M %Z}"
    assert f"at 2026-10-29 11:00 AEDT, {text} before {as_of}" in result.finding


def test_no_offsite_copy_fails_and_failed_copies_do_not_count(tmp_path: Path) -> None:
    assert check(tmp_path, "offsite_copies", offsite_copies=None).status == "fail"
    copies = pd.concat([offsite(timedelta(days=9)), offsite(timedelta(days=2), status="failed")])
    result = check(tmp_path / "f", "offsite_copies", offsite_copies=copies)
    assert result.status == "warn"
    assert result.evidence["failed_since"] == 1
    assert "1 failed attempt(s) since" in result.finding
