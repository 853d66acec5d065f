"""Benchmark: 90 days of 1-minute app-tier load through 100 autoscaling policy variants. Target: < 10 s, 2 cores.

The trace is the demo's app tier (sum of app-1 and app-2 CPU %), and the same trace grown by 80 % (a
stress case with saturation and many more scale events). The 100 variants are the threshold policy with
scale-out thresholds 55..85 % x cooldowns 1..30 minutes. Each is timed with the event-driven engine (the
library's) against the baseline in the same run: the plain per-sample Python loop of
tests/support/reference_scaling.py, timed on a few variants and extrapolated to 100. The same is reported for
100 HPA variants (numpy vectors across variants versus the per-sample loop). Prints steps, variants, seconds,
steps x variants per second, the speed-up and peak resident memory.

    .venv/bin/python benchmarks/bench_scaling.py
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the support package

from support.reference_scaling import simulate_many_reference

from sre_lib.analysis.scaling import HpaPolicy, policy_grid, simulate_many, tier_demand
from sre_lib.config import load_config
from sre_lib.demo.metric_history import metric_frames
from sre_lib.demo.spec import DemoSpec

TARGET_SECONDS = 10.0
BASELINE_SAMPLE = 5  # variants timed with the per-sample loop, then extrapolated to all of them


def _timed(run):
    started = time.perf_counter()
    value = run()
    return value, time.perf_counter() - started


def _app_demand(series, samples):
    """The app tier's demand from the demo frames (samples joined with their series identity)."""
    return tier_demand(samples.merge(series[["series_id", "component", "instance", "metric"]], on="series_id"))


def _report(label: str, steps: int, variants: int, seconds: float, baseline_seconds: float) -> None:
    print(f"  {label}")
    print(f"    engine:   {seconds:7.2f} s   {steps * variants / seconds:14,.0f} steps x variants / s")
    print(
        f"    baseline: {baseline_seconds:7.2f} s   {steps * variants / baseline_seconds:14,.0f} steps x variants / s"
        f"   (per-sample Python loop, {BASELINE_SAMPLE} variants timed, x{variants / BASELINE_SAMPLE:g})"
    )
    print(f"    speed-up: {baseline_seconds / seconds:7.1f} x")


def main() -> int:
    config = load_config()
    spec = DemoSpec()
    (series, samples), build_seconds = _timed(lambda: metric_frames(spec))
    demand, demand_seconds = _timed(lambda: _app_demand(series, samples))
    steps = len(demand)

    thresholds = np.linspace(55, 85, 10)
    cooldowns = (60, 120, 180, 300, 420, 600, 900, 1200, 1500, 1800)
    variants = policy_grid(config, thresholds=thresholds, cooldowns=cooldowns)
    hpa_variants = [HpaPolicy.from_config(config, target_percent=float(t)) for t in np.linspace(50, 85, 100)]
    pick = np.linspace(0, len(variants) - 1, BASELINE_SAMPLE).astype(int)

    print(f"scaling simulation: {steps:,} steps ({spec.days} days at 1 minute), {len(variants)} policy variants")
    print(f"  demo trace built in {build_seconds:.2f} s, tier demand in {demand_seconds:.2f} s (not timed below)")
    worst = 0.0
    for label, trace in (("demo app tier", demand), ("demo app tier grown 80 %", demand * 1.8)):
        results, seconds = _timed(lambda trace=trace: simulate_many(trace, config, variants))
        sampled = [variants[i] for i in pick]
        baseline, base_seconds = _timed(
            lambda trace=trace, sampled=sampled: simulate_many_reference(trace, config, sampled)
        )
        for i, reference in zip(pick, baseline, strict=True):
            assert np.array_equal(results[i].servers, reference.servers), "engines disagree"
        events = sum(len(r.events) for r in results)
        print(f"\n threshold policy, {label}: {events:,} scale events over the {len(variants)} variants")
        _report(
            "event-driven engine vs per-sample loop",
            steps,
            len(variants),
            seconds,
            base_seconds * len(variants) / BASELINE_SAMPLE,
        )
        worst = max(worst, seconds)

        hpa, hpa_seconds = _timed(lambda trace=trace: simulate_many(trace, config, hpa_variants))
        hpa_sampled = [hpa_variants[i] for i in pick]
        hpa_base, hpa_base_seconds = _timed(
            lambda trace=trace, s=hpa_sampled: simulate_many_reference(trace, config, s)
        )
        for i, reference in zip(pick, hpa_base, strict=True):
            assert np.array_equal(hpa[i].servers, reference.servers), "HPA engines disagree"
        events = sum(len(r.events) for r in hpa)
        print(f" HPA policy, {label}: {events:,} scale events over the {len(hpa_variants)} variants")
        _report(
            "numpy across variants vs per-sample loop",
            steps,
            len(hpa_variants),
            hpa_seconds,
            hpa_base_seconds * len(hpa_variants) / BASELINE_SAMPLE,
        )

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n  slowest 100-variant threshold run: {worst:.2f} s (target < {TARGET_SECONDS:.0f} s)")
    print(f"  peak resident memory: {peak_mb:,.0f} MB")
    return 0 if worst < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
