"""pg_activity and pg_long_sessions: sessions by state, the nightly report and two idle-in-transaction ones."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sre_lib.demo.postgres_counters import as_int32
from sre_lib.demo.postgres_scenario import (
    DATNAME,
    MAX_CONNECTIONS,
    REPORT_LOCAL_TIME,
    REPORT_QUERY,
)
from sre_lib.demo.spec import DemoSpec
from sre_lib.demo.timeline import (
    SECONDS_PER_DAY,
    at_seconds,
    daily_load,
    local_instants,
    seconds_since_start,
)

_STATES = ("active", "idle", "idle in transaction")


def activity_frames(
    spec: DemoSpec, times: pd.DatetimeIndex, rng: np.random.Generator, connections: pd.Series | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """pg_activity by state and the pg_long_sessions behind its long durations. With ``connections`` (the
    demo's db_connections metric, % of max_connections, by time) the session count follows it, so the
    Prometheus view and the pg_stat_activity view of the same server agree."""
    secs = seconds_since_start(spec, times)
    n_t, step = len(times), spec.pg_snapshot_every.total_seconds()
    rel = daily_load(times, spec.tz) / daily_load(times, spec.tz).max()
    total = np.round((14 + 44 * rel * (1 + 0.15 * secs / (spec.days * SECONDS_PER_DAY))) * rng.lognormal(0, 0.04, n_t))
    active = rng.binomial(total.astype(np.int64), 0.06 + 0.14 * rel)
    in_xact = np.minimum(rng.poisson(0.2 + 0.8 * rel), total - active)
    sessions = np.stack([active, total - active - in_xact, in_xact], axis=1).astype(float)
    if connections is not None:  # idle sessions make up the metric's total (the random draws stay as they were)
        percent = connections.sort_index().reindex(times, method="nearest").to_numpy()
        sessions[:, 1] = np.maximum(np.round(percent * MAX_CONNECTIONS / 100.0) - active - in_xact, 0.0)
    waiting = np.zeros_like(sessions)
    waiting[:, 0] = rng.binomial(active, 0.03)
    query_s = np.full_like(sessions, np.nan)
    xact_s = np.full_like(sessions, np.nan)
    query_s[:, 0] = np.where(active > 0, rng.gamma(1.5, 0.4, n_t) + 0.02, np.nan)
    xact_s[:, 0] = query_s[:, 0] + rng.exponential(0.2, n_t)
    xact_s[:, 2] = np.where(in_xact > 0, rng.exponential(1.5, n_t) + 0.05, np.nan)
    query_s[:, 2] = xact_s[:, 2] * rng.uniform(0.3, 1.0, n_t)

    # The nightly report, seen running for 2-3 minutes at the 02:00 snapshot.
    report_at = seconds_since_start(spec, local_instants(spec.start, spec.end, spec.tz, REPORT_LOCAL_TIME))
    report_idx = np.unique(np.clip(np.round(report_at / step).astype(int), 0, n_t - 1))
    report_start = secs[report_idx] - rng.uniform(120, 180, len(report_idx))
    yesterday = pd.Series((times[report_idx].tz_convert(spec.tz) - pd.Timedelta(days=1)).strftime("%Y-%m-%d"))
    head, tail = REPORT_QUERY.replace("$1", "'day'").split("$2")
    episodes = [
        pd.DataFrame(
            {
                "idx": report_idx,
                "pid": rng.integers(20_000, 99_999, len(report_idx)),
                "username": "hub_report",
                "application": "hub-reports",
                "state": "active",
                "xact_start": report_start,
                "query_start": report_start,
                "state_change": report_start,
                "query": (head + "'" + yesterday + "'" + tail).to_numpy(str),
            }
        )
    ]
    # Idle in transaction: a worker holding a row lock at the end, and a web request on day 52.
    end_s = secs[-1]
    for xact_start, end, user, app, query in (
        (
            end_s - 50 * 60,
            end_s,
            "hub_worker",
            "hub-worker",
            "SELECT id, kind, payload FROM jobs WHERE id = 7741203 FOR UPDATE",
        ),
        (
            52.3 * SECONDS_PER_DAY,
            52.3 * SECONDS_PER_DAY + 25 * 60,
            "hub_app",
            "hub-web",
            "UPDATE users SET last_seen_at = now() WHERE id = 88231",
        ),
    ):
        idx = np.nonzero((secs > xact_start + 60) & (secs <= end))[0]
        episodes.append(
            pd.DataFrame(
                {
                    "idx": idx,
                    "pid": int(rng.integers(20_000, 99_999)),
                    "username": user,
                    "application": app,
                    "state": "idle in transaction",
                    "xact_start": xact_start,
                    "query_start": xact_start + 30,
                    "state_change": xact_start + 30.02,
                    "query": query,
                }
            )
        )
    long = pd.concat(episodes, ignore_index=True)
    long_query_s = secs[long["idx"]] - long["query_start"].to_numpy()
    long_xact_s = secs[long["idx"]] - long["xact_start"].to_numpy()
    is_active = (long["state"] == "active").to_numpy()
    duration = np.where(is_active, long_query_s, long_xact_s)

    col = np.where(is_active, 0, 2)
    np.maximum.at(sessions, (long["idx"].to_numpy(), col), 1.0)
    np.fmax.at(query_s, (long["idx"].to_numpy(), col), long_query_s)
    np.fmax.at(xact_s, (long["idx"].to_numpy(), col), long_xact_s)

    ti, sj = np.nonzero(sessions > 0)
    activity = pd.DataFrame(
        {
            "server": spec.pg_server,
            "taken_at": times[ti],
            "datname": DATNAME,
            "state": np.array(_STATES, dtype=object)[sj],
            "sessions": as_int32(sessions[ti, sj]),
            "waiting": as_int32(waiting[ti, sj]),
            "longest_query_seconds": query_s[ti, sj],
            "longest_xact_seconds": xact_s[ti, sj],
        }
    )
    long_sessions = pd.DataFrame(
        {
            "server": spec.pg_server,
            "taken_at": times[long["idx"]],
            "pid": long["pid"].to_numpy(np.int32),
            "datname": DATNAME,
            "username": long["username"].to_numpy(str),
            "application": long["application"].to_numpy(str),
            "state": long["state"].to_numpy(str),
            **{c: at_seconds(spec, long[c].to_numpy(float)) for c in ("xact_start", "query_start", "state_change")},
            "duration_seconds": duration,
            "query": long["query"].str.slice(0, 1000).to_numpy(str),
        }
    ).sort_values(["taken_at", "pid"], ignore_index=True)
    return activity, long_sessions
