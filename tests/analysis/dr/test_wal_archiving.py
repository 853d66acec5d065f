"""WAL archiving and the age of the last archived WAL, on hand-built pg_stat_archiver histories."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from support.dr_platform import (
    SERVER,
    T0,
    WAL_EVERY,
    archiver_history,
    build,
    check,
    dr_checks,
    frame,
)

from sre_lib.warehouse.store import Warehouse


def test_archiving_with_a_failure_after_the_last_success_fails_and_names_the_wal(tmp_path: Path) -> None:
    failing = archiver_history(T0 - timedelta(days=2), T0, failures=[(T0 - timedelta(minutes=40), T0 + timedelta(1))])
    result = check(tmp_path, "wal_archiving", pg_archiver=failing)
    assert result.status == "fail"
    last = failing.iloc[-1]
    assert result.evidence["last_failed_wal"] == last["last_failed_wal"]
    assert result.evidence["last_failed_time"] == T0 - timedelta(seconds=30)  # attempts at :30 each minute
    assert result.evidence["last_archived_time"] == T0 - timedelta(minutes=40, seconds=-2) - WAL_EVERY
    assert f"on WAL {last['last_failed_wal']}, failed at 2026-11-01 10:59 AEDT" in result.finding
    assert f"after the last success at 2026-11-01 10:15 AEDT (WAL {last['last_archived_wal']})" in result.finding
    assert "archive_command" in result.action


def test_archiving_mended_passes_once_the_failed_wal_is_archived_and_keeps_the_episode(tmp_path: Path) -> None:
    old = [(T0 - timedelta(days=3), T0 - timedelta(days=3) + timedelta(minutes=20))]
    passed = check(tmp_path, "wal_archiving", pg_archiver=archiver_history(T0 - timedelta(days=5), T0, failures=old))
    assert passed.status == "pass" and passed.headline == "WAL archiving healthy"
    assert "before the last success" in passed.finding
    recent = [(T0 - timedelta(hours=5), T0 - timedelta(hours=4, minutes=50))]  # attempts at :30 for 10 minutes
    history = archiver_history(T0 - timedelta(days=5), T0, every=timedelta(minutes=5), failures=recent)
    mended = check(tmp_path / "m", "wal_archiving", pg_archiver=history)
    assert mended.status == "pass" and mended.headline == "WAL archiving recovered"
    failed_wal = history.iloc[-1]["last_failed_wal"]
    episode = mended.evidence["recovered_failure"]
    assert episode["wal"] == failed_wal
    assert episode["last_success_before"] == T0 - timedelta(hours=5, minutes=5, seconds=-2)
    assert episode["last_failed_at"] == T0 - timedelta(hours=4, minutes=50, seconds=30)
    # the first snapshot after the mend (19:15 UTC) saw the backlog (19:10:01) and the next segment (19:10:02) out
    assert episode["archived_again_by"] == T0 - timedelta(hours=4, minutes=50, seconds=-2)
    assert mended.evidence["failures_in_window"] == 10
    assert (
        f"archiving recovered: WAL {failed_wal} could not be archived from 2026-11-01 05:55 AEDT (the last success "
        "before) until 2026-11-01 06:09 AEDT (the last failed attempt) and was archived by 2026-11-01 06:10 AEDT; "
        "10 attempts failed in the last 24 h" in mended.finding
    )
    # hourly snapshots saw no failing moment: the episode's start is unknown, the rest is told
    hourly = check(
        tmp_path / "h", "wal_archiving", pg_archiver=archiver_history(T0 - timedelta(days=5), T0, failures=recent)
    )
    assert hourly.status == "pass" and hourly.evidence["recovered_failure"]["last_success_before"] is None
    assert f"WAL {failed_wal} could not be archived until 2026-11-01 06:09 AEDT" in hourly.finding


def test_archiving_that_works_again_but_never_archived_the_failed_wal_warns(tmp_path: Path) -> None:
    rows = archiver_history(T0 - timedelta(days=1), T0)
    last = rows.index[-1]
    rows.loc[last, ["last_failed_wal", "failed_count"]] = ("00000002.history", 1)  # a newer timeline's history
    rows.loc[last, "last_failed_time"] = rows.loc[last, "last_archived_time"] - timedelta(minutes=1)
    result = check(tmp_path, "wal_archiving", pg_archiver=rows)
    assert result.status == "warn" and result.headline == "WAL archiving failed recently"
    assert "on WAL 00000002.history, which has not been archived since" in result.finding


def test_a_recovered_stall_longer_than_the_rpo_passes_archiving_and_warns_in_retention(tmp_path: Path) -> None:
    stall = [(T0 - timedelta(hours=6), T0 - timedelta(hours=4))]  # 2 h without archiving, mended since
    report = dr_checks(
        build(tmp_path, pg_archiver=archiver_history(T0 - timedelta(days=40), T0, every=timedelta(minutes=15),
                                                      failures=stall))
    )  # fmt: skip
    assert report["wal_archiving"].status == "pass"
    assert report["wal_age"].status == "pass"  # the last WAL is recent again
    assert report["retention"].status == "warn"
    assert "longer than the 1 h RPO" in report["retention"].finding


def test_archive_mode_off_fails(tmp_path: Path) -> None:
    result = check(
        tmp_path, "wal_archiving", pg_archiver=archiver_history(T0 - timedelta(days=1), T0, archive_mode="off")
    )
    assert result.status == "fail"
    assert result.headline == "WAL archiving is off"
    assert "archive_mode = on" in result.action


def test_nothing_ever_archived_fails(tmp_path: Path) -> None:
    never = frame(
        [{"server": SERVER, "taken_at": T0, "archive_mode": "on", "archived_count": 0, "failed_count": 0,
          "stats_reset": T0 - timedelta(days=1)}]
    )  # fmt: skip
    report = dr_checks(build(tmp_path, pg_archiver=never))
    assert report["wal_archiving"].status == "fail"
    assert "no WAL segment has been archived" in report["wal_archiving"].finding
    assert report["wal_age"].status == "fail"


def test_a_failed_history_file_of_an_older_timeline_is_ignored_as_barman_does(tmp_path: Path) -> None:
    rows = archiver_history(T0 - timedelta(days=1), T0)
    rows.loc[rows.index[-1], ["last_failed_wal", "last_failed_time", "failed_count"]] = (
        "00000001.history", T0 - timedelta(minutes=1), 1,
    )  # fmt: skip
    assert check(tmp_path, "wal_archiving", pg_archiver=rows).status == "pass"
    rows.loc[rows.index[-1], "last_failed_wal"] = "00000002.history"  # a newer timeline: a real failure
    assert check(tmp_path / "w", "wal_archiving", pg_archiver=rows).status == "fail"


def test_a_failure_at_the_same_time_as_the_last_success_is_not_failing(tmp_path: Path) -> None:
    rows = archiver_history(T0 - timedelta(days=1), T0)
    last = rows.index[-1]
    rows.loc[last, ["last_failed_wal", "failed_count"]] = ("00000001000003E0000000FF", 1)
    rows.loc[last, "last_failed_time"] = rows.loc[last, "last_archived_time"]
    result = check(tmp_path, "wal_archiving", pg_archiver=rows)
    assert result.status == "pass"  # barman: last_failed_time <= last_archived_time is archiving
    assert result.headline == "WAL archiving recovered"  # and the later WAL archived says the failed one went too


def test_no_archiver_snapshot_fails_and_a_stale_one_warns(tmp_path: Path, baseline: Warehouse) -> None:
    assert check(tmp_path, "wal_archiving", pg_archiver=None).status == "fail"
    stale = dr_checks(baseline, as_of=T0 + timedelta(hours=3))["wal_archiving"]
    assert stale.status == "warn"
    assert stale.evidence["snapshot_age_seconds"] == 3 * 3600
    assert "3 h older than 2026-11-01 14:00 AEDT" in stale.finding


# ---------------------------------------------------------------------------------------------- 2. WAL age vs RPO


def test_wal_age_passes_within_three_intervals_warns_beyond_and_fails_beyond_the_rpo(
    tmp_path: Path, baseline: Warehouse
) -> None:
    fresh = dr_checks(baseline)["wal_age"]
    assert fresh.status == "pass"
    assert fresh.evidence["age_seconds"] == 298.0
    assert fresh.evidence["age"] == "4 min 58 s"
    assert "archived at 2026-11-01 10:55 AEDT, 4 min 58 s before 2026-11-01 11:00 AEDT" in fresh.finding

    quiet = dr_checks(baseline, as_of=T0 + timedelta(minutes=16))["wal_age"]  # healthy, just nothing new
    assert quiet.status == "warn"
    assert quiet.evidence["age_seconds"] == 20 * 60 + 58
    assert quiet.evidence["quiet_server_suspected"] is True
    assert "archive_timeout unset (0)" in quiet.finding
    assert "archive_timeout = '5min'" in quiet.action

    failing = archiver_history(T0 - timedelta(days=1), T0, failures=[(T0 - timedelta(hours=2), T0 + timedelta(1))])
    late = check(tmp_path / "f", "wal_age", pg_archiver=failing)
    assert late.status == "fail"
    assert late.evidence["age"] == "2 h 05 min"
    assert late.evidence["quiet_server_suspected"] is False
    assert late.headline == "last WAL archived 2 h 05 min ago, beyond the RPO"


def test_wal_age_thresholds_are_strict(baseline: Warehouse) -> None:
    warehouse = baseline
    last = T0 - timedelta(minutes=4, seconds=58)
    assert dr_checks(warehouse, last + timedelta(minutes=15))["wal_age"].status == "pass"
    assert dr_checks(warehouse, last + timedelta(minutes=15, seconds=1))["wal_age"].status == "warn"
    assert dr_checks(warehouse, last + timedelta(hours=1))["wal_age"].status == "warn"
    assert dr_checks(warehouse, last + timedelta(hours=1, seconds=1))["wal_age"].status == "fail"
