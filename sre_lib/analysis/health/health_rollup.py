"""Worst status wins: the roll-up of a status table per component and for the platform, with its cause."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sre_lib.analysis.health.bands import NOT_MONITORED, ROLLUP_DTYPE, ROLLUP_STATUSES, STATUSES
from sre_lib.config import PlatformConfig
from sre_lib.errors import DataError

__all__ = ["HealthRollup", "rollup"]


@dataclass(frozen=True, eq=False)
class HealthRollup:
    """Worst status wins: the platform's status and its cause, and the same per component (``components``)."""

    status: str
    component: str | None
    instance: str | None
    metric: str | None
    detail: str
    components: pd.DataFrame

    @property
    def cause(self) -> str:
        """What made the platform's status, in words."""
        if self.component is None:
            return self.detail
        what = f"{self.metric} on {self.component}/{self.instance}" if self.metric else self.component
        return f"{what}: {self.detail}"

    def __repr__(self) -> str:
        shown = self.components[["component", "status", "metric", "instance", "detail"]]
        lines = [f"HealthRollup(platform {self.status}: {self.cause})"]
        if len(shown):
            lines.append(shown.to_string(index=False))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        header = f"<p><b>platform {self.status}</b>: {self.cause}</p>"
        return header + self.components.to_html(index=False)


def rollup(status_table: pd.DataFrame, config: PlatformConfig | None = None) -> HealthRollup:
    """Per component and for the platform, the worst status of ``status_table`` (from ``current_status``).

    Severity: critical > warning > no data > healthy (a silent series is not a healthy one). Ties go to the
    status that began first, then by component, instance and metric. With ``config``, every configured
    component is listed, and one without any series is "not monitored": grey, below healthy, so it never
    colours the platform's status. With nothing monitored at all the platform is "no data".
    """
    missing = [column for column in ("component", "metric", "status") if column not in status_table]
    if missing:
        raise DataError(f"status table: missing column(s) {missing}; pass the result of current_status")
    table = status_table.copy()
    for column, default in (("instance", ""), ("detail", ""), ("value", np.nan), ("since", pd.NaT)):
        if column not in table:
            table[column] = default
    unknown = sorted(set(table["status"].astype(str)) - set(ROLLUP_STATUSES))
    if unknown:
        raise DataError(f"status table: unknown status(es) {unknown}; expected one of {list(ROLLUP_STATUSES)}")
    status = pd.Categorical(table["status"].astype(str), dtype=ROLLUP_DTYPE)
    table["rank"] = status.codes
    table["status"] = status
    table = table.sort_values(
        ["rank", "since", "component", "instance", "metric"],
        ascending=[False, True, True, True, True],
        na_position="last",
        kind="stable",
    )
    names = list(config.components) if config is not None else []
    names += sorted(set(table["component"].astype(str)) - set(names))
    counts = table.groupby("component", observed=False)["status"].value_counts().unstack(fill_value=0)
    worst = table.drop_duplicates("component").set_index("component")
    rows = []
    for name in names:
        if name in worst.index and worst.loc[name, "status"] == "healthy":
            row = {
                "component": name, "status": "healthy", "metric": None, "instance": None, "value": np.nan,
                "since": pd.NaT, "since_clipped": False, "detail": f"all {int(counts.loc[name].sum())} series healthy",
                "series": int(counts.loc[name].sum()),
            }  # fmt: skip
            row |= {key.replace(" ", "_"): int(counts.loc[name].get(key, 0)) for key in STATUSES}
        elif name in worst.index:
            cause = worst.loc[name]
            row = {
                "component": name,
                "status": str(cause["status"]),
                "metric": cause["metric"],
                "instance": cause["instance"],
                "value": cause["value"],
                "since": cause["since"],
                "since_clipped": bool(cause["since_clipped"]) if "since_clipped" in cause.index else False,
                "detail": cause["detail"],
                "series": int(counts.loc[name].sum()),
            }
            row |= {key.replace(" ", "_"): int(counts.loc[name].get(key, 0)) for key in STATUSES}
        else:
            row = {
                "component": name, "status": NOT_MONITORED, "metric": None, "instance": None, "value": np.nan,
                "since": pd.NaT, "since_clipped": False, "detail": "no series for this component", "series": 0,
            }  # fmt: skip
            row |= {key.replace(" ", "_"): 0 for key in STATUSES}
        rows.append(row)
    components = pd.DataFrame(rows)
    if components.empty:
        return HealthRollup("no data", None, None, None, "no series and no configured components", components)
    components["status"] = pd.Categorical(components["status"], dtype=ROLLUP_DTYPE)
    components["since"] = pd.to_datetime(components["since"], utc=True)
    ranked = components.assign(rank=components["status"].cat.codes).sort_values(
        ["rank", "since"], ascending=[False, True], na_position="last", kind="stable"
    )
    top = ranked.iloc[0]
    unseen = list(components.loc[components["status"] == NOT_MONITORED, "component"])
    if top["status"] == NOT_MONITORED:
        return HealthRollup("no data", None, None, None, "no component is monitored: no series at all", components)
    if top["status"] == "healthy":
        aside = f" ({', '.join(unseen)} not monitored)" if unseen else ""
        return HealthRollup(
            "healthy", None, None, None, f"all {int(components['series'].sum())} series healthy{aside}", components
        )
    return HealthRollup(str(top["status"]), top["component"], top["instance"], top["metric"], top["detail"], components)
