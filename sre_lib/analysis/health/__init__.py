"""Health of the key indicators: healthy / warning / critical per sample, time in bands, episodes, the current
status table and a worst-status-wins roll-up per component and for the platform.

Every function reads ``source``: a warehouse connection (``metric_series`` + ``metric_samples``) or a DataFrame
with columns ``metric``, ``value`` and optionally ``ts``, ``series_id``, ``component``, ``instance`` (a frame
without ``series_id`` is split into series by whichever of component / instance / metric it has).

The rules, in one place:

* **Bands** come from ``indicator_bands(config)``. Direction "above" (higher is worse): healthy below
  ``warning``; warning from ``warning`` up to and including ``critical``; critical above ``critical``
  (cpu 60 / 80: 59.99 healthy, 60 warning, 80 warning, 80.01 critical). Direction "below" mirrors it.
* **Sustained**: with ``sustained_minutes`` N (from the indicator, or the ``sustained`` override), a sample in
  the critical band counts as critical only once the indicator has been in that band for N minutes without a
  break (``ts - first sample of the run >= N``); until then it counts as warning.
* **Contiguity**: two samples of a series are contiguous when at most ``max_gap`` apart (default: twice the
  series' typical step, its median sampling interval), so one missing sample neither ends an episode nor
  resets a sustained run; a longer gap does both.
* **Time**: a sample's status holds until the next contiguous sample, or for one step if there is none. Time
  not held by any sample is "no data", so a series' minutes in healthy + warning + critical + no data equal
  the window.
* Samples are classified by level only. ``redis_evictions`` (a rate) is judged by its trend instead, see
  ``evictions_trend``; it appears in ``current_status`` but not in ``time_in_bands`` or ``episodes``.
  Metrics with neither bands nor a trend rule (``request_rate``) are ignored.

All the per-sample work is vectorised numpy over arrays fetched from DuckDB; Python only loops per series.

The package, one concern per module, in the order the data flows:

* ``bands``: statuses and indicator bands; ``sample_loading``: samples from a warehouse or a frame;
* ``status_engine``: per-series rules and the vectorised classification;
* ``assessment``: one pass over a window (time in bands, episodes); ``classification``: the public views;
* ``eviction_trend``: the Redis evictions trend; ``status_table`` and ``status_text``: the current status;
* ``health_rollup``: worst status wins, per component and for the platform ("not monitored" never colours it);
* ``coverage``: every component x indicator the config expects, with its status or "not monitored".
"""

from sre_lib.analysis.health.assessment import Assessment, assess
from sre_lib.analysis.health.bands import (
    NOT_MONITORED,
    ROLLUP_DTYPE,
    ROLLUP_STATUSES,
    STATUS_DTYPE,
    STATUSES,
    indicator_bands,
)
from sre_lib.analysis.health.classification import classify, episodes, time_in_bands
from sre_lib.analysis.health.coverage import COLLECTED, coverage, expected_indicators
from sre_lib.analysis.health.eviction_trend import TREND_METRICS, evictions_trend
from sre_lib.analysis.health.health_rollup import HealthRollup, rollup
from sre_lib.analysis.health.status_table import current_status
from sre_lib.analysis.health.status_text import reading

__all__ = [
    "COLLECTED",
    "NOT_MONITORED",
    "ROLLUP_DTYPE",
    "ROLLUP_STATUSES",
    "STATUSES",
    "STATUS_DTYPE",
    "TREND_METRICS",
    "Assessment",
    "HealthRollup",
    "assess",
    "classify",
    "coverage",
    "current_status",
    "episodes",
    "evictions_trend",
    "expected_indicators",
    "indicator_bands",
    "reading",
    "rollup",
    "time_in_bands",
]
