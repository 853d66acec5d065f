"""Horizontal scaling policies: the configured threshold policy, a Kubernetes-HPA-style one, variant grids.

* ``ThresholdPolicy`` (the configured one): scale **out** by one server when per-server CPU > the CPU
  threshold (70 %), below ``max_servers``, once the cooldown since the last scale event has passed. Scale
  **in** by one server when the *peak* demand over the last ``scale_in_window_seconds`` (default: the
  cooldown, 300 s) would keep the remaining ``n - 1`` servers below ``scale_in_cpu_threshold_percent`` (35 %),
  above ``min_servers`` and after the cooldown. Judging the projected load on ``n - 1`` servers (not the
  current per-server load, which is lower) over a window (not one sample), with the two thresholds far
  apart (70 / 35), means a scale-in lands well below the scale-out threshold: steady load does not flap.
* ``HpaPolicy`` (Kubernetes HPA style, for comparison): desired = ceil(n x utilisation / target), no change
  while |utilisation / target - 1| <= tolerance; scale up at once; scale down only to the highest desired
  count of the stabilisation window (300 s); bounded by min/max.

A policy is a frozen value: its fields are checked when it is made, so the engines can trust them.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

from sre_lib.config import PlatformConfig
from sre_lib.durations import human_duration


def _check_bounds(name: str, low: int, high: int) -> None:
    if not (isinstance(low, numbers.Integral) and isinstance(high, numbers.Integral)) or low < 1:
        raise ValueError(f"{name}: min_servers and max_servers must be whole numbers >= 1, got {low!r}, {high!r}")
    if low > high:
        raise ValueError(f"{name}: min_servers ({low}) is above max_servers ({high})")
    if high > 10_000:
        raise ValueError(f"{name}: max_servers ({high}) above 10000")


def _check_percent(name: str, key: str, value: float) -> None:
    if not (isinstance(value, numbers.Real) and math.isfinite(value) and 0 < value <= 100):
        raise ValueError(f"{name}: {key} must be a percentage in (0, 100], got {value!r}")


def _check_seconds(name: str, key: str, value: float | None) -> None:
    if value is not None and not (isinstance(value, numbers.Real) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{name}: {key} must be a number of seconds >= 0, got {value!r}")


@dataclass(frozen=True)
class ThresholdPolicy:
    """Step scaling on a CPU threshold with a cooldown (the configured horizontal policy; rules in the module doc)."""

    cpu_threshold_percent: float = 70.0
    scale_in_cpu_threshold_percent: float = 35.0
    cooldown_seconds: float = 300.0
    min_servers: int = 1
    max_servers: int = 4
    scale_in_window_seconds: float | None = None  # None: the cooldown
    name: str = ""

    def __post_init__(self) -> None:
        label = self.name or "ThresholdPolicy"
        _check_percent(label, "cpu_threshold_percent", self.cpu_threshold_percent)
        _check_percent(label, "scale_in_cpu_threshold_percent", self.scale_in_cpu_threshold_percent)
        if self.scale_in_cpu_threshold_percent >= self.cpu_threshold_percent:
            raise ValueError(
                f"{label}: scale_in_cpu_threshold_percent ({self.scale_in_cpu_threshold_percent}) must be below "
                f"cpu_threshold_percent ({self.cpu_threshold_percent})"
            )
        _check_seconds(label, "cooldown_seconds", self.cooldown_seconds)
        _check_seconds(label, "scale_in_window_seconds", self.scale_in_window_seconds)
        _check_bounds(label, self.min_servers, self.max_servers)
        if not self.name:
            object.__setattr__(
                self,
                "name",
                f"threshold {self.cpu_threshold_percent:.4g}/{self.scale_in_cpu_threshold_percent:.4g}% "
                f"cooldown {self.cooldown_seconds:g}s [{self.min_servers}-{self.max_servers}]",
            )

    @classmethod
    def from_config(cls, config: PlatformConfig, **changes: object) -> ThresholdPolicy:
        """The configured ``[scaling.horizontal]`` policy, with any field overridden by keyword."""
        h = config.scaling.horizontal
        fields = {
            "cpu_threshold_percent": h.cpu_threshold_percent,
            "scale_in_cpu_threshold_percent": h.scale_in_cpu_threshold_percent,
            "cooldown_seconds": float(h.cooldown_seconds),
            "min_servers": h.min_servers,
            "max_servers": h.max_servers,
        }
        return cls(**{**fields, **changes})  # type: ignore[arg-type]

    def describe(self) -> str:
        """The policy in words, for a report."""
        return (
            f"add a server above {self.cpu_threshold_percent:g} % CPU, remove one when the rest would stay under "
            f"{self.scale_in_cpu_threshold_percent:g} %; {human_duration(self.cooldown_seconds)} between changes; "
            f"{self.min_servers} to {self.max_servers} servers"
        )

    @property
    def scale_in_window(self) -> float:
        return self.cooldown_seconds if self.scale_in_window_seconds is None else self.scale_in_window_seconds


@dataclass(frozen=True)
class HpaPolicy:
    """Kubernetes-HPA-style proportional scaling on average CPU utilisation."""

    target_percent: float = 70.0
    tolerance: float = 0.1
    scale_down_stabilisation_seconds: float = 300.0
    min_servers: int = 1
    max_servers: int = 4
    name: str = ""

    def __post_init__(self) -> None:
        label = self.name or "HpaPolicy"
        _check_percent(label, "target_percent", self.target_percent)
        if not (isinstance(self.tolerance, numbers.Real) and 0 <= self.tolerance < 1):
            raise ValueError(f"{label}: tolerance must be in [0, 1), got {self.tolerance!r}")
        _check_seconds(label, "scale_down_stabilisation_seconds", self.scale_down_stabilisation_seconds)
        _check_bounds(label, self.min_servers, self.max_servers)
        if not self.name:
            object.__setattr__(
                self,
                "name",
                f"hpa target {self.target_percent:.4g}% tol {self.tolerance:g} "
                f"window {self.scale_down_stabilisation_seconds:g}s [{self.min_servers}-{self.max_servers}]",
            )

    def describe(self) -> str:
        """The policy in words, for a report."""
        return (
            f"Kubernetes-HPA style: as many servers as keep the average CPU near {self.target_percent:g} % "
            f"(changes beyond {self.tolerance:.0%} of it); scale-down waits "
            f"{human_duration(self.scale_down_stabilisation_seconds)}; {self.min_servers} to {self.max_servers} servers"
        )

    @classmethod
    def from_config(cls, config: PlatformConfig, **changes: object) -> HpaPolicy:
        """An HPA targeting the configured CPU threshold, within the configured server bounds."""
        h = config.scaling.horizontal
        fields = {"target_percent": h.cpu_threshold_percent, "min_servers": h.min_servers, "max_servers": h.max_servers}
        return cls(**{**fields, **changes})  # type: ignore[arg-type]


Policy = ThresholdPolicy | HpaPolicy


def policy_grid(
    config: PlatformConfig,
    thresholds: Sequence[float] = tuple(range(55, 86, 3)),
    cooldowns: Sequence[float] = (60, 120, 180, 300, 420, 600, 900, 1200, 1800),
    **changes: object,
) -> list[ThresholdPolicy]:
    """Threshold-policy variants around the configured one: every threshold x cooldown pair.

    The scale-in threshold follows the configured ratio (35 / 70 = half the scale-out threshold).
    """
    h = config.scaling.horizontal
    ratio = h.scale_in_cpu_threshold_percent / h.cpu_threshold_percent
    return [
        ThresholdPolicy.from_config(
            config,
            cpu_threshold_percent=float(t),
            scale_in_cpu_threshold_percent=float(t) * ratio,
            cooldown_seconds=float(c),
            **changes,
        )
        for t in thresholds
        for c in cooldowns
    ]
