"""Synthetic PostgreSQL statistics: what a collector would have read from the Community Hub database.

Every 15 minutes: pg_snapshots, pg_stat_statements, pg_activity, pg_long_sessions, pg_archiver.
Every hour: pg_tables, pg_indexes, pg_databases, pg_sequences. pg_replication(_slots): no rows, no replica.

Counters are cumulative, as collected. The history carries scripted findings, so that every analysis has
something real to find (the tests measure each one from the frames):

* REGRESSION_QUERY's mean time jumps from ~6 ms to ~90 ms at day REGRESSION_DAY (86, in the last week), then stays;
* NEW_SLOW_QUERY first runs at day NEW_STATEMENT_DAY (85): ~300 ms a call, ~120 calls a day;
* pg_stat_statements_reset() at day RESET_DAY (45): counters, pgss_stats_reset and stats_since restart;
* XSS_QUERY carries ``<script>`` in a comment (pg_stat_statements keeps comments): reports must escape it;
* pgss_dealloc rises once, from 0 to 2, at day DEALLOC_DAY;
* maintenance debt: events_log bloated (autovacuum last ran 13 days before the end), sessions not analysed
  for 9 days and outside the weekly VACUUM ANALYZE job, comments (1.25 M+ rows) seq-scanned by a query
  on an unindexed column and below 99 % heap cache hits, an unused index (idx_users_legacy_email), a
  duplicate pair (idx_posts_author, idx_posts_author_created), an invalid index (idx_events_log_tmp),
  audit_log_id_seq (integer) above 90 % of 2^31-1, every relation's frozen xid age growing;
* an idle-in-transaction worker session at the end, the nightly report running > 60 s every night;
* a 2-hour WAL archive failure at day ARCHIVE_FAILURE_DAY (60).

The server is PostgreSQL 17 (pg_stat_statements 1.11), so every column the warehouse normalises is filled,
stats_since included: analyses use it (with stats_reset) to see that an entry's counters restarted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from sre_lib.demo.spec import DemoSpec

_SEED_OFFSET = 101
DATNAME = "community_hub"
SCHEMA = "public"
SERVER_VERSION_NUM = 170002
PGSS_VERSION = "1.11"
MAX_CONNECTIONS = 100
INT4_MAX = 2_147_483_647
INT8_MAX = 9_223_372_036_854_775_807

RESET_DAY = 45.0
REGRESSION_DAY = 86.0
NEW_STATEMENT_DAY = 85.0
DEALLOC_DAY = 85.5
ARCHIVE_FAILURE_DAY = 60.0
ARCHIVE_FAILURE_DURATION = timedelta(hours=2)
PRIOR_DAYS = 20.0  # pg_stat_statements was last reset this long before the span
REPORT_LOCAL_TIME = "02:00"  # the nightly analytics report is running at this snapshot
WAL_INTERVAL = timedelta(minutes=5)  # archive_timeout: one WAL segment archived every 5 minutes
WAL_SEGMENT_AT_START = 0x3A2C0  # WAL segment number at spec.start
WEEKLY_VACUUM_LOCAL_TIME = "04:30"  # Sundays: VACUUM ANALYZE of the tables listed in the cron job

_DAY = 86_400.0


# ---------------------------------------------------------------------------------------------- helpers


def snapshot_times(spec: DemoSpec, every: timedelta) -> pd.DatetimeIndex:
    """Snapshot instants from spec.start to spec.end inclusive (UTC)."""
    return pd.date_range(spec.start, spec.end, freq=every)


def seconds_since_start(spec: DemoSpec, times: pd.DatetimeIndex) -> np.ndarray:
    return np.asarray((pd.DatetimeIndex(times) - pd.Timestamp(spec.start)).total_seconds(), dtype=float)


def at_seconds(spec: DemoSpec, secs: np.ndarray) -> pd.DatetimeIndex:
    """Instants ``secs`` seconds after spec.start, to the microsecond (NaN gives NaT)."""
    offsets = pd.to_timedelta(np.round(np.asarray(secs, dtype=float), 6), unit="s")
    return (pd.Timestamp(spec.start) + offsets).as_unit("us")


_LOAD_HOURS = np.arange(0, 25, 2)
_LOAD_LEVELS = np.array([0.42, 0.25, 0.18, 0.22, 0.45, 0.62, 0.72, 0.70, 0.72, 0.85, 1.0, 0.78, 0.42])
WEEKEND_FACTOR = 0.78


def daily_load(times: pd.DatetimeIndex, tz: ZoneInfo, weekend_factor: float = WEEKEND_FACTOR) -> np.ndarray:
    """Relative traffic at each instant: low at 04:00, peak at 20:00 local time, weekends lower.

    Averages 1 over whole weeks, so ``per_day * daily_load / snapshots_per_day`` is a rate per snapshot.
    """
    local = pd.DatetimeIndex(times).tz_convert(tz)
    level = np.interp(local.hour + local.minute / 60, _LOAD_HOURS, _LOAD_LEVELS)
    level = level * np.where(local.day_of_week >= 5, weekend_factor, 1.0)
    return level / (_LOAD_LEVELS[:-1].mean() * (5 + 2 * weekend_factor) / 7)


def local_instants(start: datetime, end: datetime, tz: ZoneInfo, hhmm: str) -> pd.DatetimeIndex:
    """Each day's local wall-clock time ``hhmm`` (DST-correct) that falls within [start, end], in UTC."""
    hour, minute = (int(part) for part in hhmm.split(":"))
    days = pd.date_range(start.astimezone(tz).date(), end.astimezone(tz).date(), freq="D")
    local = (days + pd.Timedelta(hours=hour, minutes=minute)).tz_localize(
        tz, nonexistent="shift_forward", ambiguous=np.ones(len(days), dtype=bool)
    )
    utc = local.tz_convert("UTC")
    return utc[(utc >= start) & (utc <= end)]


_HEX = np.array(list("0123456789ABCDEF"))


def wal_names(segments: np.ndarray, timeline: int = 1) -> np.ndarray:
    """WAL file names (16 MB segments), e.g. 00000001000003A2000000C0, vectorised."""
    seg = np.asarray(segments, dtype=np.int64)
    words = np.stack([np.full_like(seg, timeline), seg >> 8, seg & 0xFF], axis=1)
    digits = (words[:, :, None] >> np.arange(28, -1, -4)) & 0xF
    return np.ascontiguousarray(_HEX[digits]).reshape(len(seg), 24).view("<U24").ravel()


def wal_segment_at(spec: DemoSpec, times: pd.DatetimeIndex) -> np.ndarray:
    """The WAL segment being written at each instant (one switch per archive_timeout)."""
    return WAL_SEGMENT_AT_START + np.floor(seconds_since_start(spec, times) / WAL_INTERVAL.total_seconds())


def _first_index_at(secs: np.ndarray, at: float) -> int | None:
    """Index of the first snapshot at or after ``at`` seconds, None if that is the first or none."""
    idx = int(np.searchsorted(secs, at))
    return idx if 0 < idx < len(secs) else None


def _cumulative(increments: np.ndarray, reset: int | None) -> np.ndarray:
    """Running totals down axis 0. From row ``reset`` on they restart from zero: the increments of that row
    (work done just before the reset) are lost with it."""
    inc = increments.copy()
    if reset is not None:
        inc[reset] = 0
    total = np.cumsum(inc, axis=0)
    if reset is not None:
        total[reset:] -= total[reset - 1]
    return total


def _running(ufunc: np.ufunc, values: np.ndarray, reset: int | None) -> np.ndarray:
    """Running min or max down axis 0, restarting at ``reset``."""
    cuts = [0, reset, len(values)] if reset is not None else [0, len(values)]
    return np.concatenate([ufunc.accumulate(values[a:b], axis=0) for a, b in pairwise(cuts)])


def _queryid(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


def _int32(values: np.ndarray) -> np.ndarray:
    return np.asarray(np.round(values), dtype=np.int32)


def _int64(values: np.ndarray) -> np.ndarray:
    return np.asarray(np.round(values), dtype=np.int64)


def _last_event(events: np.ndarray, secs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each snapshot: seconds of the latest event at or before it (NaN if none) and how many there were."""
    events = np.sort(events)
    count = np.searchsorted(events, secs, side="right")
    if len(events) == 0:
        return np.full(len(secs), np.nan), count
    return np.where(count > 0, events[np.maximum(count - 1, 0)], np.nan), count


# ---------------------------------------------------------------------------------------------- statements


@dataclass(frozen=True)
class Statement:
    """One normalised statement and its workload. Rates are calls per day at the start of the span."""

    query: str
    user: str
    per_day: float
    mean_ms: float
    rows: float  # rows per call
    blks: float  # shared blocks touched per call
    hit: float = 0.9995  # share of them found in shared_buffers
    profile: str = "web"  # web (daily/weekly cycle, growing), flat, hourly, or a local time "HH:MM"
    wal: float = 0.0  # WAL bytes per call
    temp: float = 0.0  # temp blocks written (and read back) per call
    since_day: float | None = None  # first runs on this day of the span


REGRESSION_QUERY = (
    "SELECT p.id, p.author_id, p.title, p.body, p.created_at FROM posts p "
    "WHERE p.community_id = $1 AND p.created_at < $2 ORDER BY p.created_at DESC LIMIT $3"
)
NEW_SLOW_QUERY = (
    "SELECT e.id, e.title, e.starts_at, count(r.user_id) AS attendees FROM events e "
    "LEFT JOIN event_rsvps r ON r.event_id = e.id WHERE e.starts_at BETWEEN $1 AND $2 "
    "AND lower(e.title) LIKE $3 GROUP BY e.id ORDER BY attendees DESC LIMIT $4"
)
XSS_QUERY = (
    "/* <script>alert('x')</script> */ SELECT p.id, p.title, p.created_at FROM posts p "
    "WHERE p.author_id = $1 ORDER BY p.created_at DESC LIMIT $2"
)
SEQ_SCAN_QUERY = (
    "SELECT c.id, c.post_id, c.body, c.created_at FROM comments c "
    "WHERE c.author_id = $1 ORDER BY c.created_at DESC LIMIT $2"
)
REPORT_QUERY = (
    "SELECT date_trunc($1, c.created_at) AS day, p.community_id, count(*) AS comments, "
    "count(DISTINCT c.author_id) AS authors FROM comments c JOIN posts p ON p.id = c.post_id "
    "WHERE c.created_at >= $2 GROUP BY 1, 2 ORDER BY 1, 2"
)
# audit_log grows only by its INSERT statement: the statement's calls and the table's (and its id sequence's)
# growth are one rate.
AUDIT_ROWS = 12_000_000
AUDIT_GROWTH_WEEK = 0.018
AUDIT_INSERTS_PER_DAY = AUDIT_ROWS * AUDIT_GROWTH_WEEK / 7
AUDIT_INSERT_QUERY = (
    "INSERT INTO audit_log (actor_id, action, target_type, target_id, created_at) VALUES ($1, $2, $3, $4, $5)"
)

# fmt: off
STATEMENTS: tuple[Statement, ...] = (
    Statement("SELECT id, email, display_name, avatar_url, created_at FROM users WHERE id = $1",
              "hub_app", 420_000, 0.07, 1, 4, 0.9999),
    Statement("SELECT user_id, data, expires_at FROM sessions WHERE token = $1 AND expires_at > now()",
              "hub_app", 650_000, 0.05, 1, 4, 0.9999),
    Statement("UPDATE sessions SET last_seen_at = $1, expires_at = $2 WHERE token = $3",
              "hub_app", 210_000, 0.11, 1, 5, wal=190),
    Statement("INSERT INTO sessions (token, user_id, data, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
              "hub_app", 9_000, 0.18, 1, 7, wal=520),
    Statement(REGRESSION_QUERY, "hub_app", 60_000, 6.0, 20, 60, 0.999),
    Statement("SELECT c.id, c.author_id, c.body, c.created_at FROM comments c WHERE c.post_id = $1 "
              "ORDER BY c.created_at LIMIT $2", "hub_app", 4_000, 1.4, 25, 32, 0.998),
    Statement(SEQ_SCAN_QUERY, "hub_app", 9_000, 120.0, 10, 80_000, 0.965),
    Statement("INSERT INTO comments (post_id, author_id, body, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
              "hub_app", 4_500, 0.9, 1, 12, wal=950),
    Statement("INSERT INTO posts (community_id, author_id, title, body, created_at) "
              "VALUES ($1, $2, $3, $4, $5) RETURNING id", "hub_app", 1_300, 1.3, 1, 16, wal=2_600),
    Statement("SELECT e.id, e.title, e.starts_at, e.venue FROM events e WHERE e.business_id = $1 "
              "AND e.starts_at >= $2 ORDER BY e.starts_at LIMIT $3", "hub_app", 14_000, 0.45, 8, 12),
    Statement("SELECT id, name, slug, category, rating FROM businesses WHERE slug = $1",
              "hub_app", 35_000, 0.09, 1, 4),
    Statement("SELECT b.id, b.name, ts_rank(b.search_vector, q) AS rank FROM businesses b, "
              "plainto_tsquery($1, $2) q WHERE b.search_vector @@ q ORDER BY rank DESC LIMIT $3",
              "hub_app", 18_000, 24.0, 20, 900, 0.996),
    Statement("SELECT id, kind, payload, created_at FROM notifications WHERE user_id = $1 AND read_at IS NULL "
              "ORDER BY created_at DESC LIMIT $2", "hub_app", 70_000, 0.35, 5, 9),
    Statement("INSERT INTO event_rsvps (event_id, user_id, created_at) VALUES ($1, $2, $3) "
              "ON CONFLICT (event_id, user_id) DO NOTHING", "hub_app", 2_200, 0.5, 1, 8, wal=310),
    Statement(AUDIT_INSERT_QUERY, "hub_app", AUDIT_INSERTS_PER_DAY, 0.14, 1, 5, wal=340),
    Statement("INSERT INTO events_log (user_id, kind, payload, created_at) VALUES ($1, $2, $3, $4)",
              "hub_app", 330_000, 0.05, 1, 4, wal=260),
    Statement("UPDATE jobs SET status = $1, locked_at = now(), locked_by = $2 WHERE id = (SELECT id FROM jobs "
              "WHERE status = $3 AND run_at <= now() ORDER BY run_at FOR UPDATE SKIP LOCKED LIMIT $4) "
              "RETURNING id, kind, payload", "hub_worker", 17_280, 1.1, 1, 14, profile="flat", wal=300),
    Statement("DELETE FROM sessions WHERE expires_at < $1", "hub_worker", 24, 450.0, 3_750, 2_500,
              profile="hourly", wal=225_000),
    Statement("DELETE FROM events_log WHERE created_at < $1", "hub_worker", 1, 38_000.0, 280_000, 190_000,
              0.97, profile="03:30", wal=19_600_000),
    Statement(REPORT_QUERY, "hub_report", 1, 240_000.0, 2_900, 160_000, 0.8, profile="02:01", temp=48_000),
    Statement(XSS_QUERY, "hub_app", 3_000, 0.6, 10, 14),
    Statement(NEW_SLOW_QUERY, "hub_app", 120, 300.0, 20, 21_000, 0.99, since_day=NEW_STATEMENT_DAY),
)
# fmt: on

USER_OIDS = {"hub_app": 16_389, "hub_worker": 16_390, "hub_report": 16_391}
DB_OID = 16_401
CALL_GROWTH = 0.30  # web traffic grows 30 % over the span


def _scheduled_calls(spec: DemoSpec, st: Statement, secs: np.ndarray, step: float) -> np.ndarray:
    """Calls per snapshot interval of a job that runs hourly or daily at a local time (exact, no noise)."""
    if st.profile == "hourly":
        runs = np.arange(300.0, secs[-1], 3600.0)  # at five past each hour
    else:
        runs = seconds_since_start(spec, local_instants(spec.start, spec.end, spec.tz, st.profile))
    idx = (np.floor(runs / step) + 1).astype(int)
    return np.bincount(idx[idx < len(secs)], minlength=len(secs)).astype(float)


def _statements(spec: DemoSpec, times: pd.DatetimeIndex, rng: np.random.Generator) -> pd.DataFrame:
    secs = seconds_since_start(spec, times)
    day, n_t, n_s = secs / _DAY, len(times), len(STATEMENTS)
    step = spec.pg_snapshot_every.total_seconds()
    load = daily_load(times, spec.tz)
    growth = 1 + CALL_GROWTH * day / spec.days
    reset = _first_index_at(secs, RESET_DAY * _DAY)

    calls = np.zeros((n_t, n_s))
    for j, st in enumerate(STATEMENTS):
        if st.profile in ("web", "flat"):
            shape = load * growth if st.profile == "web" else np.ones(n_t)
            lam = st.per_day * step / _DAY * shape
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
    cum = {name: _cumulative(values, reset) for name, values in inc.items()}
    c = cum["calls"]
    run_min = _running(np.minimum, np.where(calls > 0, lo, np.inf), reset)
    run_max = _running(np.maximum, np.where(calls > 0, hi, 0.0), reset)

    # stats_since: the previous reset for entries alive at the start, else the entry's first call
    seen = c > 0
    jitter = rng.uniform(0, step, n_s)
    end_a = reset if reset is not None else n_t
    since_a = np.where(c[0] > 0, -PRIOR_DAYS * _DAY, secs[np.argmax(seen[:end_a], axis=0)] - jitter)
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
            "calls": _int64(calls_out),
            "total_exec_time_ms": cum["total_exec_time_ms"][ti, sj],
            "min_exec_time_ms": run_min[ti, sj],
            "max_exec_time_ms": run_max[ti, sj],
            "mean_exec_time_ms": mean_out,
            "stddev_exec_time_ms": np.sqrt(np.maximum(cum["sumsq"][ti, sj] / calls_out - mean_out**2, 0.0)),
            "plans": np.int64(0),  # pg_stat_statements.track_planning = off
            "total_plan_time_ms": 0.0,
            "rows": _int64(cum["rows"][ti, sj]),
            **{
                name: _int64(cum[name][ti, sj])
                for name in ("shared_blks_hit", "shared_blks_read", "shared_blks_dirtied", "shared_blks_written")
            },
            "local_blks_hit": np.int64(0),
            "local_blks_read": np.int64(0),
            "temp_blks_read": _int64(cum["temp_blks_read"][ti, sj]),
            "temp_blks_written": _int64(cum["temp_blks_written"][ti, sj]),
            "blk_read_time_ms": cum["blk_read_time_ms"][ti, sj],
            "blk_write_time_ms": cum["blk_write_time_ms"][ti, sj],
            "wal_bytes": cum["wal_bytes"][ti, sj],
            "stats_since": at_seconds(spec, since[ti, sj]),
        }
    )


def _snapshots(spec: DemoSpec, times: pd.DatetimeIndex) -> pd.DataFrame:
    secs = seconds_since_start(spec, times)
    reset = RESET_DAY * _DAY
    stats_reset = np.where(secs >= reset, reset, -PRIOR_DAYS * _DAY)
    return pd.DataFrame(
        {
            "server": spec.pg_server,
            "taken_at": times,
            "server_version_num": np.int32(SERVER_VERSION_NUM),
            "pgss_version": PGSS_VERSION,
            "max_connections": np.int32(MAX_CONNECTIONS),
            "pgss_dealloc": np.where(secs >= DEALLOC_DAY * _DAY, 2, 0).astype(np.int64),
            "pgss_stats_reset": at_seconds(spec, stats_reset),
        }
    )


# ---------------------------------------------------------------------------------------------- sessions

_STATES = ("active", "idle", "idle in transaction")


def _activity(
    spec: DemoSpec, times: pd.DatetimeIndex, rng: np.random.Generator, connections: pd.Series | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """pg_activity by state and the pg_long_sessions behind its long durations. With ``connections`` (the
    demo's db_connections metric, % of max_connections, by time) the session count follows it, so the
    Prometheus view and the pg_stat_activity view of the same server agree."""
    secs = seconds_since_start(spec, times)
    n_t, step = len(times), spec.pg_snapshot_every.total_seconds()
    rel = daily_load(times, spec.tz) / daily_load(times, spec.tz).max()
    total = np.round((14 + 44 * rel * (1 + 0.15 * secs / (spec.days * _DAY))) * rng.lognormal(0, 0.04, n_t))
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
            52.3 * _DAY,
            52.3 * _DAY + 25 * 60,
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
            "sessions": _int32(sessions[ti, sj]),
            "waiting": _int32(waiting[ti, sj]),
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


# ---------------------------------------------------------------------------------------------- archiver


def _archiver(spec: DemoSpec, times: pd.DatetimeIndex) -> pd.DataFrame:
    """One WAL segment every 5 minutes; during the failure every attempt fails until the backlog clears."""
    secs = seconds_since_start(spec, times)
    interval = WAL_INTERVAL.total_seconds()
    f0 = ARCHIVE_FAILURE_DAY * _DAY
    f1 = f0 + ARCHIVE_FAILURE_DURATION.total_seconds()
    # Segment WAL_SEGMENT_AT_START + k - 1 fills up at k * 5 min and is archived 2 s later.
    k = np.arange(-1, int(secs[-1] // interval) + 2)
    nominal = k * interval + 2.0
    stuck = (nominal >= f0) & (nominal < f1 + 10)
    archived_at = np.where(stuck, f1 + 10 + np.cumsum(stuck) * 1.0, nominal)  # backlog flushed on recovery
    order = np.argsort(archived_at, kind="stable")
    archived_at, segment = archived_at[order], (WAL_SEGMENT_AT_START + k - 1)[order]
    attempts = np.arange(f0 + 30, f1, 60.0)  # the archiver retries each minute

    done = np.searchsorted(archived_at, secs, side="right")
    last_fail, failures = _last_event(attempts, secs)
    failed_wal = WAL_SEGMENT_AT_START + k[np.argmax(stuck)] - 1 if stuck.any() else WAL_SEGMENT_AT_START
    last_ok = np.where(done > 0, archived_at[np.maximum(done - 1, 0)], np.nan)
    return pd.DataFrame(
        {
            "server": spec.pg_server,
            "taken_at": times,
            "archive_mode": "on",
            "archived_count": (11_520 + done).astype(np.int64),
            "last_archived_wal": wal_names(segment[np.maximum(done - 1, 0)]),
            "last_archived_time": at_seconds(spec, last_ok),
            "failed_count": failures.astype(np.int64),
            "last_failed_wal": pd.array(
                np.where(failures > 0, wal_names(np.array([failed_wal]))[0], None), dtype="str"
            ),
            "last_failed_time": at_seconds(spec, last_fail),
            "stats_reset": at_seconds(spec, np.full(len(secs), -40 * _DAY)),
        }
    )


# ---------------------------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class Table:
    """A user table's size, churn, access pattern and maintenance (rates per day at the start)."""

    name: str
    rows: float  # live rows at the start
    growth_week: float  # net growth per week
    row_bytes: float
    seq_day: float  # sequential scans per day
    heap_day: float  # heap blocks touched per day
    heap_hit: float  # share found in shared_buffers
    xid_age_m: float  # age(relfrozenxid) at the start, millions
    autovacuum_days: float  # autovacuum runs about this often ...
    autoanalyze_days: float
    del_day: float = 0.0  # deleted rows per day, share of live rows
    upd_day: float = 0.0  # updated rows per day, share of live rows
    del_at: str = "web"  # deletes follow traffic (web), run hourly (flat) or nightly ("HH:MM")
    weekly_job: bool = True  # listed in the weekly VACUUM ANALYZE cron job
    autovacuum_stop_days: float = 0.0  # ... but not in the last this many days
    autoanalyze_stop_days: float = 0.0


# fmt: off
TABLES: tuple[Table, ...] = (
    # name, live rows, growth/week, bytes/row, seq scans/day, heap blocks/day, heap hit share,
    # age(relfrozenxid) in millions, autovacuum and autoanalyze about every ... days
    Table("users",          600_000,    0.014,   420,    30, 2.0e6, 0.9995, 48, 4, 2, upd_day=0.05),
    Table("sessions",       150_000,    0.005,   300,     2, 4.0e6, 0.9998,  9, 0.4, 0.5, del_day=0.6, upd_day=3.0,
          del_at="flat", weekly_job=False, autoanalyze_stop_days=9),
    Table("posts",          320_000,    0.020, 1_400,    40, 1.5e6, 0.998,  52, 3, 1.5, del_day=5e-4, upd_day=0.01),
    Table("comments",     1_250_000,    0.020,   580, 9_000, 7.2e8, 0.965,  61, 5, 2, del_day=2e-4, upd_day=0.005),
    Table("events",          40_000,    0.020,   700,   300, 2.0e5, 0.999,  35, 6, 3, upd_day=0.02),
    Table("event_rsvps",    380_000,    0.020,    60,    20, 1.0e5, 0.999,  33, 6, 3, del_day=0.001),
    Table("businesses",      12_000,    0.010, 1_900,   400, 1.5e6, 0.9995, 58, 6, 3, upd_day=0.02),
    Table("jobs",            25_000,    0.0,     260,    10, 6.0e5, 0.9999,  4, 0.05, 0.1, del_day=1.0, upd_day=2.0,
          del_at="flat"),
    Table("audit_log", AUDIT_ROWS, AUDIT_GROWTH_WEEK, 110,  2, 1.0e5, 0.995,  63, 6, 3),
    Table("events_log",   8_000_000,    0.012,   160,     3, 5.0e5, 0.993,  57, 1.5, 1.5, del_day=0.035,
          del_at="03:30", weekly_job=False, autovacuum_stop_days=13),
    Table("notifications", 2_200_000,   0.018,   200,     5, 8.0e5, 0.997,  22, 3, 1.5, del_day=0.01, upd_day=0.05),
    Table("media_uploads",  180_000,    0.020,   640,     5, 1.0e5, 0.997,  40, 6, 3),
)

# id sequences: table -> (data_type, last_value at the start). audit_log's ids were carried over from the
# legacy platform, so its int4 sequence is already near 2^31 - 1.
SEQUENCES: dict[str, tuple[str, float]] = {
    "users": ("bigint", 640_000), "posts": ("bigint", 331_000), "comments": ("integer", 1_290_000),
    "events": ("integer", 41_500), "businesses": ("integer", 12_800), "jobs": ("bigint", 48_200_000),
    "audit_log": ("integer", 0.9 * INT4_MAX - 0.6e6), "events_log": ("bigint", 412_000_000),
    "notifications": ("bigint", 2_600_000), "media_uploads": ("integer", 183_000),
}
# fmt: on


@dataclass(frozen=True)
class Index:
    """A user index: its definition after ``USING``, bytes per entry, scans per day."""

    name: str
    table: str
    using: str  # e.g. "btree (author_id, created_at)" as pg_get_indexdef prints it
    entry_bytes: float
    scans_day: float
    tuples_per_scan: float = 1.0
    unique: bool = False
    primary: bool = False
    valid: bool = True
    coverage: float = 1.0  # share of rows indexed (partial indexes)


def _pkey(table: str, scans_day: float, columns: str = "id", entry_bytes: float = 24) -> Index:
    return Index(f"{table}_pkey", table, f"btree ({columns})", entry_bytes, scans_day, 1, True, True)


# fmt: off
INDEXES: tuple[Index, ...] = (
    _pkey("users", 430_000),
    Index("users_email_key", "users", "btree (email)", 56, 9_000, unique=True),
    Index("idx_users_legacy_email", "users", "btree (lower((email)::text))", 52, 0),
    _pkey("sessions", 870_000, "token", 64),
    Index("idx_sessions_user_id", "sessions", "btree (user_id)", 24, 500, 3),
    Index("idx_sessions_expires_at", "sessions", "btree (expires_at)", 24, 24, 3_750),
    _pkey("posts", 60_000),
    Index("idx_posts_community_created", "posts", "btree (community_id, created_at DESC)", 32, 60_000, 20),
    Index("idx_posts_author", "posts", "btree (author_id)", 24, 1_500, 10),
    Index("idx_posts_author_created", "posts", "btree (author_id, created_at)", 32, 3_000, 10),
    _pkey("comments", 300),
    Index("idx_comments_post_created", "comments", "btree (post_id, created_at)", 32, 4_000, 25),
    _pkey("events", 8_000),
    Index("idx_events_business_starts", "events", "btree (business_id, starts_at)", 32, 14_000, 8),
    _pkey("event_rsvps", 2_500, "event_id, user_id", 32),
    _pkey("businesses", 20_000),
    Index("businesses_slug_key", "businesses", "btree (slug)", 48, 35_000, unique=True),
    Index("idx_businesses_search", "businesses", "gin (search_vector)", 60, 18_000, 40),
    _pkey("jobs", 17_000),
    Index("idx_jobs_queued", "jobs", "btree (run_at) WHERE ((status)::text = 'queued'::text)", 24, 17_300,
          coverage=0.05),
    _pkey("audit_log", 20),
    Index("idx_audit_log_created_at", "audit_log", "brin (created_at)", 0.006, 4, 50_000),
    _pkey("events_log", 10),
    Index("idx_events_log_created_at", "events_log", "btree (created_at)", 24, 30, 10_000),
    Index("idx_events_log_tmp", "events_log", "btree (user_id, kind)", 40, 0, valid=False),
    _pkey("notifications", 3_000),
    Index("idx_notifications_user_unread", "notifications",
          "btree (user_id, created_at DESC) WHERE (read_at IS NULL)", 32, 70_000, 5, coverage=0.15),
    _pkey("media_uploads", 6_000),
    Index("idx_media_uploads_owner", "media_uploads", "btree (owner_id)", 24, 2_000, 4),
)
# fmt: on

XID_PER_DAY = 0.85e6  # write transactions a day at the start (grow with traffic)
STATS_AGE_DAYS = 120.0  # pg_stat_* counters accumulated this long before the span


def _indexdef(ix: Index) -> str:
    kind = "UNIQUE INDEX" if ix.unique else "INDEX"
    return f"CREATE {kind} {ix.name} ON {SCHEMA}.{ix.table} USING {ix.using}"


def _weekly_job(spec: DemoSpec) -> pd.DatetimeIndex:
    """The Sunday VACUUM ANALYZE runs, including the last one before the span."""
    runs = local_instants(spec.start - timedelta(days=8), spec.end, spec.tz, WEEKLY_VACUUM_LOCAL_TIME)
    return runs[runs.tz_convert(spec.tz).day_of_week == 6]


def _periodic(rng: np.random.Generator, period_days: float, lo: float, hi: float) -> np.ndarray:
    """Autovacuum-like run times every ``period_days`` (+-20 %) between lo and hi seconds."""
    period = period_days * _DAY
    runs = np.arange(lo + rng.uniform(0, period), hi, period)
    return np.sort(runs + rng.uniform(-0.2, 0.2, len(runs)) * period)


def _since_event(cum: np.ndarray, secs: np.ndarray, last: np.ndarray, rate0: float) -> np.ndarray:
    """How much a cumulative quantity grew since the last event (extrapolated at ``rate0`` before the span;
    never an event: as if the last one were 30 days before the span)."""
    last = np.nan_to_num(last, nan=-30 * _DAY)
    at_event = np.where(last < 0, cum[0] + rate0 * last, np.interp(last, secs, cum))
    return np.maximum(cum - at_event, 0.0)


def _run_index(spec: DemoSpec, secs: np.ndarray, step: float, hhmm: str) -> np.ndarray:
    """Snapshot index closing the interval in which a daily local-time job ran."""
    runs = seconds_since_start(spec, local_instants(spec.start, spec.end, spec.tz, hhmm))
    idx = (np.floor(runs / step) + 1).astype(int)
    return idx[idx < len(secs)]


@dataclass(frozen=True)
class _Clock:
    """The hourly grid and what every table shares on it."""

    spec: DemoSpec
    times: pd.DatetimeIndex
    secs: np.ndarray
    load: np.ndarray  # daily/weekly cycle
    traffic: np.ndarray  # cycle x growth
    xids: np.ndarray  # transaction ids consumed since the start
    weekly: np.ndarray  # the weekly VACUUM ANALYZE runs

    @property
    def per_step(self) -> float:
        return self.spec.table_snapshot_every.total_seconds() / _DAY


def _table(t: Table, clock: _Clock, rng: np.random.Generator) -> tuple[pd.DataFrame, list[pd.DataFrame], np.ndarray]:
    """One table's pg_tables rows, its pg_indexes rows, and its cumulative inserts (for its sequence)."""
    secs, n_t, per_step, load = clock.secs, len(clock.secs), clock.per_step, clock.load
    expected = t.rows * (1 + t.growth_week) ** (secs / _DAY / 7)
    ins = rng.poisson(expected * (np.log1p(t.growth_week) / 7 + t.del_day) * per_step * load)
    upd = rng.poisson(expected * t.upd_day * per_step * load)
    if t.del_at in ("web", "flat"):
        dele = rng.poisson(expected * t.del_day * per_step * (load if t.del_at == "web" else 1.0))
    else:
        dele = np.zeros(n_t, dtype=np.int64)
        idx = _run_index(clock.spec, secs, per_step * _DAY, t.del_at)
        dele[idx] = rng.poisson(expected[idx] * t.del_day)
    for inc in (ins, upd, dele):
        inc[0] = 0
    live = t.rows + np.cumsum(ins) - np.cumsum(dele)

    span = secs[-1]
    auto_v = _periodic(rng, t.autovacuum_days, -3 * t.autovacuum_days * _DAY, span - t.autovacuum_stop_days * _DAY)
    auto_a = _periodic(rng, t.autoanalyze_days, -3 * t.autoanalyze_days * _DAY, span - t.autoanalyze_stop_days * _DAY)
    last_v, n_v = _last_event(clock.weekly if t.weekly_job else np.array([]), secs)
    last_av, n_av = _last_event(auto_v, secs)
    last_aa, n_aa = _last_event(auto_a, secs)
    dead_rate0 = t.rows * (t.upd_day * 0.5 + t.del_day) / _DAY  # half the updates are pruned (HOT)
    dead = _since_event(np.cumsum(upd * 0.5 + dele), secs, np.fmax(last_v, last_av), dead_rate0)
    mod_rate0 = t.rows * (np.log1p(t.growth_week) / 7 + t.upd_day + 2 * t.del_day) / _DAY
    mod = _since_event(np.cumsum(ins + upd + dele), secs, np.fmax(last_v, last_aa), mod_rate0)
    size_rows = np.maximum.accumulate(live + dead)  # plain VACUUM frees space for reuse, never shrinks files

    indexes = [ix for ix in INDEXES if ix.table == t.name]
    index_rows, idx_sums = [], np.zeros((5, n_t))
    for ix in indexes:
        scans = rng.poisson(ix.scans_day * per_step * clock.traffic).astype(float)
        scans[0] = ix.scans_day * STATS_AGE_DAYS
        scans = np.cumsum(scans)
        blocks = np.cumsum(rng.poisson(3 * ix.scans_day * per_step * clock.traffic)) + 3 * scans[0]
        reads = np.round(blocks * 0.0015)
        nbytes = np.ceil(size_rows * ix.coverage * ix.entry_bytes * 1.4 / 8192 + 1) * 8192
        fetched = np.round(scans * ix.tuples_per_scan * 0.9)
        idx_sums += np.stack([scans, fetched, blocks - reads, reads, nbytes])
        index_rows.append(
            pd.DataFrame(
                {
                    "taken_at": clock.times,
                    "relname": t.name,
                    "indexrelname": ix.name,
                    "idx_scan": _int64(scans),
                    "idx_tup_read": _int64(scans * ix.tuples_per_scan),
                    "idx_tup_fetch": _int64(fetched),
                    "index_bytes": _int64(nbytes),
                    "indexdef": _indexdef(ix),
                    "is_unique": ix.unique,
                    "is_primary": ix.primary,
                    "is_valid": ix.valid,
                }
            )
        )

    heap = rng.poisson(t.heap_day * per_step * clock.traffic)
    heap_read = rng.binomial(heap, 1 - t.heap_hit)
    seq = rng.poisson(t.seq_day * per_step * clock.traffic)
    table_bytes = np.ceil(size_rows * t.row_bytes * 1.12 / 8192) * 8192
    before = STATS_AGE_DAYS / per_step  # pg_stat_* counters are this many snapshots old at the start
    table = pd.DataFrame(
        {
            "taken_at": clock.times,
            "relname": t.name,
            "seq_scan": _int64(np.cumsum(seq) + t.seq_day * STATS_AGE_DAYS),
            "seq_tup_read": _int64(np.cumsum(seq * live) + t.seq_day * STATS_AGE_DAYS * t.rows),
            "idx_scan": _int64(idx_sums[0]),
            "idx_tup_fetch": _int64(idx_sums[1]),
            "n_tup_ins": _int64(np.cumsum(ins) + before * ins.mean()),
            "n_tup_upd": _int64(np.cumsum(upd) + before * upd.mean()),
            "n_tup_del": _int64(np.cumsum(dele) + before * dele.mean()),
            "n_live_tup": _int64(live),
            "n_dead_tup": _int64(dead),
            "n_mod_since_analyze": _int64(mod),
            "last_vacuum": at_seconds(clock.spec, last_v),
            "last_autovacuum": at_seconds(clock.spec, last_av),
            "last_analyze": at_seconds(clock.spec, last_v),
            "last_autoanalyze": at_seconds(clock.spec, last_aa),
            "vacuum_count": _int64(n_v),
            "autovacuum_count": _int64(n_av + STATS_AGE_DAYS / t.autovacuum_days),
            "analyze_count": _int64(n_v),
            "autoanalyze_count": _int64(n_aa + STATS_AGE_DAYS / t.autoanalyze_days),
            "heap_blks_read": _int64(np.cumsum(heap_read) + t.heap_day * STATS_AGE_DAYS * (1 - t.heap_hit)),
            "heap_blks_hit": _int64(np.cumsum(heap - heap_read) + t.heap_day * STATS_AGE_DAYS * t.heap_hit),
            "idx_blks_read": _int64(idx_sums[3]),
            "idx_blks_hit": _int64(idx_sums[2]),
            "table_bytes": _int64(table_bytes),
            "total_bytes": _int64(table_bytes + idx_sums[4]),
            "frozen_xid_age": _int64(t.xid_age_m * 1e6 + clock.xids),
        }
    )
    return table, index_rows, np.cumsum(ins)


def _tables(
    spec: DemoSpec, times: pd.DatetimeIndex, rng: np.random.Generator, backends: np.ndarray
) -> dict[str, pd.DataFrame]:
    """pg_tables, pg_indexes, pg_sequences, pg_databases on the hourly grid (``backends``: sessions there)."""
    secs = seconds_since_start(spec, times)
    load = daily_load(times, spec.tz)
    traffic = load * (1 + CALL_GROWTH * secs / (spec.days * _DAY))
    per_step = spec.table_snapshot_every.total_seconds() / _DAY
    xid_inc = rng.poisson(XID_PER_DAY * per_step * traffic)
    xid_inc[0] = 0
    weekly = seconds_since_start(spec, _weekly_job(spec))
    clock = _Clock(spec, times, secs, load, traffic, np.cumsum(xid_inc), weekly)

    tables, indexes, sequences = [], [], []
    for t in TABLES:
        table, index_rows, inserted = _table(t, clock, rng)
        tables.append(table)
        indexes += index_rows
        if t.name in SEQUENCES:
            data_type, at_start = SEQUENCES[t.name]
            sequences.append(
                pd.DataFrame(
                    {
                        "taken_at": times,
                        "sequencename": f"{t.name}_id_seq",
                        "data_type": data_type,
                        "last_value": _int64(at_start + inserted),
                        "max_value": np.int64(INT4_MAX if data_type == "integer" else INT8_MAX),
                        "increment_by": np.int64(1),
                        "min_value": np.int64(1),
                    }
                )
            )
    frames = {
        name: pd.concat(parts, ignore_index=True)
        .assign(server=spec.pg_server, datname=DATNAME, schemaname=SCHEMA)
        .sort_values(["taken_at", sort], ignore_index=True)
        for name, parts, sort in (
            ("pg_tables", tables, "relname"),
            ("pg_indexes", indexes, "indexrelname"),
            ("pg_sequences", sequences, "sequencename"),
        )
    }
    frames["pg_databases"] = _databases(spec, clock, frames["pg_tables"], backends, rng)
    return frames


def _databases(
    spec: DemoSpec, clock: _Clock, tables: pd.DataFrame, backends: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    """community_hub (the sum of its tables plus catalogs) and the small maintenance database."""
    per_table = tables.groupby("taken_at", sort=True)
    blocks = per_table[["heap_blks_read", "idx_blks_read", "heap_blks_hit", "idx_blks_hit"]].sum().to_numpy()
    max_age = per_table["frozen_xid_age"].max().to_numpy()
    n_t, per_step = len(clock.secs), clock.per_step
    xact = np.cumsum(rng.poisson(2.4e6 * per_step * clock.traffic)) + 2.4e6 * STATS_AGE_DAYS
    report_nights = np.zeros(n_t)
    report_nights[_run_index(spec, clock.secs, per_step * _DAY, "02:01")] = 1
    hub = pd.DataFrame(
        {
            "datname": DATNAME,
            "size_bytes": _int64(per_table["total_bytes"].sum().to_numpy() + 118e6),
            "xid_age": _int64(max_age + 1.1e6),
            "numbackends": _int32(backends),
            "xact_commit": _int64(xact),
            "xact_rollback": _int64(xact * 0.0025),
            "blks_read": _int64(blocks[:, :2].sum(axis=1) * 1.02),
            "blks_hit": _int64(blocks[:, 2:].sum(axis=1) * 1.03),
            "temp_bytes": _int64(np.cumsum(report_nights) * 48_000 * 8192 + 3.9e11),
            "deadlocks": _int64(3 + np.searchsorted(np.array([21.4, 58.7, 77.2]) * _DAY, clock.secs, side="right")),
        }
    )
    maintenance = pd.DataFrame(
        {
            "datname": "postgres",
            "size_bytes": np.int64(7_668_271),
            "xid_age": _int64(max_age + 2.3e6),
            "numbackends": np.int32(1),
            "xact_commit": _int64(np.cumsum(rng.poisson(1440 * per_step, n_t)) + 1.7e5),
            "xact_rollback": np.int64(12),
            "blks_read": _int64(2.1e4 + clock.secs * 0.001),
            "blks_hit": _int64(3.3e6 + clock.secs * 0.4),
            "temp_bytes": np.int64(0),
            "deadlocks": np.int64(0),
        }
    )
    both = pd.concat([hub.assign(taken_at=clock.times), maintenance.assign(taken_at=clock.times)], ignore_index=True)
    return both.assign(server=spec.pg_server).sort_values(["taken_at", "datname"], ignore_index=True)


# ---------------------------------------------------------------------------------------------- frames

_EMPTY_REPLICATION = {
    "server": "str",
    "taken_at": "datetime64[us, UTC]",
    "application_name": "str",
    "client_addr": "str",
    "state": "str",
    "sync_state": "str",
    "sent_lsn": "str",
    "replay_lsn": "str",
    "replay_lag_bytes": "int64",
    "write_lag_seconds": "float64",
    "flush_lag_seconds": "float64",
    "replay_lag_seconds": "float64",
}
_EMPTY_SLOTS = {
    "server": "str",
    "taken_at": "datetime64[us, UTC]",
    "slot_name": "str",
    "slot_type": "str",
    "active": "bool",
    "retained_bytes": "int64",
}

_COLUMN_ORDER = {
    "pg_tables": ["server", "taken_at", "datname", "schemaname", "relname"],
    "pg_indexes": ["server", "taken_at", "datname", "schemaname", "relname", "indexrelname"],
    "pg_databases": ["server", "taken_at", "datname"],
    "pg_sequences": ["server", "taken_at", "datname", "schemaname", "sequencename"],
}


def postgres_frames(spec: DemoSpec, connections: pd.Series | None = None) -> dict[str, pd.DataFrame]:
    """Every PostgreSQL table of the warehouse for the demo span, keyed by table name. ``connections``: the
    db_connections metric (% of max_connections) indexed by time, which the sessions then follow."""
    rng = np.random.default_rng(spec.seed + _SEED_OFFSET)
    fast = snapshot_times(spec, spec.pg_snapshot_every)
    hourly = snapshot_times(spec, spec.table_snapshot_every)
    frames = {
        "pg_snapshots": _snapshots(spec, fast),
        "pg_stat_statements": _statements(spec, fast, rng),
    }
    frames["pg_activity"], frames["pg_long_sessions"] = _activity(spec, fast, rng, connections)
    frames["pg_archiver"] = _archiver(spec, fast)
    backends = frames["pg_activity"].groupby("taken_at")["sessions"].sum().reindex(hourly, method="nearest")
    for name, frame in _tables(spec, hourly, rng, backends.to_numpy()).items():
        lead = _COLUMN_ORDER[name]
        frames[name] = frame[lead + [c for c in frame.columns if c not in lead]]
    frames["pg_replication"] = pd.DataFrame({c: pd.Series(dtype=d) for c, d in _EMPTY_REPLICATION.items()})
    frames["pg_replication_slots"] = pd.DataFrame({c: pd.Series(dtype=d) for c, d in _EMPTY_SLOTS.items()})
    return frames
