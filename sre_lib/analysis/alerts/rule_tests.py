"""promtool unit tests for the generated alerts: for each alert, input series that fire it and that do not.

The band, Redis and SLO alerts read recorded series, so their tests feed those series directly and check the
thresholds, directions and ``for:`` durations; the disk alerts read node_exporter's series and are fed those.
Expected labels and summaries are derived from the rules themselves, rendered as Prometheus renders them.
"""

from __future__ import annotations

import re
from typing import Any

from sre_lib.analysis.alerts.band_rules import (
    AlertRule,
    band_alerts,
    disk_fill_alerts,
    recorded_name,
    redis_policy_alerts,
)
from sre_lib.analysis.alerts.burn_rates import BURN_WINDOWS, burn_rate_alerts, error_budget, ratio_name
from sre_lib.analysis.alerts.rule_files import ALERTS_FILE
from sre_lib.config import PlatformConfig

__all__ = ["hourly_unit_tests", "render_summary", "unit_tests"]

Labels = dict[str, str]
TREND_ALERT = "RedisEvictionsRising"


def render_summary(template: str, labels: Labels, value: float) -> str:
    """The summary Prometheus shows for an alert: ``{{ $labels.X }}`` and ``printf "%.Nf" $value`` filled in."""
    text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), "<no value>"), template)
    return re.sub(r'\{\{ printf "%\.(\d)f" \$value \}\}', lambda m: f"{value:.{m.group(1)}f}", text)


def _series(name: str, labels: Labels) -> str:
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _expect(rule: AlertRule, minutes: int, labels: Labels | None, value: float = 0.0) -> dict[str, Any]:
    """An alert_rule_test: ``rule`` fires at ``minutes`` with the series' ``labels``, or (None) it does not."""
    expected = []
    if labels is not None:
        alert_labels = {**labels, **rule.rule_labels()}
        annotations = {"summary": render_summary(rule.summary, alert_labels, value), "runbook_url": rule.runbook_url}
        expected.append({"exp_labels": alert_labels, "exp_annotations": annotations})
    return {"eval_time": f"{minutes}m", "alertname": rule.alert, "exp_alerts": expected}


def _case(series: dict[str, str], checks: list[dict[str, Any]], interval: str = "1m") -> dict[str, Any]:
    return {
        "interval": interval,
        "input_series": [{"series": s, "values": v} for s, v in series.items()],
        "alert_rule_test": checks,
    }


def _level_cases(config: PlatformConfig, rules: list[AlertRule]) -> list[dict[str, Any]]:
    """Band and Redis alerts: one recorded series held at a value past the rule's threshold, and at one short of it."""
    cases = []
    for rule in rules:
        metric, operator, threshold_text = rule.expr.rsplit(" ", 2)
        threshold = float(threshold_text)
        key = metric.removeprefix("sre:")
        entry = next(e for m, e in config.catalogue.items() if recorded_name(m) == metric)
        labels = {"component": entry.component or next(iter(config.components)), "instance": "test-1"}
        worse = operator.startswith(">")
        fire = threshold if "=" in operator else threshold * (1.5 if worse else 0.5)
        quiet = threshold * 0.5 if worse else threshold * 1.5 + 1
        ends = rule.for_minutes + 2
        samples = rule.for_minutes + 10
        name = _series(recorded_name(key), labels)
        cases.append(_case({name: f"{fire!r}x{samples}"}, [_expect(rule, ends, labels, fire)]))
        cases.append(_case({name: f"{quiet!r}x{samples}"}, [_expect(rule, ends, None)]))
        if rule.for_minutes > 1:  # past the threshold, but not yet for long enough
            cases.append(_case({name: f"{fire!r}x{samples}"}, [_expect(rule, rule.for_minutes - 1, None)]))
    return cases


def _trend_cases(config: PlatformConfig, rules: list[AlertRule]) -> list[dict[str, Any]]:
    """Evictions a minute tripled in the last window against the one before; steady evictions."""
    hours = config.redis.evictions_trend_hours
    entry = config.catalogue["redis_evictions"] if rules else None
    labels = {"component": (entry and entry.component) or next(iter(config.components)), "instance": "test-1"}
    name = _series(recorded_name("redis_evictions"), labels)
    cases = []
    for rule in rules:  # one sample an hour: the window before at 1 a minute, the last window at 3
        fired = _expect(rule, hours * 2 * 60, labels, 3.0)
        cases.append(_case({name: f"1x{hours - 1} 3x{hours}"}, [fired], interval="1h"))
        cases.append(_case({name: f"2x{hours * 2}"}, [_expect(rule, hours * 2 * 60, None)], interval="1h"))
    return cases


def _disk_cases(config: PlatformConfig, rules: list[AlertRule]) -> list[dict[str, Any]]:
    """A disk filling slowly (within a day), one filling fast (within hours), one nearly full but steady."""
    if not rules:
        return []
    size = 10_000
    labels = {"device": "/dev/vda1", "fstype": "ext4", "instance": "test-1", "job": next(iter(config.components))}
    labels["mountpoint"] = "/"
    alert_labels = {**labels, "component": labels["job"]}
    within_day, within_hours = rules[0], rules[1]
    cases = []
    # bytes free (of 10,000) at the start and lost each minute; when to look; which alerts fire then
    for start, loss, minutes, fires in (
        (2500, 4, 120, {within_day.alert}),
        (1400, 10, 90, {within_day.alert, within_hours.alert}),
        (1000, 0, 120, set()),
    ):
        avail = f"{start}-{loss}x200" if loss else f"{start}x200"
        percent_free = (start - loss * minutes) / size * 100
        series = {
            _series("node_filesystem_avail_bytes", labels): avail,
            _series("node_filesystem_size_bytes", labels): f"{size}x200",
            _series("node_filesystem_readonly", labels): "0x200",
        }
        checks = [_expect(rule, minutes, alert_labels if rule.alert in fires else None, percent_free) for rule in rules]
        cases.append(_case(series, checks))
    return cases


def _slo_cases(config: PlatformConfig, rules: list[AlertRule]) -> list[dict[str, Any]]:
    """Every window burning fast; burning slowly; burnt an hour ago but not now; within budget."""
    cases = []
    windows = sorted({w for b in BURN_WINDOWS for w in (b.long, b.short)})
    for name, slo in config.slos.items():
        budget = error_budget(slo)
        labels = {"component": slo.component, "slo": name}
        fast = min(16 * budget, 1.0)
        shapes = {
            "fast": dict.fromkeys(windows, fast),
            "slow": dict.fromkeys(windows, 2 * budget),
            "recovered": {w: (0.0 if any(w == b.short for b in BURN_WINDOWS) else fast) for w in windows},
            "healthy": dict.fromkeys(windows, budget / 2),
        }
        for ratios in shapes.values():
            series = {_series(ratio_name(w), labels): f"{ratio!r}x10" for w, ratio in ratios.items()}
            checks = []
            for rule in (r for r in rules if f'{{slo="{name}"}}' in r.expr):  # this objective's page and ticket
                severity_windows = [b for b in BURN_WINDOWS if b.severity == rule.severity]
                burning = [b for b in severity_windows if min(ratios[b.long], ratios[b.short]) > b.factor * budget]
                value = ratios[burning[0].long] if burning else 0.0
                checks.append(_expect(rule, 5, labels if burning else None, value))
            cases.append(_case(series, checks))
    return cases


def unit_tests(config: PlatformConfig) -> dict[str, Any]:
    """A ``promtool test rules`` file for the alerting rule file written beside it."""
    redis = redis_policy_alerts(config)
    tests = [
        *_level_cases(config, band_alerts(config) + [r for r in redis if r.alert != TREND_ALERT]),
        *_disk_cases(config, disk_fill_alerts(config)),
        *_slo_cases(config, burn_rate_alerts(config)),
    ]
    return {"rule_files": [ALERTS_FILE], "evaluation_interval": "1m", "tests": tests}


def hourly_unit_tests(config: PlatformConfig) -> dict[str, Any]:
    """The tests that span days (evictions rising), evaluated hourly: minute steps would take promtool long."""
    trend = [r for r in redis_policy_alerts(config) if r.alert == TREND_ALERT]
    return {"rule_files": [ALERTS_FILE], "evaluation_interval": "1h", "tests": _trend_cases(config, trend)}
