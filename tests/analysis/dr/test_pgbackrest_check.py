"""The live pgbackrest check: passes when the latest passed within a day; fails when it failed or is older;
"not configured" when none was ever recorded, which never colours the verdict."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from support.dr_platform import T0, check, pgbackrest_checks

from sre_lib.analysis.dr import NOT_CONFIGURED, PASS, worst
from sre_lib.analysis.dr.pgbackrest_check import PGBACKREST_CHECK_MAX_AGE
from sre_lib.warehouse.store import Warehouse


def test_a_recent_passing_check_passes(baseline: Warehouse) -> None:
    from support.dr_platform import dr_checks

    result = dr_checks(baseline)["pgbackrest_check"]
    assert result.status == "pass"
    assert result.evidence["age_seconds"] == 3600
    assert "stanza main" in result.finding and result.evidence["failed_in_last_day"] == 0


def test_a_failed_check_fails_with_its_reason(tmp_path: Path) -> None:
    result = check(tmp_path, "pgbackrest_check", pgbackrest_checks=pgbackrest_checks((timedelta(minutes=5), "failed")))
    assert result.status == "fail"
    assert result.headline == "pgbackrest check failed"
    assert "WAL segment 0000000100000407000000FE was not archived" in result.finding


def test_a_pass_after_a_failure_passes_and_counts_the_failure(tmp_path: Path) -> None:
    history = pgbackrest_checks((timedelta(hours=2), "failed"), (timedelta(hours=1), "ok"))
    result = check(tmp_path, "pgbackrest_check", pgbackrest_checks=history)
    assert result.status == "pass"
    assert result.evidence["failed_in_last_day"] == 1 and "1 failed check(s)" in result.finding


def test_a_check_older_than_a_day_fails(tmp_path: Path) -> None:
    old = PGBACKREST_CHECK_MAX_AGE + timedelta(minutes=1)
    result = check(tmp_path, "pgbackrest_check", pgbackrest_checks=pgbackrest_checks((old, "ok")))
    assert result.status == "fail"
    assert result.evidence["age_seconds"] > PGBACKREST_CHECK_MAX_AGE.total_seconds()
    just_in_time = pgbackrest_checks((PGBACKREST_CHECK_MAX_AGE, "ok"))
    assert check(tmp_path / "edge", "pgbackrest_check", pgbackrest_checks=just_in_time).status == "pass"


def test_a_check_after_as_of_is_not_seen(tmp_path: Path) -> None:
    later = pgbackrest_checks((-timedelta(minutes=5), "failed"), (timedelta(hours=1), "ok"))
    assert check(tmp_path, "pgbackrest_check", as_of=T0, pgbackrest_checks=later).status == "pass"


def test_no_check_recorded_is_not_configured_and_never_colours_the_verdict(tmp_path: Path) -> None:
    result = check(tmp_path, "pgbackrest_check", pgbackrest_checks=None)
    assert result.status == NOT_CONFIGURED
    assert "[sources.pgbackrest]" in result.action
    assert worst([PASS, NOT_CONFIGURED]) == PASS
