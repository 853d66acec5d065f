"""``sre collect backups`` against a real PostgreSQL 15 archiving through a real pgBackRest.

One server and repository for the module (a full backup of a fresh cluster takes a few seconds): no backup
yet is the plain case; a full backup is loaded, once however often it is collected; a broken archive_command
is a recorded failed check (and a failed DR check), mended it passes again; no pgBackRest, an unreadable
repository or no configuration are one line, exit 1, and the warehouse's rows unchanged.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.paths import PROJECT_ROOT
from support.pgbackrest_servers import PgBackRestCluster, pgbackrest_cluster

from sre_lib.analysis.dr import check_context
from sre_lib.analysis.dr.pgbackrest_check import check_pgbackrest
from sre_lib.app.cli import main
from sre_lib.config import load_config
from sre_lib.warehouse.store import Warehouse

SERVER = "postgresql"  # [sources.postgres].server of the shipped config


@pytest.fixture(scope="module")
def cluster() -> Iterator[PgBackRestCluster]:
    with pgbackrest_cluster() as running:
        yield running


def write_config(folder: Path, **settings: object) -> Path:
    """The shipped platform config with a ``[sources.pgbackrest]`` section of ``settings``."""
    lines = [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    path = folder / "platform.toml"
    shipped = (PROJECT_ROOT / "data" / "platform.toml").read_text(encoding="utf-8")
    path.write_text(shipped + "\n[sources.pgbackrest]\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def collect(config: Path, warehouse: Path, *extra: str) -> int:
    return main(["collect", "backups", "--config", str(config), "--warehouse", str(warehouse), *extra])


def rows(warehouse: Path, sql: str) -> list[tuple]:
    with contextlib.closing(Warehouse(warehouse).open_read_only()) as con:
        return con.execute(sql).fetchall()


def test_no_backup_yet_then_a_full_backup_loaded_once(
    cluster: PgBackRestCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, warehouse = write_config(tmp_path, **cluster.source_settings()), tmp_path / "w.duckdb"
    info = json.loads(cluster.pgbackrest("info", "--output=json").stdout)
    already = [b["label"] for b in info[0]["backup"]]
    assert collect(config, warehouse) == 0
    out = capsys.readouterr().out
    assert f"stanza 'main' of {SERVER}: {len(already)} backups" in out and "pgbackrest check ok" in out
    if not already:  # the plain case of a new platform: nothing to load, and the check passes
        assert rows(warehouse, "SELECT count(*) FROM backups") == [(0,)]
    cluster.backup("full")
    labels = [b["label"] for b in json.loads(cluster.pgbackrest("info", "--output=json").stdout)[0]["backup"]]
    for _ in range(2):  # collecting again adds no backup twice
        assert collect(config, warehouse) == 0
    loaded = rows(warehouse, "SELECT backup_id, kind, status, origin, size_bytes > 0, wal_start FROM backups")
    assert sorted(row[0] for row in loaded) == sorted(labels) and len(labels) == len(already) + 1
    newest = next(row for row in loaded if row[0] == labels[-1])
    assert newest[1:5] == ("full", "ok", "pgbackrest", True) and len(newest[5]) == 24  # a WAL segment name
    checks = rows(warehouse, "SELECT status, reason FROM pgbackrest_checks ORDER BY checked_at")
    assert checks == [("ok", None)] * 3
    result = _dr_check(config, warehouse)
    assert result.status == "pass" and result.evidence["stanza"] == "main"


def test_broken_archiving_is_a_recorded_failed_check_and_fails_the_dr_check(
    cluster: PgBackRestCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, warehouse = write_config(tmp_path, **cluster.source_settings()), tmp_path / "w.duckdb"
    cluster.break_archiving()
    try:
        assert collect(config, warehouse) == 0  # a failed check is a result, not a failed collection
    finally:
        cluster.mend_archiving()
    out = capsys.readouterr().out
    assert "pgbackrest check FAILED:" in out
    ((status, reason),) = rows(warehouse, "SELECT status, reason FROM pgbackrest_checks")
    assert status == "failed"
    assert "WAL segment" in reason and "archived" in reason and "\n" not in reason
    result = _dr_check(config, warehouse)
    assert result.status == "fail" and reason in result.finding
    assert collect(config, warehouse) == 0  # mended: the next check passes, and so does the DR check
    assert rows(warehouse, "SELECT status FROM pgbackrest_checks ORDER BY checked_at") == [("failed",), ("ok",)]
    assert _dr_check(config, warehouse).status == "pass"


def test_a_check_with_no_answer_in_time_is_recorded_as_failed(
    cluster: PgBackRestCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With archiving broken, pgbackrest check waits for the WAL; past the time limit it is stopped."""
    settings = cluster.source_settings() | {"timeout_seconds": 1.0}
    config, warehouse = write_config(tmp_path, **settings), tmp_path / "w.duckdb"
    cluster.break_archiving()
    try:
        assert collect(config, warehouse) == 0
    finally:
        cluster.mend_archiving()
    assert rows(warehouse, "SELECT status, reason FROM pgbackrest_checks") == [
        ("failed", "no answer within 1 s (timed out, stopped)")
    ]
    assert "timed out" in capsys.readouterr().out


def _dr_check(config: Path, warehouse: Path):
    with contextlib.closing(Warehouse(warehouse).open_read_only()) as con:
        return check_pgbackrest(check_context(con, load_config(config)))


def _failed_cleanly(config: Path, warehouse: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    """Collect into a warehouse holding one backup; expect exit 1, one line, and the rows unchanged."""
    before = rows(warehouse, "SELECT * FROM backups UNION ALL BY NAME SELECT * FROM pgbackrest_checks")
    capsys.readouterr()
    assert collect(config, warehouse, *extra) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sre: error: "), captured.err
    assert rows(warehouse, "SELECT * FROM backups UNION ALL BY NAME SELECT * FROM pgbackrest_checks") == before
    ((status,),) = rows(warehouse, "SELECT status FROM collection_runs ORDER BY started_at DESC LIMIT 1")
    assert status == "failed"
    return lines[0]


@pytest.fixture
def loaded(cluster: PgBackRestCluster, tmp_path: Path) -> Path:
    """A warehouse that already holds this stanza's backups and a check."""
    warehouse = tmp_path / "loaded.duckdb"
    if not json.loads(cluster.pgbackrest("info", "--output=json").stdout)[0]["backup"]:
        cluster.backup("full")
    assert collect(write_config(tmp_path, **cluster.source_settings()), warehouse) == 0
    return warehouse


def test_no_pgbackrest_binary_is_one_line_and_changes_nothing(
    cluster: PgBackRestCluster, loaded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-dir" / "pgbackrest"
    config = write_config(tmp_path, stanza="main", binary=str(missing))
    line = _failed_cleanly(config, loaded, capsys)
    assert line == (
        f"sre: error: {missing}: not found on PATH: install pgBackRest (Debian: apt-get install pgbackrest) "
        "or set [sources.pgbackrest] binary"
    )


def test_a_repository_without_the_stanza_is_one_line_and_changes_nothing(
    cluster: PgBackRestCluster, loaded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, **cluster.source_settings())
    line = _failed_cleanly(config, loaded, capsys, "--stanza", "elsewhere")
    assert "pgbackrest stanza 'elsewhere': the repository cannot be read: missing stanza path" in line
    assert str(cluster.config_path) in line


def test_not_configured_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shipped = PROJECT_ROOT / "data" / "platform.toml"
    assert main(["collect", "backups", "--config", str(shipped), "--warehouse", str(tmp_path / "w.duckdb")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("sre: error: ") and "[sources.pgbackrest] is not configured" in err
    assert "\n" not in err


def test_the_shipped_job_collects_where_configured_and_nothing_elsewhere(
    cluster: PgBackRestCluster, tmp_path: Path
) -> None:
    from sre_lib.app.jobs import DEFAULT_JOBS_DIR, load_jobs, run_job
    from sre_lib.collect.pgbackrest_collect import NOT_CONFIGURED_MESSAGE

    job = load_jobs(DEFAULT_JOBS_DIR)["collect-backups"].model_copy(update={"out": str(tmp_path / "reports")})
    assert job.collect == "backups"
    warehouse = tmp_path / "w.duckdb"
    shipped = PROJECT_ROOT / "data" / "platform.toml"  # no [sources.pgbackrest]: the job succeeds, collecting nothing
    assert str(run_job(job, shipped, warehouse)) == f"collect-backups: ok: {NOT_CONFIGURED_MESSAGE}"
    outcome = run_job(job, write_config(tmp_path, **cluster.source_settings()), warehouse)
    assert outcome.status == "ok" and "pgbackrest check ok" in outcome.detail
    assert rows(warehouse, "SELECT status FROM pgbackrest_checks") == [("ok",)]  # the first run recorded none
