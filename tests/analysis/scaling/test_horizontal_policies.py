"""Scaling policies: the shipped defaults, refused values, the words a report uses."""

from __future__ import annotations

import pytest

from sre_lib.analysis.scaling import HpaPolicy, ThresholdPolicy
from sre_lib.config import load_config


def test_defaults_come_from_the_shipped_config() -> None:
    shipped = load_config()
    p = ThresholdPolicy.from_config(shipped)
    assert (p.cpu_threshold_percent, p.scale_in_cpu_threshold_percent) == (70, 35)
    assert (p.cooldown_seconds, p.min_servers, p.max_servers, p.scale_in_window) == (300, 1, 4, 300)
    assert HpaPolicy.from_config(shipped).target_percent == 70


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: ThresholdPolicy(min_servers=5, max_servers=4), r"min_servers \(5\) is above max_servers \(4\)"),
        (lambda: ThresholdPolicy(min_servers=0), "min_servers"),
        (lambda: ThresholdPolicy(cpu_threshold_percent=60, scale_in_cpu_threshold_percent=60), "must be below"),
        (lambda: ThresholdPolicy(cooldown_seconds=-1), "cooldown_seconds"),
        (lambda: HpaPolicy(min_servers=3, max_servers=2), "min_servers"),
        (lambda: HpaPolicy(tolerance=1.5), "tolerance"),
        (lambda: HpaPolicy(target_percent=0), "target_percent"),
    ],
)
def test_bad_policies_are_refused(make, match: str) -> None:
    with pytest.raises(ValueError, match=match):  # a policy built wrong is API misuse
        make()


def test_policies_describe_themselves_in_words() -> None:
    threshold = ThresholdPolicy(cpu_threshold_percent=70, scale_in_cpu_threshold_percent=35, cooldown_seconds=300,
                                min_servers=1, max_servers=4)  # fmt: skip
    assert threshold.describe() == (
        "add a server above 70 % CPU, remove one when the rest would stay under 35 %; 5 min between changes; "
        "1 to 4 servers"
    )
    hpa = HpaPolicy(
        target_percent=60, tolerance=0.1, scale_down_stabilisation_seconds=600, min_servers=2, max_servers=6
    )
    assert hpa.describe() == (
        "Kubernetes-HPA style: as many servers as keep the average CPU near 60 % (changes beyond 10% of it); "
        "scale-down waits 10 min; 2 to 6 servers"
    )
