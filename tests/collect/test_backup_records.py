"""Backup records from pgBackRest's JSON and the backup log (CSV): parsed exactly, loaded idempotently, and a
malformed file names its line or field, writes nothing and is logged as a failed run."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from support.paths import FIXTURES

from sre_lib.collect.backup_records import (
    LOG_COLUMNS,
    load_backup_records,
    parse_backup_log,
    parse_pgbackrest_info,
)
from sre_lib.errors import CollectionError, DataError
from sre_lib.warehouse.store import Warehouse

INFO_JSON = FIXTURES / "dr_pgbackrest_info.json"
LOG_CSV = FIXTURES / "dr_backup_log.csv"
SYDNEY = ZoneInfo("Australia/Sydney")
HEADER = ",".join(LOG_COLUMNS)


def syd(*args: int) -> datetime:
    return datetime(*args, tzinfo=SYDNEY).astimezone(UTC)


def table(warehouse: Warehouse, sql: str) -> list[tuple]:
    with contextlib.closing(warehouse.open_read_only()) as con:
        return con.execute(sql).fetchall()


def everything(warehouse: Warehouse) -> dict[str, list[tuple]]:
    return {
        name: table(warehouse, f"SELECT * FROM {name} ORDER BY ALL")
        for name in ("backups", "offsite_copies", "restore_tests")
    }


# ---------------------------------------------------------------------------------------------- pgBackRest


def test_pgbackrest_backups_become_rows_with_exact_times_kinds_sizes_and_wal() -> None:
    frame, notes = parse_pgbackrest_info(INFO_JSON.read_text(), str(INFO_JSON), "postgresql", stanza="main")
    assert notes == []
    rows = {r.backup_id: r for r in frame.itertuples()}
    assert list(rows) == [
        "20261002-030002F",
        "20261002-030002F_20261003-030001D",
        "20261002-030002F_20261003-030001D_20261003-150002I",
        "20261004-030001F",
        "20261005-030003F",
    ]
    first = rows["20261002-030002F"]
    assert (first.kind, first.status, first.origin, first.server) == ("full", "ok", "pgbackrest", "postgresql")
    assert first.started_at == syd(2026, 10, 2, 3, 0, 2)  # 1790874002 epoch seconds
    assert first.finished_at == syd(2026, 10, 2, 3, 25, 14)
    assert first.size_bytes == 1714422785  # info.repository.delta
    assert (first.wal_start, first.wal_stop) == ("00000001000003E6000000A0", "00000001000003E6000000A5")
    assert rows["20261002-030002F_20261003-030001D"].kind == "diff"
    assert rows["20261002-030002F_20261003-030001D"].size_bytes == 48811520
    assert rows["20261002-030002F_20261003-030001D_20261003-150002I"].kind == "incr"
    # the first backup after Sydney's DST change: 03:00:01 AEDT is 16:00:01 UTC the day before
    assert rows["20261004-030001F"].started_at == datetime(2026, 10, 3, 16, 0, 1, tzinfo=UTC)
    # "error": true (pgBackRest >= 2.36) cannot be trusted for recovery
    assert rows["20261005-030003F"].status == "failed"
    assert {r.status for r in frame.itertuples() if r.backup_id != "20261005-030003F"} == {"ok"}


def test_a_stanza_must_be_chosen_when_several_and_none_is_named_like_the_server() -> None:
    with pytest.raises(DataError, match=r"stanzas 'main', 'reporting', none named 'postgresql': pass stanza="):
        parse_pgbackrest_info(INFO_JSON.read_text(), "info.json", "postgresql")
    frame, _ = parse_pgbackrest_info(INFO_JSON.read_text(), "info.json", "main")  # named like the server
    assert len(frame) == 5
    with pytest.raises(DataError, match=r"no stanza 'nope'; the file holds stanzas 'main', 'reporting'"):
        parse_pgbackrest_info(INFO_JSON.read_text(), "info.json", "postgresql", stanza="nope")


def test_a_stanza_without_valid_backups_is_reported_in_the_notes(tmp_path: Path) -> None:
    summary = load_backup_records(Warehouse(tmp_path / "w.duckdb"), INFO_JSON, server="reports", stanza="reporting")
    assert summary.rows_by_table == {"backups": 0}
    assert summary.notes == ("pgBackRest stanza 'reporting': status 2 (no valid backups)",)


def test_an_older_pgbackrest_without_the_error_flag_or_sizes_is_accepted() -> None:
    stanza = json.loads(INFO_JSON.read_text())[0]
    for backup in stanza["backup"]:
        del backup["error"], backup["info"]
    frame, _ = parse_pgbackrest_info(json.dumps([stanza]), "old.json", "postgresql")
    assert set(frame["status"]) == {"ok"}
    assert frame["size_bytes"].isna().all()


def _broken(tmp_path: Path, edit) -> Path:
    doc = json.loads(INFO_JSON.read_text())
    edit(doc)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc, indent=2))
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d[0]["backup"][1]["timestamp"].update(stop="2026-10-03 03:05"),
            r"broken\.json: \[0\]\.backup\[1\] \(20261002-030002F_20261003-030001D\)\.timestamp\.stop: expected a time "
            r"in epoch seconds \(a number before the year 9999\), got '2026-10-03 03:05'",
        ),
        (
            lambda d: d[0]["backup"][1]["timestamp"].update(stop=1e30),
            r"\(20261002-030002F_20261003-030001D\)\.timestamp\.stop: expected a time in epoch seconds \(a number "
            r"before the year 9999\), got 1e\+30",
        ),
        (
            lambda d: d[0]["backup"][0].update(type="snapshot"),
            r"\[0\]\.backup\[0\] \(20261002-030002F\)\.type: expected one of full, diff, incr, got 'snapshot'",
        ),
        (
            lambda d: d[0]["backup"][3]["timestamp"].update(start=1791044746),
            r"\[0\]\.backup\[3\] \(20261004-030001F\)\.timestamp: expected stop >= start",
        ),
        (
            lambda d: d[0]["backup"][2].pop("label"),
            r"\[0\]\.backup\[2\]\.label: expected a non-empty string, got None",
        ),
        (
            lambda d: d[0]["backup"][0]["info"]["repository"].update(delta=-5),
            r"info\.repository\.delta: expected a size in bytes \(a non-negative integer\), got -5",
        ),
        (lambda d: d[0].update(backup={"label": "x"}), r"\[0\]\.backup: expected a list of backups, got an object"),
        (lambda d: d[0]["backup"][4].update(error="yes"), r"\.error: expected true or false, got 'yes'"),
    ],
)
def test_a_malformed_pgbackrest_file_names_the_field(tmp_path: Path, edit, message: str) -> None:
    path = _broken(tmp_path, edit)
    with pytest.raises(DataError, match=message):
        parse_pgbackrest_info(path.read_text(), str(path), "postgresql", stanza="main")


def test_a_malformed_pgbackrest_file_writes_nothing_and_is_logged_as_failed(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    load_backup_records(warehouse, INFO_JSON, LOG_CSV, server="postgresql", stanza="main")
    before = everything(warehouse)
    broken = _broken(tmp_path, lambda d: d[0]["backup"][1]["timestamp"].update(stop="2026-10-03 03:05"))
    with pytest.raises(DataError, match=r"broken\.json: .*timestamp\.stop"):
        load_backup_records(warehouse, broken, LOG_CSV, server="postgresql", stanza="main")
    assert everything(warehouse) == before
    runs = table(warehouse, "SELECT status, rows_written, error FROM collection_runs ORDER BY started_at")
    assert [r[:2] for r in runs] == [("ok", 10), ("failed", 0)]
    assert "broken.json" in runs[-1][2] and "timestamp.stop" in runs[-1][2]


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "info.json"
    path.write_text('[\n  {"name": "main",\n   "backup": [}\n]\n')
    with pytest.raises(
        DataError, match=r"info\.json: line 3 column 15: not valid JSON .*pgbackrest info --output=json"
    ):
        load_backup_records(Warehouse(tmp_path / "w.duckdb"), path, server="postgresql")
    path.write_text('{"name": "main"}')
    with pytest.raises(DataError, match=r"expected a JSON list of stanzas .*, got an object"):
        load_backup_records(Warehouse(tmp_path / "w.duckdb"), path, server="postgresql")


# ---------------------------------------------------------------------------------------------- the backup log


def test_the_log_becomes_offsite_copies_and_restore_tests() -> None:
    frames = parse_backup_log(LOG_CSV.read_text(), str(LOG_CSV), server="postgresql")
    offsite = frames["offsite_copies"].sort_values("copied_at").reset_index(drop=True)
    assert list(offsite["copied_at"]) == [
        syd(2026, 10, 2, 6, 58, 41),
        datetime(2026, 10, 3, 20, 14, 9, tzinfo=UTC),
        syd(2026, 10, 4, 9, 31, 27),
    ]
    assert list(offsite["status"]) == ["ok", "failed", "ok"]
    assert set(offsite["server"]) == {"postgresql"}  # the empty server column takes the argument
    assert set(offsite["destination"]) == {"s3://ch-dr-syd2/pgbackrest"}
    assert set(offsite["origin"]) == {"log"}
    restores = frames["restore_tests"].sort_values("started_at").reset_index(drop=True)
    assert list(restores["started_at"]) == [syd(2026, 10, 6, 10, 0), syd(2026, 10, 7, 10, 0)]
    assert list(restores["finished_at"] - restores["started_at"]) == [
        pd.Timedelta(hours=2, minutes=20),
        pd.Timedelta(minutes=42, seconds=10),
    ]
    assert list(restores["status"]) == ["ok", "failed"]
    assert restores.at[0, "notes"] == "row counts checked, app smoke test ok; restored to scratch-droplet-1"
    assert restores.at[1, "notes"] == "pgbackrest restore: missing WAL 00000001000003EC000000A3"
    assert list(restores["backup_id"]) == ["20261002-030002F", "20261004-030001F"]


def test_loading_twice_leaves_the_same_rows(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    first = load_backup_records(warehouse, INFO_JSON, LOG_CSV, server="postgresql", stanza="main")
    assert first.rows_by_table == {"backups": 5, "offsite_copies": 3, "restore_tests": 2}
    once = everything(warehouse)
    second = load_backup_records(warehouse, INFO_JSON, LOG_CSV, server="postgresql", stanza="main")
    assert second.total_rows == 10
    assert everything(warehouse) == once
    runs = table(warehouse, "SELECT source, target, status FROM collection_runs")
    assert runs == [("backups", f"pgbackrest {INFO_JSON}, log {LOG_CSV}", "ok")] * 2


def _log(tmp_path: Path, *lines: str, header: str = HEADER) -> Path:
    path = tmp_path / "log.csv"
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


GOOD_OFFSITE = "offsite,postgresql,b1,,2026-10-04T09:31:27+11:00,ok,s3://dr,"
GOOD_RESTORE = "restore_test,postgresql,b1,2026-10-06T10:00:00+11:00,2026-10-06T12:00:00+11:00,ok,,"


@pytest.mark.parametrize(
    ("lines", "header", "message"),
    [
        ((GOOD_OFFSITE,), "kind,server,backup_id,started_at,finished,status,destination,notes",
         r"log\.csv: line 1: header: expected the columns kind,server,.* \(missing finished_at; unknown 'finished'\)"),
        ((GOOD_OFFSITE, "offsite,postgresql,b1,,2026-10-05T09:31:27+11:00,ok,s3://dr"), HEADER,
         r"log\.csv: line 3: expected 8 fields \(kind,server,backup_id,started_at,finished_at,status,destination,notes"
         r"\), got 7"),
        ((GOOD_OFFSITE, "restore_test,postgresql,b1,2026-10-06 10:00,2026-10-06T12:00:00+11:00,ok,,"), HEADER,
         r"line 3: started_at: expected a time with a UTC offset \(e\.g\. 2026-10-06 10:00\+11:00 or "
         r"2026-10-06 10:00Z\), got '2026-10-06 10:00'; or load with timezone="),
        (("restore_test,postgresql,b1,06/10/2026 10:00,2026-10-06T12:00:00+11:00,ok,,",), HEADER,
         r"line 2: started_at: expected an ISO 8601 time such as 2026-10-04T10:00:00\+11:00, got '06/10/2026 10:00'"),
        (("restore,postgresql,b1,,2026-10-06T12:00:00+11:00,ok,,",), HEADER,
         r"line 2: kind: expected one of offsite, restore_test, got 'restore'"),
        (("offsite,postgresql,b1,,2026-10-06T12:00:00+11:00,done,s3://dr,",), HEADER,
         r"line 2: status: expected one of ok, failed, got 'done'"),
        (("offsite,postgresql,b1,,2026-10-06T12:00:00+11:00,ok,,",), HEADER,
         r"line 2: destination: expected where the off-site copy went"),
        (("restore_test,postgresql,b1,,2026-10-06T12:00:00+11:00,ok,,",), HEADER,
         r"line 2: started_at: expected when the restore test began"),
        (("restore_test,postgresql,b1,2026-10-06T13:00:00+11:00,2026-10-06T12:00:00+11:00,ok,,",), HEADER,
         r"line 2: finished_at 2026-10-06T12:00:00\+11:00 is before started_at 2026-10-06T13:00:00\+11:00"),
        ((GOOD_RESTORE, "# a comment", GOOD_RESTORE.replace("12:00:00", "12:30:00")), HEADER,
         r"line 4: the same restore_test as line 2 \(same server and started_at\); expected each once"),
        ((), "", r"log\.csv: empty; expected a header line kind,server,"),
    ],
)  # fmt: skip
def test_a_malformed_log_names_the_line_and_what_was_expected(
    tmp_path: Path, lines: tuple[str, ...], header: str, message: str
) -> None:
    path = _log(tmp_path, *lines, header=header)
    with pytest.raises(DataError, match=message):
        parse_backup_log(path.read_text(), str(path), server="postgresql")


def test_a_malformed_log_writes_nothing_and_is_logged_as_failed(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    load_backup_records(warehouse, log=LOG_CSV, server="postgresql")
    before = everything(warehouse)
    broken = _log(tmp_path, GOOD_OFFSITE, "offsite,postgresql,b1,,2026-10-05T09:31:27+11:00,ok,s3://dr")
    with pytest.raises(DataError, match=r"log\.csv: line 3: expected 8 fields"):
        load_backup_records(warehouse, log=broken, server="postgresql")
    assert everything(warehouse) == before
    runs = table(warehouse, "SELECT status, error FROM collection_runs ORDER BY started_at")
    assert [r[0] for r in runs] == ["ok", "failed"]
    assert "log.csv: line 3" in runs[-1][1]


def test_a_pgbackrest_file_and_a_broken_log_load_nothing_at_all(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    broken = _log(tmp_path, "offsite,postgresql,b1,,yesterday,ok,s3://dr,")
    with pytest.raises(DataError, match="finished_at"):
        load_backup_records(warehouse, INFO_JSON, broken, server="postgresql", stanza="main")
    assert everything(warehouse) == {"backups": [], "offsite_copies": [], "restore_tests": []}


def test_local_times_are_read_in_the_given_zone_across_the_dst_change(tmp_path: Path) -> None:
    path = _log(
        tmp_path,
        "offsite,,b1,,2026-10-03T06:30:00,ok,s3://dr,",  # AEST, UTC+10
        "offsite,,b2,,2026-10-04T06:30:00,ok,s3://dr,",  # AEDT, UTC+11 (clocks went forward at 02:00)
    )
    frames = parse_backup_log(path.read_text(), "log.csv", server="postgresql", timezone="Australia/Sydney")
    assert list(frames["offsite_copies"]["copied_at"]) == [
        datetime(2026, 10, 2, 20, 30, tzinfo=UTC),
        datetime(2026, 10, 3, 19, 30, tzinfo=UTC),
    ]
    gap = _log(tmp_path, "offsite,,b1,,2026-10-04T02:30:00,ok,s3://dr,")
    with pytest.raises(DataError, match=r"line 2: finished_at: 2026-10-04T02:30:00 does not exist in Australia/Sydney"):
        parse_backup_log(gap.read_text(), "log.csv", server="postgresql", timezone="Australia/Sydney")


def test_a_row_without_server_needs_the_server_argument() -> None:
    with pytest.raises(DataError, match=r"line 2: server: expected a server name"):
        parse_backup_log(f"{HEADER}\noffsite,,b1,,2026-10-04T09:31:27+11:00,ok,s3://dr,\n", "log.csv")


def test_a_missing_file_is_a_collection_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(CollectionError, match=r"nope\.json: pgbackrest info --output=json output not found"):
        load_backup_records(Warehouse(tmp_path / "w.duckdb"), tmp_path / "nope.json", server="postgresql")
    with pytest.raises(DataError, match="nothing to load"):
        load_backup_records(Warehouse(tmp_path / "w.duckdb"), server="postgresql")
