"""The synthetic Redis INFO snapshots fit the schema and trip the manual's cache thresholds at the end."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from sre_lib.analysis.redis_intervals import info_intervals
from sre_lib.demo import redis_history as ri
from sre_lib.demo.spec import DemoSpec
from sre_lib.warehouse.store import schema_sql, table_keys

SPEC = DemoSpec()
COUNTERS = [
    "keyspace_hits", "keyspace_misses", "evicted_keys", "expired_keys", "rejected_connections",
    "total_commands_processed", "total_connections_received", "uptime_in_seconds",
]  # fmt: skip


@pytest.fixture(scope="module")
def info() -> pd.DataFrame:
    return ri.redis_info_frame(SPEC)


def daily(info: pd.DataFrame) -> pd.DataFrame:
    """Counter growth per UTC day (complete days only)."""
    per_day = info.set_index("taken_at")[COUNTERS].resample("1D").last().diff().iloc[1:]
    per_day["hit_ratio"] = per_day.keyspace_hits / (per_day.keyspace_hits + per_day.keyspace_misses)
    return per_day[per_day.index < pd.Timestamp(SPEC.end).floor("1D")]


def test_columns_types_and_keys_match_the_schema(info) -> None:
    con = duckdb.connect()
    con.execute(schema_sql()).fetchall()
    schema = dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'redis_info'"
        ).fetchall()
    )
    keys = list(table_keys()["redis_info"])
    assert set(info.columns) <= set(schema) and set(keys) <= set(info.columns)
    con.register("frame", info)
    for name, kind, *_ in con.execute("DESCRIBE SELECT * FROM frame").fetchall():
        assert kind == schema[name], f"redis_info.{name}: {kind}, schema says {schema[name]}"
    con.execute("INSERT INTO redis_info BY NAME SELECT * FROM frame")
    assert not info[keys].isna().any().any() and not info.duplicated(keys).any()
    assert not info.isna().any().any()
    assert str(info.taken_at.dt.tz) == "UTC" and (info.server == SPEC.redis_server).all()


def test_same_spec_same_frame(info) -> None:
    pd.testing.assert_frame_equal(info, ri.redis_info_frame(SPEC))
    assert not info.used_memory.equals(ri.redis_info_frame(DemoSpec(seed=SPEC.seed + 1)).used_memory)


def test_cadence_and_static_facts(info) -> None:
    assert pd.DatetimeIndex(info.taken_at).equals(pd.date_range(SPEC.start, SPEC.end, freq=SPEC.redis_snapshot_every))
    assert (info.redis_version == "7.0.15").all()
    assert (info.maxmemory == 1536 * 1024**2).all() and (info.maxclients == 10_000).all()
    assert (info.rdb_last_bgsave_status == "ok").all() and (~info.aof_enabled).all()
    lag = info.taken_at - info.rdb_last_save_time
    assert ((lag >= pd.Timedelta(0)) & (lag <= pd.Timedelta(minutes=5))).all()


def test_counters_never_decrease(info) -> None:
    assert (info[COUNTERS].diff().dropna() >= 0).all().all()


def test_memory_grows_past_the_80_percent_threshold(info) -> None:
    share = info.used_memory / info.maxmemory
    assert share.head(96).mean() < 0.65
    assert 0.75 <= share.tail(96).mean() <= 0.85
    assert share.tail(96).mean() > 0.80  # "> 80 %: increase size"
    assert (share < 0.9).all()


def test_hit_ratio_falls_in_the_last_ten_days(info) -> None:
    per_day = daily(info)
    steady = per_day[per_day.index < pd.Timestamp(SPEC.at_day(SPEC.days - ri.PRESSURE_DAYS))]
    assert steady.hit_ratio.between(0.88, 0.92).all()
    assert per_day.hit_ratio.iloc[-1] < 0.80  # "< 80 %: review strategy"
    assert per_day.hit_ratio.tail(9).is_monotonic_decreasing


def test_evictions_flat_then_increasing(info) -> None:
    per_day = daily(info)
    pressure_start = pd.Timestamp(SPEC.at_day(SPEC.days - ri.PRESSURE_DAYS))
    steady = per_day.evicted_keys[per_day.index < pressure_start]
    assert steady.between(0.5 * 288, 1.5 * 288).all()  # about 0.2 a minute, as redis_exporter's series says
    recent = per_day.evicted_keys.tail(5)
    assert recent.is_monotonic_increasing and recent.iloc[0] > 0
    evicted = info.set_index("taken_at").evicted_keys
    last_24h = evicted.iloc[-1] - evicted.asof(evicted.index[-1] - pd.Timedelta(hours=24))
    before = evicted.asof(evicted.index[-1] - pd.Timedelta(hours=24)) - evicted.asof(
        evicted.index[-1] - pd.Timedelta(hours=48)
    )
    assert last_24h > before > 0


def test_clients_and_ops_follow_the_day(info) -> None:
    hour = info.taken_at.dt.tz_convert(SPEC.tz).dt.hour
    for column in ("connected_clients", "instantaneous_ops_per_sec"):
        by_hour = info.groupby(hour)[column].mean()
        assert by_hour.idxmax() in (19, 20, 21), column
        assert by_hour.max() > 2 * by_hour.min(), column
    assert (info.connected_clients < 0.9 * info.maxclients).all()
    assert (info.connected_clients > 0).all() and (info.rejected_connections == 0).all()


def test_one_server_process_whose_commands_match_its_ops_per_second(info) -> None:
    intervals = info_intervals(info)
    assert info.run_id.nunique() == 1 and len(info.run_id[0]) == 40
    assert not intervals.restarted.any() and not intervals.counters_reset.any()
    # the commands counter and the instantaneous rate tell the same story
    assert intervals.commands_per_second.mean() == pytest.approx(info.instantaneous_ops_per_sec.mean(), rel=0.05)
    assert intervals.hit_ratio.tail(96).mean() < 0.80 < intervals.hit_ratio.head(96).mean()


def test_evictions_agree_with_the_redis_exporter_series_of_the_demo() -> None:
    """INFO's evicted_keys and redis_exporter's evictions per minute tell one story."""
    from sre_lib.demo.metric_history import metric_frames

    series, samples = metric_frames(SPEC)
    sid = series.loc[series["metric"] == "redis_evictions", "series_id"].iloc[0]
    exporter = samples[samples["series_id"] == sid].set_index("ts")["value"]
    intervals = info_intervals(ri.redis_info_frame(SPEC)).set_index("end")
    per_minute = intervals["evicted_keys"] / (intervals["seconds"] / 60.0)
    for days_before_end in (30, 1):  # before the pressure, and its last day
        until = pd.Timestamp(SPEC.end) - pd.Timedelta(days=days_before_end - 1)
        since = until - pd.Timedelta(days=1)
        info_rate = per_minute[(per_minute.index > since) & (per_minute.index <= until)].mean()
        exporter_rate = exporter[(exporter.index > since) & (exporter.index <= until)].mean()
        assert info_rate == pytest.approx(exporter_rate, rel=0.25), days_before_end
