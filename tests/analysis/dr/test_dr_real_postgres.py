"""DR checks against a real PostgreSQL 15: archiving into a local folder, then failing to; a WAL
receiver and a logical subscriber that are no failover replica."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
import time as clock
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.dr_platform import (
    CONFIG,
    dr_checks,
)

from sre_lib.warehouse.store import Warehouse


def _archive_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="sre-wal-archive-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(path, user.pw_uid, user.pw_gid)
    return path


def _wait_for(pg, column: str, above: int, timeout: float = 20.0) -> int:
    deadline = clock.monotonic() + timeout
    while True:
        value = pg.execute(f"SELECT {column} FROM pg_stat_archiver")[0][0]
        if value > above:
            return value
        if clock.monotonic() > deadline:
            raise AssertionError(f"pg_stat_archiver.{column} stayed at {value} for {timeout} s")
        clock.sleep(0.1)


@pytest.fixture(scope="module")
def archiving_pg() -> Iterator[tuple[object, Path]]:
    from support.servers import postgres_server

    archive = _archive_dir()
    conf = {"wal_level": "replica", "archive_mode": "on", "archive_command": f"'cp %p {archive}/%f'"}
    try:
        with postgres_server(extra_conf=conf) as pg:
            pg.execute("CREATE ROLE monitor LOGIN PASSWORD 'Fake-Secret-Pw-4711' IN ROLE pg_monitor")
            yield pg, archive
    finally:
        shutil.rmtree(archive, ignore_errors=True)


def _env(pg) -> dict[str, str]:
    return {"PGHOST": "127.0.0.1", "PGPORT": str(pg.port), "PGUSER": "monitor", "PGDATABASE": "postgres",
            "PGPASSWORD": "Fake-Secret-Pw-4711"}  # fmt: skip


@pytest.mark.servers
def test_real_postgres_archiving_passes_then_fails_with_the_reason(archiving_pg, tmp_path: Path) -> None:
    from sre_lib.collect.postgres_snapshot import collect_postgres

    pg, archive = archiving_pg
    warehouse = Warehouse(tmp_path / "w.duckdb")

    # archive_command copies into a local folder: write, switch WAL, wait for the archiver
    archived = pg.execute("SELECT archived_count FROM pg_stat_archiver")[0][0]
    pg.execute("CREATE TABLE orders AS SELECT g AS id, md5(g::text) AS note FROM generate_series(1, 5000) g")
    switched = pg.execute("SELECT pg_walfile_name(pg_switch_wal())")[0][0]
    _wait_for(pg, "archived_count", archived)
    assert (archive / switched).exists()
    collect_postgres(warehouse, CONFIG, env=_env(pg))
    report = dr_checks(warehouse, as_of=None)
    assert report["wal_archiving"].status == "pass", report["wal_archiving"]
    assert report["wal_archiving"].evidence["last_archived_wal"] == switched
    assert report["wal_archiving"].evidence["failed_count"] == 0
    assert report["wal_age"].status == "pass"

    # then a failing archive_command
    pg.reconfigure(archive_command="false")
    failed = pg.execute("SELECT failed_count FROM pg_stat_archiver")[0][0]
    pg.execute("INSERT INTO orders SELECT g, 'more' FROM generate_series(1, 5000) g")
    failing = pg.execute("SELECT pg_walfile_name(pg_switch_wal())")[0][0]
    _wait_for(pg, "failed_count", failed)
    collect_postgres(warehouse, CONFIG, env=_env(pg))
    truth = pg.execute("SELECT last_failed_wal, last_failed_time, last_archived_wal FROM pg_stat_archiver")[0]
    result = dr_checks(warehouse, as_of=None)["wal_archiving"]
    assert result.status == "fail"
    assert result.evidence["last_failed_wal"] == failing == truth[0]
    assert result.evidence["last_failed_time"] <= truth[1]
    assert result.evidence["last_archived_wal"] == switched == truth[2]
    assert f"on WAL {failing}, failed at " in result.finding
    assert "after the last success at" in result.finding and switched in result.finding
    assert result.headline == f"WAL archiving is failing (WAL {failing})"
    assert not (archive / failing).exists()


@pytest.mark.servers
def test_real_pg_receivewal_is_seen_as_a_wal_stream_not_a_replica(archiving_pg, tmp_path: Path) -> None:
    import subprocess

    from support.servers import PG_BIN, require

    from sre_lib.collect.postgres_snapshot import collect_postgres

    pg, _ = archiving_pg
    pg.execute("SELECT pg_create_physical_replication_slot('idle_slot')")  # reserves no WAL until used
    target = tmp_path / "wal"
    target.mkdir()
    log = tmp_path / "pg_receivewal.log"
    with open(log, "w") as output:
        receiver = subprocess.Popen(
            [require(PG_BIN / "pg_receivewal"), "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres", "-D",
             str(target), "--no-loop", "-s", "1"],
            stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = clock.monotonic() + 30
        while not pg.execute("SELECT 1 FROM pg_stat_replication WHERE application_name = 'pg_receivewal'"):
            assert receiver.poll() is None and clock.monotonic() < deadline, log.read_text()
            clock.sleep(0.1)
        warehouse = Warehouse(tmp_path / "w.duckdb")
        collect_postgres(warehouse, CONFIG, env=_env(pg))
        result = dr_checks(warehouse, as_of=None)["replicas"]
    finally:
        receiver.terminate()
        receiver.wait(timeout=30)
        pg.execute("SELECT pg_drop_replication_slot('idle_slot')")
    assert result.status == "warn" and result.headline == "no replica for failover", result
    assert "WAL is streamed to pg_receivewal, which cannot be promoted" in result.finding
    assert "idle_slot" not in result.finding  # it holds no WAL back


@pytest.mark.servers
def test_a_real_logical_subscriber_is_seen_as_no_failover_replica(tmp_path: Path) -> None:
    from support.servers import postgres_server

    from sre_lib.collect.postgres_snapshot import collect_postgres

    with postgres_server(extra_conf={"wal_level": "logical"}) as primary, postgres_server() as other:
        primary.execute("CREATE ROLE monitor LOGIN PASSWORD 'Fake-Secret-Pw-4711' IN ROLE pg_monitor")
        for server in (primary, other):
            server.execute("CREATE TABLE orders (id int PRIMARY KEY)")
        primary.execute("CREATE PUBLICATION orders_pub FOR TABLE orders")
        other.execute(
            f"CREATE SUBSCRIPTION orders_sub CONNECTION 'host=127.0.0.1 port={primary.port} user=postgres "
            "dbname=postgres' PUBLICATION orders_pub"
        )
        try:
            deadline = clock.monotonic() + 30
            while not primary.execute(
                "SELECT 1 FROM pg_stat_replication WHERE application_name = 'orders_sub' AND replay_lsn IS NOT NULL"
            ):
                assert clock.monotonic() < deadline, "the subscription did not start streaming"
                clock.sleep(0.1)
            warehouse = Warehouse(tmp_path / "w.duckdb")
            collect_postgres(warehouse, CONFIG, env=_env(primary))
            result = dr_checks(warehouse, as_of=None)["replicas"]
        finally:
            other.execute("DROP SUBSCRIPTION orders_sub")
    assert result.status == "warn" and result.headline == "no replica for failover", result
    assert "WAL is streamed to orders_sub, which cannot be promoted" in result.finding
