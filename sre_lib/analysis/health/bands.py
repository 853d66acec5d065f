"""Health bands: the statuses in severity order and each indicator's warning / critical levels.

Direction "above" (higher is worse): healthy below ``warning``; warning from ``warning`` up to and including
``critical``; critical above ``critical``. Direction "below" mirrors it. The Redis bands derive from
``[redis]``; the sustained rule's minutes come from the indicator or a caller's override.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from sre_lib.config import Indicator, PlatformConfig
from sre_lib.errors import DataError

__all__ = [
    "CRITICAL",
    "HEALTHY",
    "NOT_MONITORED",
    "NO_DATA",
    "ROLLUP_DTYPE",
    "ROLLUP_STATUSES",
    "STATUSES",
    "STATUS_DTYPE",
    "WARNING",
    "indicator_bands",
    "sustained_minutes",
]

#: Statuses from best to worst: the order in which the worst status wins a roll-up ("no data" beats healthy).
STATUSES: tuple[str, ...] = ("healthy", "no data", "warning", "critical")
STATUS_DTYPE = pd.CategoricalDtype(list(STATUSES), ordered=True)
HEALTHY, NO_DATA, WARNING, CRITICAL = range(4)
#: A component or indicator without a single series: grey, listed in the coverage table, and below healthy in a
#: roll-up, so that it never colours a verdict (a series that stopped is "no data", and does).
NOT_MONITORED = "not monitored"
ROLLUP_STATUSES: tuple[str, ...] = (NOT_MONITORED, *STATUSES)
ROLLUP_DTYPE = pd.CategoricalDtype(list(ROLLUP_STATUSES), ordered=True)


def indicator_bands(config: PlatformConfig) -> dict[str, Indicator]:
    """The bands of every level-classified metric: ``config.indicators`` plus the Redis metrics.

    The Redis bands derive from ``[redis]`` (an explicit ``[indicators.<name>]`` entry wins):

    * ``redis_memory`` (percent of maxmemory): warning at ``memory_percent``, critical halfway from there
      to 100 (80 -> 90).
    * ``redis_hit_ratio`` (percent, lower is worse): warning at ``hit_ratio_percent``, critical halfway from
      there to 0 (80 -> 40).
    * ``redis_clients`` (percent of maxclients): warning at ``clients_near_limit_percent``, critical
      halfway from there to 100 (90 -> 95).

    "Halfway to the worst possible value" is the one rule for all three. ``redis_evictions`` has no bands: see
    ``evictions_trend``.
    """
    redis = config.redis
    derived = {
        "redis_memory": Indicator(
            unit="percent of maxmemory", warning=redis.memory_percent, critical=(redis.memory_percent + 100) / 2
        ),
        "redis_hit_ratio": Indicator(
            unit="percent", warning=redis.hit_ratio_percent, critical=redis.hit_ratio_percent / 2, direction="below"
        ),
        "redis_clients": Indicator(
            unit="percent of maxclients",
            warning=redis.clients_near_limit_percent,
            critical=(redis.clients_near_limit_percent + 100) / 2,
        ),
    }
    return {**derived, **config.indicators}


def sustained_minutes(
    bands: Mapping[str, Indicator], sustained: float | Mapping[str, float] | None
) -> dict[str, float]:
    """Minutes each banded metric must stay critical before it counts as critical: the indicator's own, or
    ``sustained`` (minutes for every metric, or a mapping per metric) where given."""
    minutes = {name: float(ind.sustained_minutes) for name, ind in bands.items()}
    if sustained is None:
        return minutes
    if isinstance(sustained, Mapping):
        unknown = sorted(set(sustained) - set(bands))
        if unknown:
            raise ValueError(f"sustained: no bands for metric(s) {unknown}; banded metrics: {', '.join(sorted(bands))}")
        overrides = dict(sustained)
    else:
        overrides = dict.fromkeys(bands, sustained)
    for name, value in overrides.items():
        if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            raise DataError(f"sustained[{name!r}]: expected minutes >= 0, got {value!r}")
        minutes[name] = float(value)
    return minutes
