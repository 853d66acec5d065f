"""Benchmark: what a small, frequent collection costs in a demo-size warehouse, and what a reader then pays.

A collector that runs every 15 minutes writes a few hundred rows per run. Before read snapshots were made
on demand, every run also copied the whole warehouse for readers. This script builds the 90-day demo
warehouse, then times, in the same run:

(a) RUNS small write runs (one metric series, 15 one-minute samples each), as collections are now;
(b) the same runs each followed by publishing a snapshot, as every run used to (the baseline);
(c) the first read after them (it publishes one snapshot), and a second read (nothing to publish).

No target is set by an issue; the ratio (b)/(a) is the saving per run.

    .venv/bin/python benchmarks/bench_warehouse.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from sre_lib.demo.build import build_demo
from sre_lib.demo.spec import DemoSpec
from sre_lib.warehouse.store import Warehouse, series_id

RUNS = 20


def small_run(warehouse: Warehouse, number: int, spec: DemoSpec) -> None:
    """One collection-sized write: 15 samples of one series, in a window after the demo's end."""
    start = spec.end + timedelta(minutes=15 * number)
    end = start + timedelta(minutes=14)
    sid = series_id("bench_small", {"instance": "bench"})
    with warehouse.write_run("bench", window_start=start, window_end=end) as run:
        run.upsert_series(
            pd.DataFrame([{"series_id": sid, "source": "bench", "metric": "bench_small", "component": "app",
                           "instance": "bench", "labels": "{}"}])
        )  # fmt: skip
        times = pd.date_range(start, end, freq="1min")
        run.replace_samples(pd.DataFrame({"series_id": sid, "ts": times, "value": np.arange(len(times))}), start, end)


def main() -> int:
    spec = DemoSpec()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "warehouse.duckdb"
        build_demo(path, spec)
        warehouse = Warehouse(path)
        size_mb = path.stat().st_size / 1e6

        started = time.perf_counter()
        for number in range(RUNS):
            small_run(warehouse, number, spec)
        now_seconds = (time.perf_counter() - started) / RUNS

        started = time.perf_counter()
        for number in range(RUNS, 2 * RUNS):
            small_run(warehouse, number, spec)
            with warehouse._write_lock():
                warehouse._publish_snapshot()
        before_seconds = (time.perf_counter() - started) / RUNS

        small_run(warehouse, 2 * RUNS, spec)
        started = time.perf_counter()
        warehouse.open_read_only().close()
        first_read = time.perf_counter() - started
        started = time.perf_counter()
        warehouse.open_read_only().close()
        second_read = time.perf_counter() - started

    print(f"warehouse: the 90-day demo, {size_mb:.1f} MB; {RUNS} runs of 15 samples each")
    print(f"(a) a small write run now:                         {now_seconds * 1000:7.1f} ms")
    print(f"(b) the same run publishing a snapshot (before):   {before_seconds * 1000:7.1f} ms")
    print(f"ratio (b)/(a):                                     {before_seconds / now_seconds:7.2f}")
    print(f"(c) first read after runs (publishes one copy):    {first_read * 1000:7.1f} ms; "
          f"next read: {second_read * 1000:.1f} ms")  # fmt: skip
    print(f"copying avoided at one collection every 15 min: {96 * size_mb / 1000:.1f} GB a day for this size; "
          "it grows with the warehouse")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
