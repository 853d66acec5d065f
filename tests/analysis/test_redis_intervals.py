"""Intervals between Redis INFO snapshots, against real redis-servers: plain, after CONFIG RESETSTAT, across a
restart, and from rows collected before run_id was stored."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import redis
from support.servers import RedisServer, redis_server

from sre_lib.analysis.redis_intervals import COUNTERS, INTERVAL_COLUMNS, info_intervals, read_info_intervals
from sre_lib.collect.redis_info import collect_redis, redis_target, take_info
from sre_lib.config import DEFAULT_CONFIG_PATH, load_config
from sre_lib.warehouse.store import Warehouse

CONFIG = load_config(DEFAULT_CONFIG_PATH)


@pytest.fixture
def rs() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


def snapshot(server: RedisServer) -> pd.DataFrame:
    return take_info(redis_target(CONFIG, {"SRE_REDIS_URL": server.url}))


def lookups(server: RedisServer, hits: int, misses: int) -> None:
    """``hits`` GETs of a key that exists and ``misses`` of one that does not."""
    client = redis.Redis.from_url(server.url)
    try:
        client.set("present", "x")
        pipe = client.pipeline(transaction=False)
        for _ in range(hits):
            pipe.get("present")
        for _ in range(misses):
            pipe.get("absent")
        pipe.execute()
    finally:
        client.close()


def test_an_interval_counts_what_the_server_did_in_it(rs: RedisServer) -> None:
    first = snapshot(rs)
    lookups(rs, hits=300, misses=100)
    second = snapshot(rs)
    (interval,) = info_intervals(pd.concat([second, first])).itertuples(index=False)  # any order in
    assert (interval.hits, interval.misses) == (300, 100)
    assert interval.hit_ratio == pytest.approx(0.75)
    assert interval.commands >= 401  # the SET and GETs, and the collector's own INFO
    assert not interval.restarted and not interval.counters_reset
    assert interval.seconds == pytest.approx((second.taken_at[0] - first.taken_at[0]).total_seconds())
    assert interval.memory_used_pct == pytest.approx(100 * second.used_memory[0] / (64 * 1024 * 1024))


def test_config_resetstat_in_between_gives_no_negative_count(rs: RedisServer) -> None:
    lookups(rs, hits=500, misses=500)
    first = snapshot(rs)
    client = redis.Redis.from_url(rs.url)
    client.config_resetstat()
    client.close()
    lookups(rs, hits=20, misses=5)
    second = snapshot(rs)
    (interval,) = info_intervals(pd.concat([first, second])).itertuples(index=False)
    assert interval.counters_reset and not interval.restarted
    assert (interval.hits, interval.misses) == (20, 5)  # counted since the reset
    assert all(getattr(interval, name) >= 0 for name in COUNTERS.values())


def test_a_restart_is_seen_by_its_run_id_and_without_one_by_the_uptime(rs: RedisServer) -> None:
    # an uptime the new process cannot have: it must exceed the new one's (up to ~2 s on a loaded machine,
    # where start-up is slow) plus the 2 s slack allowed for whole-second uptimes
    time.sleep(5)
    lookups(rs, hits=1000, misses=1000)
    first = snapshot(rs)
    with redis_server() as restarted:  # another process behind the same server name: what a restart looks like
        lookups(restarted, hits=7, misses=3)
        second = snapshot(restarted)
    assert first.run_id[0] != second.run_id[0] and len(second.run_id[0]) == 40
    (interval,) = info_intervals(pd.concat([first, second])).itertuples(index=False)
    assert interval.restarted and interval.counters_reset
    assert (interval.hits, interval.misses) == (7, 3)
    older = pd.concat([first, second]).assign(run_id=None)  # rows of a warehouse from before run_id was kept
    (interval,) = info_intervals(older).itertuples(index=False)
    assert interval.restarted and (interval.hits, interval.misses) == (7, 3)


def test_intervals_read_from_the_warehouse_per_server(rs: RedisServer, tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    for hits in (0, 40, 60):
        lookups(rs, hits=hits, misses=0)
        collect_redis(warehouse, CONFIG, {"SRE_REDIS_URL": rs.url})
    con = warehouse.open_read_only()
    try:
        intervals = read_info_intervals(con, server=CONFIG.sources.redis.server)
        other = read_info_intervals(con, server="no-such-server")
    finally:
        con.close()
    assert list(intervals.columns) == list(INTERVAL_COLUMNS)
    assert intervals.hits.tolist() == [40, 60] and intervals.misses.tolist() == [0, 0]
    assert other.empty and list(other.columns) == list(INTERVAL_COLUMNS)


def test_rows_without_the_counters_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"redis_info rows lack columns \['keyspace_hits'"):
        info_intervals(pd.DataFrame({"server": ["r"], "taken_at": [pd.Timestamp("2026-01-01", tz="UTC")]}))


def test_no_snapshots_give_no_intervals() -> None:
    empty = pd.DataFrame(columns=["server", "taken_at", *COUNTERS])
    assert info_intervals(empty).empty and list(info_intervals(empty).columns) == list(INTERVAL_COLUMNS)


def test_without_run_id_a_restart_is_seen_even_when_the_new_uptime_is_the_longer(rs: RedisServer) -> None:
    """The first process had been up about 0 s at its snapshot; the next snapshot, 6 s or more later, finds a
    process up about 2 s: longer than before, yet shorter than 0 + 6 s, so it started inside the interval
    (margins of 2 s either way, for a slow start and whole-second uptimes)."""
    lookups(rs, hits=50, misses=0)
    first = snapshot(rs)
    time.sleep(4)
    with redis_server() as restarted:
        time.sleep(2)
        second = snapshot(restarted)
    older = pd.concat([first, second]).assign(run_id=None)
    assert second.uptime_in_seconds[0] >= first.uptime_in_seconds[0]
    (interval,) = info_intervals(older).itertuples(index=False)
    assert interval.restarted and interval.hits == 0
    (steady,) = info_intervals(pd.concat([first, snapshot(rs)]).assign(run_id=None)).itertuples(index=False)
    assert not steady.restarted  # the same process, 6 s on: its uptime grew with the clock
