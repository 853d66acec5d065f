"""Redis INFO snapshots into the warehouse, through the redis client library.

Counters (hits, misses, evictions, rejected connections) are stored raw in ``redis_info``, as collected.
Each snapshot also gives the capacity report its ``[redis]`` indicators as metric samples (source "redis"),
the same four the catalogue reads from redis_exporter: memory as % of maxmemory, clients as % of maxclients,
and, from the counters' change since the previous snapshot, the hit ratio (%) and evictions per minute (none
across a restart, where the counters went down). An indicator that Prometheus already supplies for that
component is left to it, so that no cache is counted twice.

The URL comes from [sources.redis] or SRE_REDIS_URL; a password in it, or in password_file, never
appears in a message or in the warehouse.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import redis

from sre_lib.config import PlatformConfig
from sre_lib.errors import CollectionError
from sre_lib.secrets import read_secret_file, redact, url_location
from sre_lib.warehouse import Warehouse, WriteRun, canonical_labels, series_id

_INFO_FIELDS = (
    "redis_version", "used_memory", "maxmemory", "keyspace_hits", "keyspace_misses", "evicted_keys",
    "expired_keys", "connected_clients", "rejected_connections", "maxclients", "instantaneous_ops_per_sec",
    "rdb_last_bgsave_status", "aof_last_write_status",
)  # fmt: skip


@dataclass(frozen=True)
class RedisTarget:
    server: str
    url: str = field(repr=False)
    password: str | None = field(default=None, repr=False)
    timeout_seconds: float = 5.0

    def describe(self) -> str:
        """The server and where it is, without credentials: fit for messages and the run log."""
        url_location(self.url, "SRE_REDIS_URL or sources.redis.url", ("redis", "rediss", "unix"))  # readable?
        parts = urlsplit(self.url)
        where = parts.path if parts.scheme == "unix" else f"{parts.hostname}:{parts.port or 6379}"
        return f"{self.server} ({where})"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(
            self.url, password=self.password, socket_timeout=self.timeout_seconds,
            socket_connect_timeout=self.timeout_seconds, client_name="sre-workbench",
        )  # fmt: skip


def redis_target(config: PlatformConfig, env: Mapping[str, str] | None = None) -> RedisTarget:
    """Settings from [sources.redis], the URL overridden by SRE_REDIS_URL."""
    env = os.environ if env is None else env
    source = config.sources.redis
    url = env.get("SRE_REDIS_URL") or source.url
    password = (
        read_secret_file(source.password_file, f"{config.source}: sources.redis") if source.password_file else None
    )
    target = RedisTarget(server=source.server, url=url, password=password, timeout_seconds=source.timeout_seconds)
    target.describe()  # a URL that cannot be read fails here, before any connection
    return target


def take_info(target: RedisTarget) -> pd.DataFrame:
    """One redis_info row, read now. Raises CollectionError naming the server (never the password)."""
    client = target.client()
    try:
        info: dict[str, Any] = client.info("all")
        seconds, microseconds = client.time()
        if "maxclients" not in info:  # INFO shows maxclients from Redis 7 on
            info["maxclients"] = int(client.config_get("maxclients").get("maxclients", 0))
    except redis.RedisError as exc:
        secrets = [target.password, urlsplit(target.url).password]
        detail = redact(" ".join(str(exc).split()), secrets)
        raise CollectionError(f"Redis {target.describe()}: {type(exc).__name__}: {detail}") from None
    finally:
        client.close()
    row = {name: info.get(name) for name in _INFO_FIELDS}
    row["redis_version"] = str(row["redis_version"])
    row["aof_enabled"] = bool(info.get("aof_enabled", 0))
    row["rdb_last_save_time"] = datetime.fromtimestamp(int(info.get("rdb_last_save_time", 0)), UTC)
    row["server"] = target.server
    row["taken_at"] = datetime.fromtimestamp(seconds + microseconds / 1e6, UTC)
    return pd.DataFrame([row])


INDICATORS = ("redis_memory", "redis_clients", "redis_hit_ratio", "redis_evictions")
SOURCE = "redis"


@dataclass(frozen=True)
class RedisSummary:
    """What one collection wrote."""

    server: str
    indicators: tuple[str, ...]  # written as metric samples
    supplied_elsewhere: tuple[str, ...]  # supplied by other series already (redis_exporter through Prometheus)

    def __str__(self) -> str:
        text = f"INFO snapshot of {self.server}: 1 row"
        if self.indicators:
            text += f"; indicators {', '.join(self.indicators)}"
        if self.supplied_elsewhere:
            text += f"; already in other series (redis_exporter): {', '.join(self.supplied_elsewhere)}"
        return text


def indicator_values(row: Mapping[str, Any], previous: Mapping[str, Any] | None) -> dict[str, float]:
    """The [redis] indicators of one INFO snapshot; the counter-based ones need the previous snapshot."""
    values: dict[str, float] = {}
    known = {name for name, value in row.items() if not pd.isna(value)}
    if {"used_memory", "maxmemory"} <= known and row["maxmemory"] > 0:  # 0: no limit, no share of it
        values["redis_memory"] = 100 * (row["used_memory"] / row["maxmemory"])
    if {"connected_clients", "maxclients"} <= known and row["maxclients"] > 0:
        values["redis_clients"] = 100 * (row["connected_clients"] / row["maxclients"])
    counters = ("keyspace_hits", "keyspace_misses", "evicted_keys", "taken_at")
    if previous is None or any(pd.isna(row[c]) or pd.isna(previous[c]) for c in counters):
        return values
    hits = row["keyspace_hits"] - previous["keyspace_hits"]
    misses = row["keyspace_misses"] - previous["keyspace_misses"]
    evicted = row["evicted_keys"] - previous["evicted_keys"]
    seconds = (row["taken_at"] - previous["taken_at"]).total_seconds()
    if min(hits, misses, evicted) < 0 or seconds <= 0:  # restarted in between: no change to read
        return values
    if hits + misses:
        values["redis_hit_ratio"] = 100 * (hits / (hits + misses))
    values["redis_evictions"] = 60 * evicted / seconds
    return values


def collect_redis(warehouse: Warehouse, config: PlatformConfig, env: Mapping[str, str] | None = None) -> RedisSummary:
    """Take one INFO snapshot and store it, with its indicators, in one write run."""
    target = redis_target(config, env)
    source = config.sources.redis
    with warehouse.write_run("redis", target=target.describe()) as run:
        info = take_info(target)
        run.replace_rows("redis_info", info)
        if source.component not in config.components:
            return RedisSummary(source.server, (), ())
        row = info.iloc[0].to_dict()
        previous = run.con.execute(
            "SELECT * FROM redis_info WHERE server = ? AND taken_at < ? ORDER BY taken_at DESC LIMIT 1",
            [source.server, row["taken_at"]],
        ).df()
        values = indicator_values(row, previous.iloc[0].to_dict() if len(previous) else None)
        elsewhere = {
            metric
            for (metric,) in run.con.execute(
                "SELECT DISTINCT metric FROM metric_series WHERE component = ? AND source <> ?",
                [source.component, SOURCE],
            ).fetchall()
        }
        written = tuple(metric for metric in INDICATORS if metric in values and metric not in elsewhere)
        _write_indicators(run, source.server, source.component, row["taken_at"], {m: values[m] for m in written})
    return RedisSummary(source.server, written, tuple(m for m in INDICATORS if m in elsewhere))


def _write_indicators(
    run: WriteRun, server: str, component: str, taken_at: datetime, values: Mapping[str, float]
) -> None:
    if not values:
        return
    labels = {"component": component, "instance": server, "server": server}
    series = pd.DataFrame(
        [
            {"series_id": series_id(metric, labels), "source": SOURCE, "metric": metric, "component": component,
             "instance": server, "labels": canonical_labels(labels)}
            for metric in values
        ]
    )  # fmt: skip
    run.upsert_series(series)
    samples = pd.DataFrame(
        {"series_id": series["series_id"], "ts": [pd.Timestamp(taken_at)] * len(values), "value": list(values.values())}
    )
    run.replace_samples(samples, taken_at, taken_at)
