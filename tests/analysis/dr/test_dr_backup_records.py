"""DR checks over backup records loaded from pgbackrest info and a backup log (the fixtures)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from support.dr_platform import (
    SERVER,
    SYDNEY,
    dr_checks,
)
from support.paths import FIXTURES

from sre_lib.collect.backup_records import load_backup_records
from sre_lib.warehouse.store import Warehouse


def test_backup_records_loaded_from_pgbackrest_and_the_log_are_judged(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    load_backup_records(
        warehouse, FIXTURES / "dr_pgbackrest_info.json", FIXTURES / "dr_backup_log.csv", server=SERVER, stanza="main"
    )
    as_of = datetime(2026, 10, 8, 12, 0, tzinfo=SYDNEY)
    report = dr_checks(warehouse, as_of)
    backups = report["full_backups"]
    # fulls on 2 and 4 Oct; 3 Oct had only a diff, 5 Oct's was flagged as errored; none after
    assert backups.evidence["last_backup_id"] == "20261004-030001F"
    assert backups.evidence["missed_dates"] == [date(2026, 10, d) for d in (3, 5, 6, 7, 8)]
    assert backups.evidence["failed_attempt_dates"] == [date(2026, 10, 5)]
    assert backups.status == "fail"
    assert report["offsite_copies"].evidence["age"] == "4 d 2 h"
    restore = report["restore_tests"]
    assert restore.status == "fail"  # the latest attempt failed
    assert restore.evidence["duration"] == "2 h 20 min"
