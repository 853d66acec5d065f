"""Benchmark: forecast 1,000 daily capacity signals of 180 points, 90 days ahead with 80 % / 95 % intervals.

Target (issue 4): under 30 s on 2 cores, every forecast backtested. Prints series count, seconds, series/s,
peak memory, and in the same run a baseline (seasonal-naive forecasts with intervals for every series, one
series at a time) to give a ratio.

    .venv/bin/python benchmarks/bench_forecast.py [--series 1000] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import numpy as np
import pandas as pd

from sre_lib.analysis.forecast import forecast_many

TARGET_SECONDS = 30.0


def synthetic_signals(series: int, days: int = 180, seed: int = 4) -> pd.DataFrame:
    """Daily p95-like signals shaped like the demo platform's: level x growth x weekly cycle, AR(1) noise.

    One in ten series is a random walk, one in fifty is flat, one in twenty has a few missing days.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    weekend = (t % 7) >= 5
    values = np.empty((series, days))
    for i in range(series):
        base = rng.uniform(10, 60)
        growth = rng.uniform(-0.1, 0.6)
        weekend_factor = rng.choice([1.0, rng.uniform(0.7, 0.95)])
        noise = rng.uniform(0.01, 0.08)
        ar = np.zeros(days)
        shocks = rng.normal(0, noise, days)
        for k in range(1, days):
            ar[k] = 0.6 * ar[k - 1] + shocks[k]
        y = base * (1 + growth * t / days) * np.where(weekend, weekend_factor, 1.0) * (1 + ar)
        if i % 10 == 9:
            y = base + np.cumsum(rng.normal(0, base * 0.02, days))
        if i % 50 == 49:
            y = np.full(days, round(base))
        if i % 20 == 7:
            y[rng.choice(days, 4, replace=False)] = np.nan
        values[i] = np.clip(y, 0, 100)
    dates = pd.date_range("2026-05-05", periods=days, freq="D")
    return pd.DataFrame(
        {
            "series": np.repeat([f"s{i:04d}" for i in range(series)], days),
            "metric": "cpu",
            "date": np.tile(dates, series),
            "value": values.ravel(),
        }
    ).dropna()


def seasonal_naive_baseline(signals: pd.DataFrame, horizon: int, season: int = 7) -> pd.DataFrame:
    """The simplest honest forecast with intervals, one series at a time: repeat last week, widen by sqrt(weeks)."""
    z80, z95 = 1.2815515655446004, 1.959963984540054
    parts = []
    for key, group in signals.groupby("series", sort=True):
        y = group["value"].to_numpy()
        last = group["date"].iloc[-1]
        steps = np.arange(1, horizon + 1)
        mean = y[len(y) - season + (steps - 1) % season]
        sigma = float(np.sqrt(np.mean((y[season:] - y[:-season]) ** 2)))
        sd = sigma * np.sqrt(np.ceil(steps / season))
        parts.append(
            pd.DataFrame(
                {
                    "series": key,
                    "date": last + pd.to_timedelta(steps, unit="D"),
                    "mean": mean,
                    "lo80": mean - z80 * sd,
                    "hi80": mean + z80 * sd,
                    "lo95": mean - z95 * sd,
                    "hi95": mean + z95 * sd,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def peak_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0  # kilobytes on Linux


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--horizon", type=int, default=90)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

    load_before = os.getloadavg()[0]
    signals = synthetic_signals(args.series, args.days)
    started = time.perf_counter()
    baseline = seasonal_naive_baseline(signals, args.horizon)
    baseline_seconds = time.perf_counter() - started

    cpu_self, cpu_children = time.process_time(), children_cpu()
    started = time.perf_counter()
    result = forecast_many(signals, args.horizon, keys=["series", "metric"], bounds=(0.0, 100.0), workers=args.workers)
    seconds = time.perf_counter() - started
    cpu_self, cpu_children = time.process_time() - cpu_self, children_cpu() - cpu_children

    summary = result.drop_duplicates(["series", "metric"])
    models = summary["model"].value_counts().to_dict()
    print(
        f"series:            {args.series} x {args.days} daily points, horizon {args.horizon}, {args.workers} workers"
    )
    print(f"forecast_many:     {seconds:.1f} s ({args.series / seconds:.0f} series/s), {len(result)} forecast rows")
    print(
        f"baseline:          {baseline_seconds:.2f} s seasonal naive with intervals, no backtest "
        f"({len(baseline)} rows); ratio {seconds / baseline_seconds:.0f}x"
    )
    print(
        f"CPU time:          parent {cpu_self:.1f} s + workers {cpu_children:.1f} s "
        f"(load average {load_before:.1f} on {os.cpu_count()} CPUs before the run; wall time grows when other "
        "processes share the cores)"
    )
    print(f"peak memory:       parent {peak_mb(resource.RUSAGE_SELF):.0f} MB, largest worker "
          f"{peak_mb(resource.RUSAGE_CHILDREN):.0f} MB")  # fmt: skip
    print(f"models:            {models}")
    print(
        f"trustworthy:       {int(summary['trustworthy'].sum())} of {len(summary)}; "
        f"median MASE {summary['mase'].median():.2f}, median coverage 80 %: {summary['coverage80'].median():.0%}, "
        f"95 %: {summary['coverage95'].median():.0%}"
    )
    verdict = "PASS" if seconds < TARGET_SECONDS else "FAIL (see CPU time: were the cores shared?)"
    print(f"target:            < {TARGET_SECONDS:.0f} s for 1,000 series on 2 cores: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
