"""SLO burn-rate rules: the SRE workbook's multi-window, multi-burn-rate alerts and the ratios they read.

An objective of 99.9 % leaves an error budget of 0.1 %. Burning at 14.4 times that for an hour spends 2 % of
a 30-day budget; at 6 times for 6 hours, 5 %: both page. At 1 times over 3 days, 10 %: a ticket. Each long
window is paired with a short one (1/12 of it) so the alert stops soon after the burning does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sre_lib.alert_config import WINDOW_PLACEHOLDER, SloObjective
from sre_lib.analysis.alerts.band_rules import AlertRule, RecordingRule, alert_name
from sre_lib.config import PlatformConfig

__all__ = ["BURN_WINDOWS", "BurnWindow", "burn_rate_alerts", "error_budget", "ratio_name", "slo_recording_rules"]


@dataclass(frozen=True)
class BurnWindow:
    """A long and a short window that must both burn faster than ``factor`` times the budget."""

    long: str
    short: str
    factor: float
    severity: str  # "critical" pages, "ticket" files a ticket


BURN_WINDOWS = (
    BurnWindow("1h", "5m", 14.4, "critical"),
    BurnWindow("6h", "30m", 6.0, "critical"),
    BurnWindow("3d", "6h", 1.0, "ticket"),
)


def ratio_name(window: str) -> str:
    """The recorded error ratio over one window, e.g. ``sre_slo:error_ratio:rate1h``."""
    return f"sre_slo:error_ratio:rate{window}"


def error_budget(slo: SloObjective) -> float:
    """The share of events allowed to fail: 0.001 for 99.9 %. Rounded so 99.9 gives 0.001, not 0.0010000000000000009."""
    return round(1 - slo.objective_percent / 100, 12)


def _windows() -> list[str]:
    return sorted({w for b in BURN_WINDOWS for w in (b.long, b.short)}, key=_window_seconds)


def _window_seconds(window: str) -> int:
    amount, unit = re.fullmatch(r"(\d+)([mhd])", window).groups()  # type: ignore[union-attr]  # ours only
    return int(amount) * {"m": 60, "h": 3600, "d": 86400}[unit]


def slo_recording_rules(config: PlatformConfig) -> list[RecordingRule]:
    """Each objective's error ratio over every window the burn-rate alerts read, labelled with the objective."""
    rules = []
    for name, slo in config.slos.items():
        for window in _windows():
            errors = slo.errors_query.replace(WINDOW_PLACEHOLDER, window)
            total = slo.total_query.replace(WINDOW_PLACEHOLDER, window)
            rules.append(
                RecordingRule(ratio_name(window), f"({errors}) / ({total})", {"slo": name, "component": slo.component})
            )
    return rules


def _burning(slo_name: str, windows: list[BurnWindow], budget: float) -> str:
    selector = f'{{slo="{slo_name}"}}'
    return " or ".join(
        f"({ratio_name(w.long)}{selector} > ({w.factor:g} * {budget:g})"
        f" and {ratio_name(w.short)}{selector} > ({w.factor:g} * {budget:g}))"
        for w in windows
    )


def burn_rate_alerts(config: PlatformConfig) -> list[AlertRule]:
    """A paging and a ticket alert per objective; the value is the long window's error ratio."""
    rules = []
    for name, slo in config.slos.items():
        budget = error_budget(slo)
        for severity, suffix, what in (("critical", "ErrorBudgetBurn", "pages"), ("ticket", "ErrorBudgetSlowBurn", "")):
            windows = [w for w in BURN_WINDOWS if w.severity == severity]
            alert = alert_name(name, suffix)
            pace = " or ".join(f"{w.factor:g}x over {w.long} and {w.short}" for w in windows)
            rules.append(
                AlertRule(
                    alert=alert,
                    expr=_burning(name, windows, budget),
                    for_minutes=0,
                    severity=severity,
                    summary=f'{slo.description}: error ratio {{{{ printf "%.4f" $value }}}} burns the '
                    f"{slo.objective_percent:g} % objective's {slo.period_days}-day budget at {pace}"
                    + (" (pages)" if what else ""),
                    runbook_url=config.alerts.runbook_url.replace("{alert}", alert),
                    labels={"component": slo.component},
                )
            )
    return rules
