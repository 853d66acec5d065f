"""Redis INFO snapshots into the warehouse, through the redis client library.

Counters (hits, misses, evictions, commands, connections) are stored as collected, with the server's run_id
and uptime: they count from its last restart (a new run_id) or CONFIG RESETSTAT, so ``redis_stats`` takes
deltas between snapshots that know where the counters started again.
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

from sre_lib.config import REDIS_URL_SCHEMES, PlatformConfig
from sre_lib.errors import CollectionError
from sre_lib.secrets import read_secret_file, redact, url_location
from sre_lib.warehouse.store import Warehouse

_INFO_FIELDS = (
    "redis_version", "used_memory", "maxmemory", "keyspace_hits", "keyspace_misses", "evicted_keys",
    "expired_keys", "connected_clients", "rejected_connections", "maxclients", "instantaneous_ops_per_sec",
    "rdb_last_bgsave_status", "aof_last_write_status", "run_id", "uptime_in_seconds", "total_commands_processed",
    "total_connections_received",
)  # fmt: skip


@dataclass(frozen=True)
class RedisTarget:
    server: str
    url: str = field(repr=False)
    password: str | None = field(default=None, repr=False)
    timeout_seconds: float = 5.0

    def describe(self) -> str:
        """The server and where it is, without credentials: fit for messages and the run log."""
        url_location(self.url, "SRE_REDIS_URL or sources.redis.url", REDIS_URL_SCHEMES)  # refuses an unreadable one
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
    if row["run_id"] is not None:  # 40 hex digits: the client parses one of decimal digits alone as a number
        row["run_id"] = str(row["run_id"])
    row["aof_enabled"] = bool(info.get("aof_enabled", 0))
    row["rdb_last_save_time"] = datetime.fromtimestamp(int(info.get("rdb_last_save_time", 0)), UTC)
    row["server"] = target.server
    row["taken_at"] = datetime.fromtimestamp(seconds + microseconds / 1e6, UTC)
    return pd.DataFrame([row])


def collect_redis(warehouse: Warehouse, config: PlatformConfig, env: Mapping[str, str] | None = None) -> int:
    """Take one INFO snapshot, then store it in one write run (the warehouse is not locked while Redis answers).
    Returns rows written."""
    from sre_lib.collect.by_source import fetch_then_write

    target = redis_target(config, env)
    return fetch_then_write(
        warehouse, "redis", lambda: take_info(target), lambda run, info: run.replace_rows("redis_info", info),
        target=target.describe(),
    )  # fmt: skip
