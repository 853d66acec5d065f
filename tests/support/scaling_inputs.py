"""Scaling test inputs: an inventory with hand-checkable prices and sizes, 1-minute demand traces."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sre_lib.analysis.scaling import Policy, SimulationResult, ThresholdPolicy, simulate
from sre_lib.config import parse_config
from support.reference_scaling import simulate_reference

# Prices and sizes fixed here, so the expected numbers below can be worked out by hand.
CONFIG_TEXT = """
[platform]
name = "test"

[sizes.tiny]
vcpu = 1
ram_gb = 2
disk_gb = 50
monthly_price = 12.0

[sizes.tiny-cpu]
vcpu = 2
ram_gb = 2
disk_gb = 50
monthly_price = 18.0

[sizes.small]
vcpu = 2
ram_gb = 4
disk_gb = 80
monthly_price = 24.0

[sizes.cpu-only]
vcpu = 4
ram_gb = 4
disk_gb = 80
monthly_price = 30.0

[sizes.ram]
vcpu = 2
ram_gb = 8
disk_gb = 80
monthly_price = 36.0

[sizes.big]
vcpu = 4
ram_gb = 8
disk_gb = 160
monthly_price = 48.0

[sizes.huge]
vcpu = 8
ram_gb = 16
disk_gb = 320
monthly_price = 96.0

[components.cdn]
role = "cdn"
monthly_price = 5.0

[components.app]
role = "app"
size = "small"
count = 2

[components.postgresql]
role = "database"
size = "small"

[components.redis]
role = "cache"
size = "tiny"

[indicators.cpu]
unit = "percent"
warning = 60.0
critical = 80.0

[indicators.memory]
unit = "percent"
warning = 70.0
critical = 85.0

[indicators.db_connections]
unit = "percent of pool"
warning = 70.0
critical = 85.0

[indicators.latency_p95]
unit = "ms"
warning = 200.0
critical = 500.0

[scaling.horizontal]
component = "app"
cpu_threshold_percent = 70.0
scale_in_cpu_threshold_percent = 35.0
cooldown_seconds = 300
min_servers = 1
max_servers = 4

[[scaling.vertical]]
trigger = "consistent high CPU"
indicator = "cpu"
above_percent = 80.0
sustained_minutes = 60
action = "resize to more vCPUs"

[[scaling.vertical]]
trigger = "memory pressure"
indicator = "memory"
above_percent = 85.0
sustained_minutes = 30
action = "resize to more RAM"

[[scaling.vertical]]
trigger = "database bottleneck"
indicator = "db_connections"
component = "postgresql"
above_percent = 85.0
sustained_minutes = 15
action = "resize the database Droplet"
"""

CONFIG = parse_config(CONFIG_TEXT)
START = pd.Timestamp("2026-10-01 00:00", tz="UTC")


def trace(*parts: tuple[float, int]) -> pd.Series:
    """A 1-minute demand trace from (level, minutes) pieces."""
    values = np.concatenate([np.full(minutes, float(level)) for level, minutes in parts])
    return pd.Series(values, index=pd.date_range(START, periods=len(values), freq="1min"), name="demand")


def series_of(values: list[float]) -> pd.Series:
    """A 1-minute demand trace of these values."""
    return pd.Series(values, index=pd.date_range(START, periods=len(values), freq="1min"), dtype=float)


def policy(**changes: object) -> ThresholdPolicy:
    """The test inventory's threshold policy, with fields overridden by keyword."""
    return ThresholdPolicy.from_config(CONFIG, **changes)


def both_engines(demand: pd.Series, chosen: Policy, **kwargs: object) -> SimulationResult:
    """``simulate`` with the fast engines, checked against the per-sample reference loop."""
    fast = simulate(demand, CONFIG, chosen, **kwargs)
    reference = simulate_reference(demand, CONFIG, chosen, **kwargs)
    assert np.array_equal(fast.servers, reference.servers)
    pd.testing.assert_frame_equal(fast.events, reference.events)
    return fast
