"""The Redis collector against a real redis-server loaded by redis-benchmark."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.servers import RedisServer, redis_server

from sre_lib.collect.redis_info import collect_redis, redis_target, take_info
from sre_lib.config import DEFAULT_CONFIG_PATH, load_config
from sre_lib.errors import CollectionError
from sre_lib.warehouse.store import Warehouse

CONFIG = load_config(DEFAULT_CONFIG_PATH)
PASSWORD = "Fake-Redis-Secret-0815"


@pytest.fixture(scope="module")
def rs() -> Iterator[RedisServer]:
    with redis_server(password=PASSWORD, maxmemory="64mb") as server:
        yield server


def test_info_counters_follow_the_benchmark(rs: RedisServer) -> None:
    target = redis_target(CONFIG, {"SRE_REDIS_URL": rs.url})
    before = take_info(target).iloc[0]
    rs.benchmark(2000, "set,get")
    after = take_info(target).iloc[0]
    assert after.keyspace_hits - before.keyspace_hits == 2000
    assert after.maxmemory == 64 * 1024 * 1024
    assert 0 < after.used_memory < after.maxmemory
    assert after.maxclients > 0 and after.connected_clients >= 1
    assert after.redis_version.startswith("7.")
    assert after.taken_at > before.taken_at


def test_collect_writes_one_row_and_never_the_password(rs: RedisServer, tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    assert collect_redis(warehouse, CONFIG, {"SRE_REDIS_URL": rs.url}) == 1
    con = warehouse.open_read_only()
    try:
        text = con.execute("SELECT * FROM redis_info").df().to_csv()
        runs = con.execute("SELECT * FROM collection_runs").df().to_csv()
    finally:
        con.close()
    assert PASSWORD not in text + runs
    assert f"127.0.0.1:{rs.port}" in runs


def test_a_wrong_password_is_a_clear_error_without_the_secret(rs: RedisServer, tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    url = rs.url.replace(PASSWORD, "not-" + PASSWORD)
    with pytest.raises(CollectionError, match=rf"Redis redis \(127\.0\.0\.1:{rs.port}\)") as raised:
        collect_redis(warehouse, CONFIG, {"SRE_REDIS_URL": url})
    assert PASSWORD not in str(raised.value)
    assert warehouse.runs().status.tolist() == ["failed"]


def test_a_server_that_is_down_is_named() -> None:
    target = redis_target(CONFIG, {"SRE_REDIS_URL": "redis://127.0.0.1:1/0"})
    with pytest.raises(CollectionError, match=r"Redis redis \(127\.0\.0\.1:1\): ConnectionError"):
        take_info(target)
