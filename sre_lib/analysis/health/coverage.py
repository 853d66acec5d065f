"""Coverage: every component x indicator the config expects, with its status now or "not monitored" and the
catalogue entry (name and PromQL) that would supply it.

What a component is expected to have comes from the catalogue: an entry with a fixed ``component`` is expected
of that component; an entry mapped by label (``up``, ``cpu``, ``memory``, ``disk``) of every component that runs
servers (a ``size``); a volume (a component with a ``mountpoint``, or role "volume") is expected to have ``disk``.
A flat-priced service with no entry of its own (a CDN) is listed once, with no entry to supply it.
A row "not monitored" never colours a verdict: it says what to collect, not that something is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from sre_lib.analysis.health.bands import NOT_MONITORED, ROLLUP_DTYPE
from sre_lib.config import PlatformConfig

__all__ = ["COLLECTED", "COVERAGE_COLUMNS", "VOLUME_METRIC", "coverage", "expected_indicators"]

#: Status of a series that is collected but has no bands (request rates, database size): seen, not judged.
COLLECTED = "collected (no bands)"
#: The metric a volume is judged on: its filled share.
VOLUME_METRIC = "disk"
COVERAGE_COLUMNS = ["component", "indicator", "status", "servers", "detail", "catalogue", "query"]


def expected_indicators(config: PlatformConfig) -> dict[str, list[str]]:
    """For each component (in the config's order), the catalogue metrics expected of it."""
    expected: dict[str, list[str]] = {name: [] for name in config.components}
    for metric, entry in config.catalogue.items():
        if entry.component is not None:
            if entry.component in expected:  # a view of some components leaves the others' entries out
                expected[entry.component].append(metric)
            continue
        for name, component in config.components.items():
            is_volume = component.mountpoint is not None or component.role == "volume"
            if (is_volume and metric == VOLUME_METRIC) or (not is_volume and component.size is not None):
                expected[name].append(metric)
    return expected


def coverage(status: pd.DataFrame, config: PlatformConfig, collected: Iterable[tuple[str, str]] = ()) -> pd.DataFrame:
    """One row per component x indicator: the expected ones (``expected_indicators``) and any other the status
    table has. ``status`` is ``current_status``'s table; ``collected`` the (component, metric) pairs that have a
    series in the warehouse (an unbanded one reads ``COLLECTED``). Columns: component, indicator, status (the
    worst of its series, or "not monitored"), servers, detail (of the worst series), catalogue and query."""
    seen = set(collected)
    worst: dict[tuple[str, str], pd.DataFrame] = {}
    if not status.empty:
        ranked = status.assign(_rank=pd.Categorical(status["status"].astype(str), dtype=ROLLUP_DTYPE).codes)
        for key, group in ranked.groupby(["component", "metric"], sort=False):
            worst[(str(key[0]), str(key[1]))] = group.sort_values("_rank", ascending=False, kind="stable")
    rows = []
    expected = expected_indicators(config)
    extra = [key for key in worst if key[1] not in expected.get(key[0], [])]
    for name in [*config.components, *sorted({component for component, _ in extra} - set(config.components))]:
        metrics = [*expected.get(name, []), *sorted(metric for component, metric in extra if component == name)]
        if not metrics:
            rows.append(
                {
                    "component": name, "indicator": "", "status": NOT_MONITORED, "servers": "",
                    "detail": "no catalogue entry collects anything of this component",
                    "catalogue": "", "query": f"add a [catalogue.<metric>] entry with component = {name!r}",
                }
            )  # fmt: skip
            continue
        for metric in metrics:
            entry = config.catalogue.get(metric)
            if entry is not None and entry.component not in (None, name):
                entry = None  # an entry of another component does not supply this one (the demo's CDN rows)
            row = {
                "component": name,
                "indicator": metric,
                "catalogue": f"catalogue.{metric}" if entry is not None else "",
                "query": entry.query if entry is not None else "",
            }
            group = worst.get((name, metric))
            if group is not None:
                first = group.iloc[0]
                servers = ", ".join(dict.fromkeys(group["instance"].astype(str))) if "instance" in group else ""
                row |= {"status": str(first["status"]), "servers": servers, "detail": str(first.get("detail", ""))}
            elif (name, metric) in seen:
                row |= {"status": COLLECTED, "servers": "", "detail": "collected; no bands to judge it by"}
            else:
                row |= {"status": NOT_MONITORED, "servers": "", "detail": "no series: this entry collects nothing"}
            rows.append(row)
    return pd.DataFrame(rows, columns=COVERAGE_COLUMNS)
