"""pg_tables, pg_indexes, pg_sequences and pg_databases every hour: growth, churn, vacuum and analyse runs.

Each table of the scenario gets its rows, dead tuples, maintenance history and scans (``table_frames``);
its indexes, id sequence and the database totals follow from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from sre_lib.demo.postgres_counters import as_int32, as_int64, last_event
from sre_lib.demo.postgres_scenario import (
    CALL_GROWTH,
    DATNAME,
    INDEXES,
    INT4_MAX,
    INT8_MAX,
    SCHEMA,
    SEQUENCES,
    STATS_AGE_DAYS,
    TABLES,
    WEEKLY_VACUUM_LOCAL_TIME,
    XID_PER_DAY,
    Index,
    Table,
)
from sre_lib.demo.spec import DemoSpec
from sre_lib.demo.timeline import (
    SECONDS_PER_DAY,
    at_seconds,
    daily_load,
    local_instants,
    seconds_since_start,
)


def _indexdef(ix: Index) -> str:
    kind = "UNIQUE INDEX" if ix.unique else "INDEX"
    return f"CREATE {kind} {ix.name} ON {SCHEMA}.{ix.table} USING {ix.using}"


def _weekly_job(spec: DemoSpec) -> pd.DatetimeIndex:
    """The Sunday VACUUM ANALYZE runs, including the last one before the span."""
    runs = local_instants(spec.start - timedelta(days=8), spec.end, spec.tz, WEEKLY_VACUUM_LOCAL_TIME)
    return runs[runs.tz_convert(spec.tz).day_of_week == 6]


def _periodic(rng: np.random.Generator, period_days: float, lo: float, hi: float) -> np.ndarray:
    """Autovacuum-like run times every ``period_days`` (+-20 %) between lo and hi seconds."""
    period = period_days * SECONDS_PER_DAY
    runs = np.arange(lo + rng.uniform(0, period), hi, period)
    return np.sort(runs + rng.uniform(-0.2, 0.2, len(runs)) * period)


def _since_event(cum: np.ndarray, secs: np.ndarray, last: np.ndarray, rate0: float) -> np.ndarray:
    """How much a cumulative quantity grew since the last event (extrapolated at ``rate0`` before the span;
    never an event: as if the last one were 30 days before the span)."""
    last = np.nan_to_num(last, nan=-30 * SECONDS_PER_DAY)
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
        return self.spec.table_snapshot_every.total_seconds() / SECONDS_PER_DAY


def _table(t: Table, clock: _Clock, rng: np.random.Generator) -> tuple[pd.DataFrame, list[pd.DataFrame], np.ndarray]:
    """One table's pg_tables rows, its pg_indexes rows, and its cumulative inserts (for its sequence)."""
    secs, n_t, per_step, load = clock.secs, len(clock.secs), clock.per_step, clock.load
    expected = t.rows * (1 + t.growth_week) ** (secs / SECONDS_PER_DAY / 7)
    ins = rng.poisson(expected * (np.log1p(t.growth_week) / 7 + t.del_day) * per_step * load)
    upd = rng.poisson(expected * t.upd_day * per_step * load)
    if t.del_at in ("web", "flat"):
        dele = rng.poisson(expected * t.del_day * per_step * (load if t.del_at == "web" else 1.0))
    else:
        dele = np.zeros(n_t, dtype=np.int64)
        idx = _run_index(clock.spec, secs, per_step * SECONDS_PER_DAY, t.del_at)
        dele[idx] = rng.poisson(expected[idx] * t.del_day)
    for inc in (ins, upd, dele):
        inc[0] = 0
    live = t.rows + np.cumsum(ins) - np.cumsum(dele)

    span = secs[-1]
    auto_v = _periodic(
        rng,
        t.autovacuum_days,
        -3 * t.autovacuum_days * SECONDS_PER_DAY,
        span - t.autovacuum_stop_days * SECONDS_PER_DAY,
    )
    auto_a = _periodic(
        rng,
        t.autoanalyze_days,
        -3 * t.autoanalyze_days * SECONDS_PER_DAY,
        span - t.autoanalyze_stop_days * SECONDS_PER_DAY,
    )
    last_v, n_v = last_event(clock.weekly if t.weekly_job else np.array([]), secs)
    last_av, n_av = last_event(auto_v, secs)
    last_aa, n_aa = last_event(auto_a, secs)
    dead_rate0 = t.rows * (t.upd_day * 0.5 + t.del_day) / SECONDS_PER_DAY  # half the updates are pruned (HOT)
    dead = _since_event(np.cumsum(upd * 0.5 + dele), secs, np.fmax(last_v, last_av), dead_rate0)
    mod_rate0 = t.rows * (np.log1p(t.growth_week) / 7 + t.upd_day + 2 * t.del_day) / SECONDS_PER_DAY
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
                    "idx_scan": as_int64(scans),
                    "idx_tup_read": as_int64(scans * ix.tuples_per_scan),
                    "idx_tup_fetch": as_int64(fetched),
                    "index_bytes": as_int64(nbytes),
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
            "seq_scan": as_int64(np.cumsum(seq) + t.seq_day * STATS_AGE_DAYS),
            "seq_tup_read": as_int64(np.cumsum(seq * live) + t.seq_day * STATS_AGE_DAYS * t.rows),
            "idx_scan": as_int64(idx_sums[0]),
            "idx_tup_fetch": as_int64(idx_sums[1]),
            "n_tup_ins": as_int64(np.cumsum(ins) + before * ins.mean()),
            "n_tup_upd": as_int64(np.cumsum(upd) + before * upd.mean()),
            "n_tup_del": as_int64(np.cumsum(dele) + before * dele.mean()),
            "n_live_tup": as_int64(live),
            "n_dead_tup": as_int64(dead),
            "n_mod_since_analyze": as_int64(mod),
            "last_vacuum": at_seconds(clock.spec, last_v),
            "last_autovacuum": at_seconds(clock.spec, last_av),
            "last_analyze": at_seconds(clock.spec, last_v),
            "last_autoanalyze": at_seconds(clock.spec, last_aa),
            "vacuum_count": as_int64(n_v),
            "autovacuum_count": as_int64(n_av + STATS_AGE_DAYS / t.autovacuum_days),
            "analyze_count": as_int64(n_v),
            "autoanalyze_count": as_int64(n_aa + STATS_AGE_DAYS / t.autoanalyze_days),
            "heap_blks_read": as_int64(np.cumsum(heap_read) + t.heap_day * STATS_AGE_DAYS * (1 - t.heap_hit)),
            "heap_blks_hit": as_int64(np.cumsum(heap - heap_read) + t.heap_day * STATS_AGE_DAYS * t.heap_hit),
            "idx_blks_read": as_int64(idx_sums[3]),
            "idx_blks_hit": as_int64(idx_sums[2]),
            "table_bytes": as_int64(table_bytes),
            "total_bytes": as_int64(table_bytes + idx_sums[4]),
            "frozen_xid_age": as_int64(t.xid_age_m * 1e6 + clock.xids),
        }
    )
    return table, index_rows, np.cumsum(ins)


def table_frames(
    spec: DemoSpec, times: pd.DatetimeIndex, rng: np.random.Generator, backends: np.ndarray
) -> dict[str, pd.DataFrame]:
    """pg_tables, pg_indexes, pg_sequences, pg_databases on the hourly grid (``backends``: sessions there)."""
    secs = seconds_since_start(spec, times)
    load = daily_load(times, spec.tz)
    traffic = load * (1 + CALL_GROWTH * secs / (spec.days * SECONDS_PER_DAY))
    per_step = spec.table_snapshot_every.total_seconds() / SECONDS_PER_DAY
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
                        "last_value": as_int64(at_start + inserted),
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
    report_nights[_run_index(spec, clock.secs, per_step * SECONDS_PER_DAY, "02:01")] = 1
    hub = pd.DataFrame(
        {
            "datname": DATNAME,
            "size_bytes": as_int64(per_table["total_bytes"].sum().to_numpy() + 118e6),
            "xid_age": as_int64(max_age + 1.1e6),
            "numbackends": as_int32(backends),
            "xact_commit": as_int64(xact),
            "xact_rollback": as_int64(xact * 0.0025),
            "blks_read": as_int64(blocks[:, :2].sum(axis=1) * 1.02),
            "blks_hit": as_int64(blocks[:, 2:].sum(axis=1) * 1.03),
            "temp_bytes": as_int64(np.cumsum(report_nights) * 48_000 * 8192 + 3.9e11),
            "deadlocks": as_int64(
                3 + np.searchsorted(np.array([21.4, 58.7, 77.2]) * SECONDS_PER_DAY, clock.secs, side="right")
            ),
        }
    )
    maintenance = pd.DataFrame(
        {
            "datname": "postgres",
            "size_bytes": np.int64(7_668_271),
            "xid_age": as_int64(max_age + 2.3e6),
            "numbackends": np.int32(1),
            "xact_commit": as_int64(np.cumsum(rng.poisson(1440 * per_step, n_t)) + 1.7e5),
            "xact_rollback": np.int64(12),
            "blks_read": as_int64(2.1e4 + clock.secs * 0.001),
            "blks_hit": as_int64(3.3e6 + clock.secs * 0.4),
            "temp_bytes": np.int64(0),
            "deadlocks": np.int64(0),
        }
    )
    both = pd.concat([hub.assign(taken_at=clock.times), maintenance.assign(taken_at=clock.times)], ignore_index=True)
    return both.assign(server=spec.pg_server).sort_values(["taken_at", "datname"], ignore_index=True)
