"""The PostgreSQL and Redis collectors, against real servers, do not hold the warehouse while the server answers:
they fetch first and lock it only to write (``fetch_then_write``), so a slow server keeps no other writer out."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
from support.servers import PostgresServer, RedisServer, postgres_server, redis_server

from sre_lib.collect.postgres_snapshot import collect_postgres
from sre_lib.collect.redis_info import collect_redis
from sre_lib.config import DEFAULT_CONFIG_PATH, load_config
from sre_lib.warehouse.store import Warehouse

pytestmark = pytest.mark.servers

CONFIG = load_config(DEFAULT_CONFIG_PATH)


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    with postgres_server() as server:  # pg_stat_statements created in its postgres database
        yield server


def test_postgres_snapshot_leaves_the_warehouse_free_while_the_server_answers(
    pg: PostgresServer, tmp_path: Path
) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    warehouse.ensure_created()
    other = Warehouse(warehouse.path, lock_timeout=0)  # fails at once if the lock is held
    written_meanwhile: list[str] = []

    def write_meanwhile(step: str) -> None:  # called while the snapshot's queries run
        with other.write_run("other-writer"):
            written_meanwhile.append(step)

    env = {"PGHOST": "127.0.0.1", "PGPORT": str(pg.port), "PGUSER": "postgres", "PGDATABASE": "postgres"}
    summary = collect_postgres(warehouse, CONFIG, env=env, progress=write_meanwhile)
    assert written_meanwhile and summary.rows_by_table["pg_stat_statements"] > 0
    runs = warehouse.runs()
    assert sorted(runs.source) == ["other-writer"] * len(written_meanwhile) + ["postgres"]
    assert set(runs.status) == {"ok"}


def test_redis_snapshot_leaves_the_warehouse_free_while_the_server_answers(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    warehouse.ensure_created()
    with redis_server() as server, ThreadPoolExecutor(1) as pool:
        pause_clients(server, seconds=3)  # INFO waits until the pause ends
        future = pool.submit(collect_redis, warehouse, CONFIG, {"SRE_REDIS_URL": server.url})
        time.sleep(1)
        assert not future.done()
        with Warehouse(warehouse.path, lock_timeout=0).write_run("other-writer"):
            pass
        assert future.result(timeout=30) == 1
    assert sorted(warehouse.runs().source) == ["other-writer", "redis"]


def pause_clients(server: RedisServer, seconds: float) -> None:
    client = redis.Redis.from_url(server.url)
    try:
        client.execute_command("CLIENT", "PAUSE", int(seconds * 1000), "ALL")
    finally:
        client.close()
