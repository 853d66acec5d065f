"""Synthetic Redis INFO snapshots of the cache droplet (2 GB RAM, maxmemory 1.5 GiB, allkeys-lru).

Counters are cumulative since the last restart, as INFO reports them. The findings an analysis should make:

* used_memory climbs from ~58 % to ~82 % of maxmemory (the manual's "> 80 %: increase size");
* the hit ratio holds at ~90 % until the last PRESSURE_DAYS (10) days, then falls toward ~78 % (< 80 %:
  review the caching strategy) while evicted_keys, about one every five minutes before, rises faster every
  day ("evictions increasing: add capacity");
* connected_clients and instantaneous_ops_per_sec follow the daily traffic cycle, far below maxclients.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sre_lib.demo.metric_history import EVICTION_GROWTH_PER_DAY, EVICTIONS_PER_MINUTE
from sre_lib.demo.spec import DemoSpec
from sre_lib.demo.timeline import daily_load, seconds_since_start, snapshot_times

_SEED_OFFSET = 303
REDIS_VERSION = "7.0.15"
MAXMEMORY = 1536 * 1024 * 1024
MAXCLIENTS = 10_000
MEMORY_SHARE_START, MEMORY_SHARE_END = 0.58, 0.82
HIT_RATIO, HIT_RATIO_END = 0.905, 0.78
PRESSURE_DAYS = 10.0  # memory pressure: the last days, hit ratio falling and evictions rising
UPTIME_DAYS = 37.0  # Redis was last restarted this long before the span
OPS_PER_SEC = 520.0  # average commands per second at the start
READ_SHARE = 0.6  # share of commands that look a key up (hits + misses)
RDB_SAVE_SECONDS = 300  # `save 300 100`: a snapshot every 5 minutes under steady writes
CONNECTIONS_PER_SEC = 0.2  # new client connections (the app servers keep pools)


def redis_info_frame(spec: DemoSpec) -> pd.DataFrame:
    """The redis_info table for the demo span: one row per spec.redis_snapshot_every."""
    rng = np.random.default_rng(spec.seed + _SEED_OFFSET)
    times = snapshot_times(spec, spec.redis_snapshot_every)
    n_t = len(times)
    secs = seconds_since_start(spec, times)
    step = spec.redis_snapshot_every.total_seconds()
    frac = secs / (spec.days * 86_400.0)
    load = daily_load(times, spec.tz)
    pressure = np.clip((secs / 86_400.0 - (spec.days - PRESSURE_DAYS)) / PRESSURE_DAYS, 0.0, 1.0)

    memory_share = MEMORY_SHARE_START + (MEMORY_SHARE_END - MEMORY_SHARE_START) * frac + 0.01 * (load - 1)
    used = MAXMEMORY * memory_share * rng.lognormal(0, 0.003, n_t)
    ops = OPS_PER_SEC * load * (1 + 0.35 * frac) * rng.lognormal(0, 0.05, n_t)

    lookups = rng.poisson(ops * step * READ_SHARE)
    hit_ratio = HIT_RATIO + (HIT_RATIO_END - HIT_RATIO) * pressure + rng.normal(0, 0.004, n_t)
    hits = rng.binomial(lookups, np.clip(hit_ratio, 0, 1))
    per_minute = EVICTIONS_PER_MINUTE * (1.0 + EVICTION_GROWTH_PER_DAY * pressure * PRESSURE_DAYS)
    evicted = rng.poisson(per_minute * step / 60.0)  # as redis_exporter's series of the same server says
    expired = rng.poisson(ops * step * 0.03)
    lookups[0], hits[0], evicted[0], expired[0] = 0, 0, 0, 0
    before = UPTIME_DAYS * 86_400.0 * OPS_PER_SEC  # commands served between the restart and the start

    last_save = secs - np.mod(secs - 17.0, RDB_SAVE_SECONDS)  # background saves at :x2:17, :x7:17, ...
    return pd.DataFrame(
        {
            "server": spec.redis_server,
            "taken_at": times,
            "redis_version": REDIS_VERSION,
            "used_memory": np.round(used).astype(np.int64),
            "maxmemory": np.int64(MAXMEMORY),
            "keyspace_hits": (np.cumsum(hits) + before * READ_SHARE * HIT_RATIO).astype(np.int64),
            "keyspace_misses": (np.cumsum(lookups - hits) + before * READ_SHARE * (1 - HIT_RATIO)).astype(np.int64),
            "evicted_keys": (np.cumsum(evicted) + 1_842).astype(np.int64),
            "expired_keys": (np.cumsum(expired) + before * 0.03).astype(np.int64),
            "connected_clients": np.round(30 + 90 * load * (1 + 0.35 * frac) * rng.lognormal(0, 0.05, n_t)).astype(
                np.int32
            ),
            "rejected_connections": np.int64(0),
            "maxclients": np.int32(MAXCLIENTS),
            "instantaneous_ops_per_sec": np.round(ops * rng.lognormal(0, 0.08, n_t)),
            "rdb_last_bgsave_status": "ok",
            "rdb_last_save_time": (pd.Timestamp(spec.start) + pd.to_timedelta(last_save, unit="s")).as_unit("us"),
            "aof_enabled": False,
            "aof_last_write_status": "ok",
            "run_id": f"{rng.integers(2**63):016x}" * 2 + "5e1f0a2b",  # one server process: no restart in the span
            "uptime_in_seconds": np.round(UPTIME_DAYS * 86_400.0 + secs).astype(np.int64),
            "total_commands_processed": (np.cumsum(ops * step) + before).astype(np.int64),
            "total_connections_received": (np.cumsum(rng.poisson(CONNECTIONS_PER_SEC * step, n_t)) + 48_211).astype(
                np.int64
            ),
        }
    )
