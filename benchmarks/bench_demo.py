"""Benchmark: build the default 90-day demo warehouse. Target: under 20 s on 2 cores.

Prints the wall time of the whole build, of generating the frames alone (the baseline: what the build
costs before any warehouse write), their ratio, the warehouse size and the peak resident memory.

    .venv/bin/python benchmarks/bench_demo.py
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from sre_lib.demo.backup_history import backup_frames
from sre_lib.demo.build import build_demo
from sre_lib.demo.metric_history import metric_frames
from sre_lib.demo.postgres_history import postgres_frames
from sre_lib.demo.redis_history import redis_info_frame
from sre_lib.demo.spec import DemoSpec

TARGET_SECONDS = 20.0


def main() -> int:
    spec = DemoSpec()
    started = time.perf_counter()
    metric_frames(spec)
    postgres_frames(spec)
    backup_frames(spec)
    redis_info_frame(spec)
    generate_seconds = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "warehouse.duckdb"
        started = time.perf_counter()
        summary = build_demo(path, spec)
        build_seconds = time.perf_counter() - started
        size_mb = path.stat().st_size / 1e6

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"demo build: {spec.days} days, {summary.total_rows:,} rows")
    print(f"  generate frames only (baseline): {generate_seconds:6.2f} s")
    print(f"  full build into DuckDB:          {build_seconds:6.2f} s  (target < {TARGET_SECONDS:.0f} s)")
    print(f"  build / generate ratio:          {build_seconds / generate_seconds:6.2f}")
    print(f"  rows per second (build):         {summary.total_rows / build_seconds:,.0f}")
    print(f"  warehouse file size:             {size_mb:6.1f} MB")
    print(f"  peak resident memory:            {peak_mb:6.0f} MB")
    return 0 if build_seconds < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
