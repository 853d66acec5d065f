"""The fast engines give exactly the events of the per-sample reference loop."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from support.reference_scaling import simulate_many_reference
from support.scaling_inputs import CONFIG, policy, series_of

from sre_lib.analysis.scaling import HpaPolicy, ThresholdPolicy, simulate_many


def random_walk_demand(seed: int, minutes: int = 3000) -> pd.Series:
    rng = np.random.default_rng(seed)
    daily = 120 + 90 * np.sin(np.arange(minutes) * 2 * np.pi / 700)
    noisy = np.clip(daily * np.exp(np.cumsum(rng.normal(0, 0.02, minutes)) * 0.3) + rng.normal(0, 8, minutes), 0, None)
    return series_of(list(noisy))


def test_event_driven_threshold_engine_matches_the_per_sample_loop() -> None:
    rng = np.random.default_rng(3)
    policies = [
        ThresholdPolicy(
            cpu_threshold_percent=float(rng.uniform(45, 95)),
            scale_in_cpu_threshold_percent=float(rng.uniform(10, 40)),
            cooldown_seconds=float(rng.choice([0, 60, 90, 300, 900])),
            min_servers=int(rng.integers(1, 3)),
            max_servers=int(rng.integers(3, 7)),
            scale_in_window_seconds=float(rng.choice([60, 300, 1200])),
        )
        for _ in range(30)
    ]
    for seed in (1, 2):
        demand = random_walk_demand(seed)
        fast = simulate_many(demand, CONFIG, policies)
        reference = simulate_many_reference(demand, CONFIG, policies)
        assert sum(len(r.events) for r in fast) > 100  # the traces exercise the rules
        for a, b in zip(fast, reference, strict=True):
            assert np.array_equal(a.servers, b.servers), a.policy.name
            assert list(a.events["reason"]) == list(b.events["reason"])


def test_vectorised_hpa_variants_match_the_per_sample_loop() -> None:
    policies = [HpaPolicy(target_percent=t, min_servers=1, max_servers=5) for t in np.linspace(45, 90, 10)]
    demand = random_walk_demand(5)
    fast = simulate_many(demand, CONFIG, policies)  # 10 variants with one window: stepped as numpy vectors
    reference = simulate_many_reference(demand, CONFIG, policies)
    assert sum(len(r.events) for r in fast) > 50
    for a, b in zip(fast, reference, strict=True):
        assert np.array_equal(a.servers, b.servers), a.policy.name
        pd.testing.assert_frame_equal(a.events, b.events)


def test_engines_agree_on_traces_with_unknown_stretches() -> None:
    demand = random_walk_demand(7)
    for first, length in ((100, 10), (700, 1), (1500, 240), (2990, 10)):
        demand.iloc[first : first + length] = math.nan
    thresholds = [
        policy(cooldown_seconds=float(c), scale_in_window_seconds=float(w)) for c in (0, 300) for w in (60, 600)
    ]
    hpas = [HpaPolicy(target_percent=t, min_servers=1, max_servers=5) for t in np.linspace(45, 90, 10)]
    fast = simulate_many(demand, CONFIG, [*thresholds, *hpas])
    reference = simulate_many_reference(demand, CONFIG, [*thresholds, *hpas])
    for a, b in zip(fast, reference, strict=True):
        assert np.array_equal(a.servers, b.servers), a.policy.name
        pd.testing.assert_frame_equal(a.events, b.events)
        assert a.no_data_minutes == 261
        assert sum(a.band_minutes.values()) + a.no_data_minutes == len(demand)
        assert not (a.events["time"] - pd.Timedelta(minutes=1)).isin(demand.index[demand.isna()]).any()
