"""`sre collect` as a user runs it, against real PostgreSQL and Redis servers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.servers import PostgresServer, RedisServer, postgres_server, redis_server

from sre_lib.warehouse.store import Warehouse

SRE = str(Path(sys.executable).with_name("sre"))
SECRET = "Cli-Fake-Secret-1234"


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[PostgresServer, RedisServer]]:
    with postgres_server() as pg, redis_server(password=SECRET) as rs:
        pg.execute(f"CREATE ROLE monitor LOGIN PASSWORD '{SECRET}' IN ROLE pg_monitor")
        yield pg, rs


def environment(pg: PostgresServer, rs: RedisServer, warehouse: Path) -> dict[str, str]:
    return {
        **os.environ, "PGHOST": "127.0.0.1", "PGPORT": str(pg.port), "PGUSER": "monitor", "PGDATABASE": "postgres",
        "PGPASSWORD": SECRET, "SRE_REDIS_URL": rs.url, "SRE_WAREHOUSE": str(warehouse),
    }  # fmt: skip


def test_collect_postgres_and_redis_print_a_summary(servers, tmp_path: Path) -> None:
    pg, rs = servers
    env = environment(pg, rs, tmp_path / "w.duckdb")
    for source, expected in (("postgres", "postgres: snapshot of postgresql at"), ("redis", "redis: INFO snapshot")):
        result = subprocess.run([SRE, "collect", source], env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(expected)
        assert SECRET not in result.stdout + result.stderr
    assert set(Warehouse(tmp_path / "w.duckdb").runs().source) == {"postgres", "redis"}


def test_collect_failure_exits_non_zero_with_one_line(servers, tmp_path: Path) -> None:
    pg, rs = servers
    env = environment(pg, rs, tmp_path / "w.duckdb") | {"PGPASSWORD": "wrong-" + SECRET}
    result = subprocess.run([SRE, "collect", "postgres"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "password authentication failed" in result.stderr
    assert SECRET not in result.stderr


def test_collect_every_interval_accumulates_history_until_interrupted(servers, tmp_path: Path) -> None:
    pg, rs = servers
    warehouse = tmp_path / "w.duckdb"
    process = subprocess.Popen(
        [SRE, "collect", "postgres", "--every", "1s"], env=environment(pg, rs, warehouse),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if warehouse.exists() and len(Warehouse(warehouse).runs()) >= 3:
                break
            time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
        process.communicate()
    assert "interrupted" in stderr
    assert process.returncode == 130
    runs = Warehouse(warehouse).runs()  # the newest first
    assert (runs.status == "ok").sum() >= 3
    # a signal that lands mid-snapshot fails that one run (rolled back, logged); every run before it is whole
    assert runs.status.iloc[1:].eq("ok").all()
    assert runs.status.iloc[0] == "ok" or runs.error.iloc[0] == "KeyboardInterrupt"
    con = Warehouse(warehouse).open_read_only()
    try:
        snapshots = con.execute("SELECT count(DISTINCT taken_at) FROM pg_stat_statements").fetchall()[0][0]
    finally:
        con.close()
    assert snapshots >= 3
