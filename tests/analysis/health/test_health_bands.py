"""Health bands (analysis.health.bands): the derived Redis bands and every band boundary, with and without time."""

from __future__ import annotations

import pandas as pd
import pytest
from health_inputs import make_series

from sre_lib.analysis import health
from sre_lib.config import Indicator, PlatformConfig


def test_indicator_bands_adds_the_redis_rules_halfway_to_the_worst_value(config: PlatformConfig) -> None:
    bands = health.indicator_bands(config)
    assert bands["cpu"] == config.indicators["cpu"]
    memory, hits, clients = bands["redis_memory"], bands["redis_hit_ratio"], bands["redis_clients"]
    assert (memory.warning, memory.critical, memory.direction) == (80, 90, "above")
    assert (hits.warning, hits.critical, hits.direction) == (80, 40, "below")
    assert (clients.warning, clients.critical, clients.direction) == (90, 95, "above")
    assert "redis_evictions" not in bands  # a trend rule, not a band


def test_an_explicit_indicator_wins_over_the_derived_redis_band(config: PlatformConfig) -> None:
    indicators = {**config.indicators, "redis_memory": Indicator(unit="percent", warning=75, critical=95)}
    bands = health.indicator_bands(config.model_copy(update={"indicators": indicators}))
    assert (bands["redis_memory"].warning, bands["redis_memory"].critical) == (75, 95)


@pytest.mark.parametrize(
    ("metric", "values", "expected"),
    [
        (
            "cpu",
            [0, 59.99, 60, 70, 80, 80.01, 100],
            ["healthy", "healthy", "warning", "warning", "warning", "critical", "critical"],
        ),
        (
            "redis_hit_ratio",
            [100, 80.01, 80, 60, 40, 39.99, 0],
            ["healthy", "healthy", "warning", "warning", "warning", "critical", "critical"],
        ),
        ("redis_memory", [79.99, 80, 90, 90.01], ["healthy", "warning", "warning", "critical"]),
        ("redis_clients", [89.99, 90, 95, 95.01], ["healthy", "warning", "warning", "critical"]),
    ],
)
def test_band_boundaries(config: PlatformConfig, metric: str, values: list[float], expected: list[str]) -> None:
    with_time = health.classify(make_series(values, metric=metric), config)
    assert list(with_time["status"].astype(str)) == expected
    assert list(with_time["band"].astype(str)) == expected
    level_only = health.classify(pd.DataFrame({"metric": metric, "value": values}), config)
    assert list(level_only["status"].astype(str)) == expected
