"""The Redis collector against a real redis-server loaded by redis-benchmark."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from servers import RedisServer, redis_server

from sre_lib.collect.redis import collect_redis, redis_target, take_info
from sre_lib.config import DEFAULT_CONFIG_PATH, load_config
from sre_lib.errors import CollectionError
from sre_lib.warehouse import Warehouse, canonical_labels, series_id

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
    summary = collect_redis(warehouse, CONFIG, {"SRE_REDIS_URL": rs.url})
    assert str(summary) == "INFO snapshot of redis: 1 row; indicators redis_memory, redis_clients"  # no change yet
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


def _indicators(warehouse: Warehouse) -> dict[str, list[float]]:
    con = warehouse.open_read_only()
    try:
        rows = con.execute(
            "SELECT s.metric, m.value FROM metric_samples m JOIN metric_series s USING (series_id) "
            "WHERE s.source = 'redis' AND s.component = 'redis' AND s.instance = 'redis' ORDER BY s.metric, m.ts"
        ).fetchall()
    finally:
        con.close()
    out: dict[str, list[float]] = {}
    for metric, value in rows:
        out.setdefault(metric, []).append(value)
    return out


def test_info_snapshots_give_the_capacity_reports_redis_indicators(rs: RedisServer, tmp_path: Path) -> None:
    """Without redis_exporter in Prometheus, the [redis] levels come from INFO: memory and clients from each
    snapshot, the hit ratio and evictions per minute from the change since the previous one."""
    warehouse = Warehouse(tmp_path / "w.duckdb")
    env = {"SRE_REDIS_URL": rs.url}
    collect_redis(warehouse, CONFIG, env)
    rs.benchmark(3000, "set,get")
    summary = collect_redis(warehouse, CONFIG, env)
    assert summary.indicators == ("redis_memory", "redis_clients", "redis_hit_ratio", "redis_evictions")
    con = warehouse.open_read_only()
    try:
        first, second = con.execute("SELECT * FROM redis_info ORDER BY taken_at").df().to_dict("records")
    finally:
        con.close()
    hits, misses = (second[c] - first[c] for c in ("keyspace_hits", "keyspace_misses"))
    minutes = (second["taken_at"] - first["taken_at"]).total_seconds() / 60
    values = _indicators(warehouse)
    assert values["redis_memory"][-1] == pytest.approx(100 * second["used_memory"] / (64 * 1024 * 1024))
    assert values["redis_clients"][-1] == pytest.approx(100 * second["connected_clients"] / second["maxclients"])
    assert hits == 3000 and values["redis_hit_ratio"] == [pytest.approx(100 * hits / (hits + misses))]
    assert values["redis_evictions"] == [pytest.approx((second["evicted_keys"] - first["evicted_keys"]) / minutes)]

    from sre_lib.series import read_samples

    con = warehouse.open_read_only()
    try:
        read = read_samples(con, metrics=["redis_hit_ratio", "redis_memory"], components=["redis"])
    finally:
        con.close()
    assert set(read.metric) == {"redis_hit_ratio", "redis_memory"}


def test_a_restart_between_snapshots_gives_no_rate_and_prometheus_series_come_first(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with redis_server(password=PASSWORD, maxmemory="64mb") as first_life:
        env = {"SRE_REDIS_URL": first_life.url}
        first_life.benchmark(2000, "set,get")
        collect_redis(warehouse, CONFIG, env)
    with redis_server(password=PASSWORD, maxmemory="64mb") as second_life:  # a restart: counters from zero
        env = {"SRE_REDIS_URL": second_life.url}
        after_restart = collect_redis(warehouse, CONFIG, env)
        assert after_restart.indicators == ("redis_memory", "redis_clients")  # no negative change read as a rate
        with warehouse.write_run("prometheus") as run:  # redis_exporter's memory series, as the collector names it
            labels = {"component": "redis", "instance": "redis-exporter:9121"}
            exporter = {
                "series_id": series_id("redis_memory", labels), "source": "prometheus", "metric": "redis_memory",
                "component": "redis", "instance": labels["instance"], "labels": canonical_labels(labels),
            }  # fmt: skip
            run.upsert_series(pd.DataFrame([exporter]))
        second_life.benchmark(500, "set,get")
        summary = collect_redis(warehouse, CONFIG, env)
    assert summary.supplied_elsewhere == ("redis_memory",)
    assert "redis_memory" not in summary.indicators and "redis_hit_ratio" in summary.indicators
    assert str(summary).endswith("; already in other series (redis_exporter): redis_memory")
    assert len(_indicators(warehouse)["redis_memory"]) == 2  # the two snapshots before the exporter's series
