"""pg_stat_statements and pg_snapshots every 15 minutes, from the scenario's statements and findings."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from sre_lib.demo.postgres_counters import as_int64, cumulative, first_index_at, running
from sre_lib.demo.postgres_scenario import (
    CALL_GROWTH,
    DATNAME,
    DB_OID,
    DEALLOC_DAY,
    MAX_CONNECTIONS,
    PGSS_VERSION,
    PRIOR_DAYS,
    REGRESSION_DAY,
    REGRESSION_QUERY,
    RESET_DAY,
    SERVER_VERSION_NUM,
    STATEMENTS,
    USER_OIDS,
    Statement,
)
from sre_lib.demo.spec import DemoSpec
from sre_lib.demo.timeline import (
    SECONDS_PER_DAY,
    at_seconds,
    daily_load,
    local_instants,
    seconds_since_start,
)


def _queryid(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


def _scheduled_calls(spec: DemoSpec, st: Statement, secs: np.ndarray, step: float) -> np.ndarray:
    """Calls per snapshot interval of a job that runs hourly or daily at a local time (exact, no noise)."""
    if st.profile == "hourly":
        runs = np.arange(300.0, secs[-1], 3600.0)  # at five past each hour
    else:
        runs = seconds_since_start(spec, local_instants(spec.start, spec.end, spec.tz, st.profile))
    idx = (np.floor(runs / step) + 1).astype(int)
    return np.bincount(idx[idx < len(secs)], minlength=len(secs)).astype(float)


def statements_frame(spec: DemoSpec, times: pd.DatetimeIndex, rng: np.random.Generator) -> pd.DataFrame:
    """pg_stat_statements at each snapshot: cumulative counters per statement, with the reset and regression."""
    secs = seconds_since_start(spec, times)
    day, n_t, n_s = secs / SECONDS_PER_DAY, len(times), len(STATEMENTS)
    step = spec.pg_snapshot_every.total_seconds()
    load = daily_load(times, spec.tz)
    growth = 1 + CALL_GROWTH * day / spec.days
    reset = first_index_at(secs, RESET_DAY * SECONDS_PER_DAY)

    calls = np.zeros((n_t, n_s))
    for j, st in enumerate(STATEMENTS):
        if st.profile in ("web", "flat"):
            shape = load * growth if st.profile == "web" else np.ones(n_t)
            lam = st.per_day * step / SECONDS_PER_DAY * shape
            lam[0] = st.per_day * PRIOR_DAYS  # row 0: everything since the previous reset
            if st.since_day is not None:
                lam[day <= st.since_day] = 0.0
            calls[:, j] = rng.poisson(lam)
        else:
            calls[:, j] = _scheduled_calls(spec, st, secs, step)
            calls[0, j] = st.per_day * PRIOR_DAYS
    if reset is not None:
        calls[reset] = 0.0

    per = {
        name: np.array([getattr(st, name) for st in STATEMENTS], dtype=float)
        for name in ("mean_ms", "rows", "blks", "hit", "wal", "temp")
    }
    mean = per["mean_ms"] * (0.92 + 0.08 * load[:, None]) * rng.lognormal(0, 0.07, (n_t, n_s))
    blks = np.broadcast_to(per["blks"], (n_t, n_s)).copy()
    hit = np.broadcast_to(per["hit"], (n_t, n_s)).copy()
    j_reg = next(j for j, st in enumerate(STATEMENTS) if st.query == REGRESSION_QUERY)
    after = day > REGRESSION_DAY  # plan flip: a sequential scan of posts per call
    mean[after, j_reg] *= 15.0
    blks[after, j_reg] *= 85.0
    hit[after, j_reg] = 0.97

    touched = np.round(calls * blks * rng.lognormal(0, 0.05, (n_t, n_s)))
    hits = np.round(touched * hit)
    dirtied = np.round(calls * np.minimum(blks, 3.0) * (per["wal"] > 0))
    written = np.round(dirtied * 0.1)
    one = calls == 1
    lo = np.where(one, mean, mean * rng.uniform(0.25, 0.45, (n_t, n_s)))
    hi = np.where(one, mean, mean * (2.5 + rng.lognormal(0, 0.5, (n_t, n_s))))
    inc = {
        "calls": calls,
        "total_exec_time_ms": calls * mean,
        "sumsq": calls * mean**2 * 1.25,
        "rows": np.round(calls * per["rows"]),
        "shared_blks_hit": hits,
        "shared_blks_read": touched - hits,
        "shared_blks_dirtied": dirtied,
        "shared_blks_written": written,
        "temp_blks_read": calls * per["temp"],
        "temp_blks_written": calls * per["temp"],
        "blk_read_time_ms": (touched - hits) * 0.04,
        "blk_write_time_ms": written * 0.06,
        "wal_bytes": np.round(calls * per["wal"] * rng.lognormal(0, 0.05, (n_t, n_s))),
    }
    cum = {name: cumulative(values, reset) for name, values in inc.items()}
    c = cum["calls"]
    run_min = running(np.minimum, np.where(calls > 0, lo, np.inf), reset)
    run_max = running(np.maximum, np.where(calls > 0, hi, 0.0), reset)

    # stats_since: the previous reset for entries alive at the start, else the entry's first call
    seen = c > 0
    jitter = rng.uniform(0, step, n_s)
    end_a = reset if reset is not None else n_t
    since_a = np.where(c[0] > 0, -PRIOR_DAYS * SECONDS_PER_DAY, secs[np.argmax(seen[:end_a], axis=0)] - jitter)
    since = np.broadcast_to(since_a, (n_t, n_s)).copy()
    if reset is not None:
        since[reset:] = secs[reset + np.argmax(seen[reset:], axis=0)] - jitter
        since[reset:] = np.maximum(since[reset:], secs[reset])

    ti, sj = np.nonzero(seen)
    calls_out = c[ti, sj]
    mean_out = cum["total_exec_time_ms"][ti, sj] / calls_out
    users = np.array([st.user for st in STATEMENTS])
    return pd.DataFrame(
        {
            "server": spec.pg_server,
            "taken_at": times[ti],
            "userid": np.array([USER_OIDS[u] for u in users], dtype=np.int64)[sj],
            "dbid": np.int64(DB_OID),
            "queryid": np.array([_queryid(st.query) for st in STATEMENTS], dtype=np.int64)[sj],
            "toplevel": True,
            "username": users[sj],
            "datname": DATNAME,
            "query": np.array([st.query for st in STATEMENTS], dtype=object)[sj],
            "calls": as_int64(calls_out),
            "total_exec_time_ms": cum["total_exec_time_ms"][ti, sj],
            "min_exec_time_ms": run_min[ti, sj],
            "max_exec_time_ms": run_max[ti, sj],
            "mean_exec_time_ms": mean_out,
            "stddev_exec_time_ms": np.sqrt(np.maximum(cum["sumsq"][ti, sj] / calls_out - mean_out**2, 0.0)),
            "plans": np.int64(0),  # pg_stat_statements.track_planning = off
            "total_plan_time_ms": 0.0,
            "rows": as_int64(cum["rows"][ti, sj]),
            **{
                name: as_int64(cum[name][ti, sj])
                for name in ("shared_blks_hit", "shared_blks_read", "shared_blks_dirtied", "shared_blks_written")
            },
            "local_blks_hit": np.int64(0),
            "local_blks_read": np.int64(0),
            "temp_blks_read": as_int64(cum["temp_blks_read"][ti, sj]),
            "temp_blks_written": as_int64(cum["temp_blks_written"][ti, sj]),
            "blk_read_time_ms": cum["blk_read_time_ms"][ti, sj],
            "blk_write_time_ms": cum["blk_write_time_ms"][ti, sj],
            "wal_bytes": cum["wal_bytes"][ti, sj],
            "stats_since": at_seconds(spec, since[ti, sj]),
        }
    )


def snapshots_frame(spec: DemoSpec, times: pd.DatetimeIndex) -> pd.DataFrame:
    """pg_snapshots: server version, max_connections, pgss_dealloc and pgss_stats_reset at each snapshot."""
    secs = seconds_since_start(spec, times)
    reset = RESET_DAY * SECONDS_PER_DAY
    stats_reset = np.where(secs >= reset, reset, -PRIOR_DAYS * SECONDS_PER_DAY)
    return pd.DataFrame(
        {
            "server": spec.pg_server,
            "taken_at": times,
            "server_version_num": np.int32(SERVER_VERSION_NUM),
            "pgss_version": PGSS_VERSION,
            "max_connections": np.int32(MAX_CONNECTIONS),
            "pgss_dealloc": np.where(secs >= DEALLOC_DAY * SECONDS_PER_DAY, 2, 0).astype(np.int64),
            "pgss_stats_reset": at_seconds(spec, stats_reset),
        }
    )
