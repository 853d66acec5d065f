"""Benchmark: health classification of 10 million samples. Target: under 1 s on 2 cores.

Builds 100 series x 100,000 one-minute samples (cpu, memory, disk, db_connections, latency_p95 and the
lower-is-worse redis_hit_ratio, with daily cycles, noise and incidents) in an in-memory DuckDB warehouse, then
times, in the same run:

* ``sre_lib.analysis.health.assess``: read the samples from DuckDB, classify each one (bands plus a 60-minute
  sustained rule on cpu), time in bands per series, and warning / critical episodes;
* a plain pandas baseline computing the same three results (read, merge bands, sort, groupby/shift);
* ``assess`` again on the same samples stored as daily collection runs, and interleaved sample by sample,
  which adds the sort a multi-run warehouse needs (best of 2 each).

Both results are checked to agree (minutes per series and status, episode count). Prints samples, seconds,
samples per second, the pandas / sre_lib ratio and peak resident memory.

    .venv/bin/python benchmarks/bench_health.py [--series 100] [--samples 100000]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from scipy.signal import lfilter

from sre_lib.analysis import health
from sre_lib.config import load_config
from sre_lib.warehouse.store import schema_sql, series_id

TARGET_SECONDS = 1.0
START = datetime(2026, 1, 1, tzinfo=UTC)
SUSTAINED = {"cpu": 60}
# metric: (share of the series, typical level, daily swing as a fraction of the level)
MIX = {
    "cpu": (0.4, 45.0, 0.8),
    "memory": (0.2, 62.0, 0.15),
    "disk": (0.1, 60.0, 0.02),
    "db_connections": (0.1, 50.0, 0.6),
    "latency_p95": (0.1, 150.0, 0.5),
    "redis_hit_ratio": (0.1, 88.0, 0.05),
}


LAYOUTS = {
    "series": "stored series by series (one run)",
    "daily": "stored as daily runs (series by series each day)",
    "sample": "stored interleaved sample by sample (worst case)",
}


def build(con: duckdb.DuckDBPyConnection, n_series: int, n_samples: int, layout: str = "series") -> None:
    """Fill metric_series / metric_samples; ``layout`` is the storage order (a key of LAYOUTS)."""
    rng = np.random.default_rng(42)
    names = [m for m, (share, _, _) in MIX.items() for _ in range(max(1, round(share * n_series)))][:n_series]
    names += ["cpu"] * (n_series - len(names))
    minutes = np.arange(n_samples)
    daily = np.cos(2 * np.pi * (minutes / 1440.0 - 20 / 24))
    ids, parts = [], []
    for index, metric in enumerate(names):
        _, level, swing = MIX[metric]
        sid = series_id(metric, {"component": f"c{index % 7}", "instance": f"i{index}"})
        ids.append((sid, "bench", metric, f"c{index % 7}", f"i{index}", "{}"))
        noise = lfilter([1.0], [1.0, -0.95], rng.normal(0.0, 0.03, n_samples))
        values = level * (1 + 0.5 * swing * daily + noise + 0.3 * minutes / n_samples)
        for begin in rng.integers(0, n_samples - 600, 5):  # incidents of 1 to 10 hours
            values[begin : begin + rng.integers(60, 600)] *= 1.6 if metric != "redis_hit_ratio" else 0.5
        parts.append(np.clip(values, 0.0, 100.0 if metric != "latency_p95" else 1e5))
    con.execute(schema_sql())
    series = pd.DataFrame(ids, columns=["series_id", "source", "metric", "component", "instance", "labels"])
    con.register("_series", series)
    con.execute("INSERT INTO metric_series SELECT * FROM _series")
    con.unregister("_series")
    position = np.arange(n_series * n_samples).reshape(n_series, n_samples)
    if layout == "daily":
        position = np.concatenate([position[:, day : day + 1440].ravel() for day in range(0, n_samples, 1440)])
    elif layout == "sample":
        position = position.T.ravel()
    else:
        position = position.ravel()
    stamps = np.datetime64(START.replace(tzinfo=None), "us") + minutes.astype("m8[m]")
    samples = pd.DataFrame(
        {
            "series_id": np.repeat(series["series_id"].to_numpy(), n_samples)[position],
            "ts": np.tile(stamps, n_series)[position],
            "value": np.round(np.concatenate(parts), 4)[position],
        }
    )
    con.execute("SET TimeZone = 'UTC'")  # the naive timestamps above are UTC
    con.register("_samples", samples)
    con.execute("INSERT INTO metric_samples SELECT series_id, ts::TIMESTAMPTZ, value FROM _samples")
    con.unregister("_samples")
    stored = con.sql("SELECT series_id FROM metric_samples").fetchnumpy()["series_id"]
    assert (stored == samples["series_id"].to_numpy()).all(), "DuckDB did not keep the insertion order"


def pandas_baseline(con: duckdb.DuckDBPyConnection, config: Any) -> tuple[pd.DataFrame, int]:
    """The same classification, time in bands and episodes, written the plain pandas way."""
    bands = health.indicator_bands(config)
    rules = pd.DataFrame(
        {
            "metric": list(bands),
            "warning": [b.warning for b in bands.values()],
            "critical": [b.critical for b in bands.values()],
            "sign": [1.0 if b.direction == "above" else -1.0 for b in bands.values()],
            "sustained": [pd.Timedelta(minutes=SUSTAINED.get(m, b.sustained_minutes)) for m, b in bands.items()],
        }
    )
    df = con.sql("SELECT series_id, ts, value FROM metric_samples").df()
    series = con.sql("SELECT series_id, metric FROM metric_series").df()
    df = df.merge(series, on="series_id").merge(rules, on="metric")
    df = df.sort_values(["series_id", "ts"], ignore_index=True)
    df["x"] = x = df["value"] * df["sign"]
    df["band"] = np.select([x > df["critical"] * df["sign"], x >= df["warning"] * df["sign"]], [3, 2], 0)
    by_series = df.groupby("series_id", sort=False)
    gap = by_series["ts"].diff()
    step = gap.groupby(df["series_id"]).transform("median")
    brk = gap.isna() | (gap > 2 * step)
    hot = df["band"] == 3
    hot_run = (brk | (hot != hot.shift(fill_value=False))).cumsum()
    hot_since = df.groupby(hot_run)["ts"].transform("first")
    df["status"] = df["band"].where(~(hot & (df["ts"] - hot_since < df["sustained"])), 2)
    next_gap = by_series["ts"].shift(-1) - df["ts"]
    df["hold"] = next_gap.where(next_gap.notna() & (next_gap <= 2 * step), step)
    minutes = df.groupby(["series_id", "status"])["hold"].sum().dt.total_seconds() / 60
    run = (brk | (df["status"] != df["status"].shift())).cumsum()
    bad = df[df["status"] >= 2]
    episodes = bad.groupby(run[bad.index]).agg(
        series_id=("series_id", "first"),
        status=("status", "first"),
        start=("ts", "first"),
        last=("ts", "last"),
        held=("hold", "sum"),
        peak=("x", "max"),  # the worst value: highest, or lowest when lower is worse
    )
    return minutes.unstack(fill_value=0.0), len(episodes)


def timed(function: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds of this process, result)."""
    started, cpu = time.perf_counter(), time.process_time()
    result = function()
    return time.perf_counter() - started, time.process_time() - cpu, result


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=100)
    parser.add_argument("--samples", type=int, default=100_000, help="samples per series")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs (series layout)")
    args = parser.parse_args()
    config = load_config()
    total = args.series * args.samples

    con = duckdb.connect()
    seconds, _, _ = timed(lambda: build(con, args.series, args.samples))
    print(f"health benchmark: {args.series} series x {args.samples:,} samples = {total:,} samples")
    print(f"  build the in-memory warehouse: {seconds:.1f} s")
    assessment = health.assess(con, config, sustained=SUSTAINED)  # warm-up; its result is checked below
    runs = [timed(lambda: health.assess(con, config, sustained=SUSTAINED))[:2] for _ in range(args.repeat)]
    ours, ours_cpu = min(wall for wall, _ in runs), min(cpu for _, cpu in runs)
    ours_mb = peak_mb()
    base_seconds, base_cpu, (base_minutes, base_episodes) = timed(lambda: pandas_baseline(con, config))
    base_mb = peak_mb()
    con.close()

    # Sanity: the two computations agree.
    tib = assessment.time_in_bands.set_index("series_id")
    for column, status in (("healthy_minutes", 0), ("warning_minutes", 2), ("critical_minutes", 3)):
        expected = base_minutes.get(status, pd.Series(0.0, index=base_minutes.index)).reindex(tib.index, fill_value=0)
        assert np.allclose(tib[column], expected), column
    assert len(assessment.episodes) == base_episodes, (len(assessment.episodes), base_episodes)
    assert np.allclose(tib["no_data_minutes"], 0.0)

    def line(label: str, wall: float, cpu: float) -> str:
        return f"  {label:<66} {wall:6.3f} s wall {cpu:6.3f} s CPU {total / wall / 1e6:5.1f} M samples/s"

    print(f"  (best of {args.repeat} after a warm-up; wall times: " + ", ".join(f"{w:.3f}" for w, _ in runs) + ")")
    print(line("sre_lib.analysis.health.assess: read, classify, time in bands, episodes", ours, ours_cpu))
    print(line("plain pandas baseline, same results", base_seconds, base_cpu))
    print(
        f"  pandas / sre_lib: {base_seconds / ours:.1f}x wall; target < {TARGET_SECONDS:.0f} s: "
        f"{'met' if ours < TARGET_SECONDS else 'NOT met'}"
    )
    print(f"  episodes: {len(assessment.episodes):,}; critical minutes: {tib['critical_minutes'].sum():,.0f}")
    print(f"  peak resident memory: {ours_mb:,.0f} MB after sre_lib, {base_mb:,.0f} MB after the pandas baseline")

    for layout in ("daily", "sample"):  # the same samples in other storage orders cost a sort
        con = duckdb.connect()
        build(con, args.series, args.samples, layout)
        other = health.assess(con, config, sustained=SUSTAINED)
        pd.testing.assert_frame_equal(other.time_in_bands, assessment.time_in_bands)
        pd.testing.assert_frame_equal(other.episodes, assessment.episodes)
        del other
        timings = [timed(lambda con=con: health.assess(con, config, sustained=SUSTAINED))[:2] for _ in range(2)]
        con.close()
        print(line(f"assess, {LAYOUTS[layout]}", min(w for w, _ in timings), min(c for _, c in timings)))
    return 0 if ours < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
