"""Rules from the key-indicator bands: a recording rule per catalogue query, a warning and a critical alert.

Also the alerts that have no band of their own: disk fill predicted with ``predict_linear`` (as node-mixin's
NodeFilesystemSpaceFillingUp does it) and the Redis policy levels of ``[redis]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sre_lib.config import CatalogueEntry, Indicator, PlatformConfig

__all__ = [
    "SEVERITY_LEVELS",
    "AlertRule",
    "RecordingRule",
    "alert_name",
    "band_alerts",
    "disk_fill_alerts",
    "recorded_name",
    "recording_rules",
    "redis_policy_alerts",
    "summary_text",
]

#: Alertmanager severity -> the seed's incident level (shared/seed: SEV2 major, SEV3 minor, SEV4 next day).
SEVERITY_LEVELS = {"critical": "SEV2", "warning": "SEV3", "ticket": "SEV4"}
#: Indicators whose alerts go by the name people know them by.
ALERT_NAMES = {"up": "TargetDown", "tls_cert_days": "CertificateExpiry"}
FILESYSTEMS = 'fstype!~"tmpfs|overlay|squashfs|ramfs",mountpoint!=""'
VALUE = '{{ printf "%.2f" $value }}'
EVICTIONS_RISE = 1.1  # the last window's mean eviction rate at least 10 % above the window before's


@dataclass(frozen=True)
class RecordingRule:
    """One Prometheus recording rule."""

    record: str
    expr: str
    labels: dict[str, str] = field(default_factory=dict)

    def as_yaml(self) -> dict[str, Any]:
        """The rule as Prometheus reads it from a rule file."""
        return {"record": self.record, "expr": self.expr, **({"labels": dict(self.labels)} if self.labels else {})}


@dataclass(frozen=True)
class AlertRule:
    """One Prometheus alerting rule; ``summary`` may use ``{{ $labels.X }}`` and the value as VALUE prints it."""

    alert: str
    expr: str
    for_minutes: int
    severity: str
    summary: str
    runbook_url: str
    labels: dict[str, str] = field(default_factory=dict)

    def rule_labels(self) -> dict[str, str]:
        """The labels the rule adds to its alerts: severity, the seed's SEV level, and any fixed ones."""
        return {"severity": self.severity, "sev": SEVERITY_LEVELS[self.severity], **self.labels}

    def as_yaml(self) -> dict[str, Any]:
        """The rule as Prometheus reads it from a rule file."""
        rule: dict[str, Any] = {"alert": self.alert, "expr": self.expr}
        if self.for_minutes:
            rule["for"] = f"{self.for_minutes}m"
        rule["labels"] = self.rule_labels()
        rule["annotations"] = {"summary": self.summary, "runbook_url": self.runbook_url}
        return rule


def recorded_name(metric: str) -> str:
    """The recorded series of a catalogue metric: ``sre:<metric>`` with characters PromQL refuses as '_'."""
    return "sre:" + re.sub(r"[^A-Za-z0-9_]", "_", metric)


def alert_name(key: str, suffix: str = "") -> str:
    """``db_connections`` -> ``DbConnections`` + suffix; a few indicators have names of their own."""
    base = ALERT_NAMES.get(key) or "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", key) if part)
    return base + suffix


def summary_text(what: str, relation: str) -> str:
    """A summary naming the component, the instance and the value, for an alert annotation."""
    return f"{what} of {{{{ $labels.component }}}} {{{{ $labels.instance }}}} is {VALUE}, {relation}"


def _runbook(config: PlatformConfig, alert: str) -> str:
    return config.alerts.runbook_url.replace("{alert}", alert)


def _for_minutes(config: PlatformConfig, sustained: int) -> int:
    return sustained or config.alerts.default_for_minutes


def _labelled(entry: CatalogueEntry, config: PlatformConfig) -> tuple[str, dict[str, str]]:
    """The catalogue query with `component` and `instance` labels, and the fixed labels its rule adds."""
    expr = entry.query
    if entry.instance_label != "instance":
        expr = f'label_replace({expr}, "instance", "$1", "{entry.instance_label}", "(.*)")'
    if entry.component is not None:
        return expr, {"component": entry.component}
    return _with_component(expr, entry.component_label, config), {}


def _with_component(expr: str, component_label: str, config: PlatformConfig) -> str:
    """``expr`` with a `component` label: the value of ``component_label``, or the volume mounted there."""
    expr = f'label_replace({expr}, "component", "$1", "{component_label}", "(.*)")'
    for name, component in config.components.items():  # a volume's series belong to it, whatever their job
        if component.mountpoint is not None:
            pattern = re.escape(component.mountpoint).replace("\\", "\\\\")  # a PromQL string escapes too
            expr = f'label_replace({expr}, "component", "{name}", "mountpoint", "{pattern}")'
    return expr


def _used_metrics(config: PlatformConfig) -> list[str]:
    redis = ["redis_memory", "redis_hit_ratio", "redis_clients", "redis_evictions"]
    return [m for m in config.catalogue if m in config.indicators or m in redis]


def recording_rules(config: PlatformConfig) -> list[RecordingRule]:
    """A recording rule per catalogue query that an indicator band or a Redis policy level reads."""
    rules = []
    for metric in _used_metrics(config):
        expr, labels = _labelled(config.catalogue[metric], config)
        rules.append(RecordingRule(recorded_name(metric), expr, labels))
    return rules


def _band_alert(config: PlatformConfig, key: str, indicator: Indicator, level: str) -> AlertRule:
    threshold = indicator.warning if level == "warning" else indicator.critical
    operator = ">=" if indicator.direction == "above" else "<="
    name = alert_name(key, level.capitalize())
    return AlertRule(
        alert=name,
        expr=f"{recorded_name(key)} {operator} {threshold:g}",
        for_minutes=_for_minutes(config, indicator.sustained_minutes),
        severity=level,
        summary=summary_text(key, f"{indicator.direction} its {level} band of {threshold:g} {indicator.unit}"),
        runbook_url=_runbook(config, name),
    )


def band_alerts(config: PlatformConfig) -> list[AlertRule]:
    """A warning and a critical alert for every key indicator the catalogue has a query for."""
    return [
        _band_alert(config, key, indicator, level)
        for key, indicator in config.indicators.items()
        if key in config.catalogue
        for level in ("warning", "critical")
    ]


def disk_fill_alerts(config: PlatformConfig) -> list[AlertRule]:
    """Disk full within 24 h (warning) and within 4 h (critical) at the rate of the last 6 h, as node-mixin.

    Like node-mixin, each fires only on a writable filesystem already past a band (the disk indicator's
    warning band for 24 h, its critical band for 4 h), so a young, mostly empty disk filling fast stays quiet.
    """
    disk = config.indicators.get("disk")
    if disk is None or disk.direction != "above" or not disk.unit.startswith("percent"):
        return []
    rules = []
    for hours, level, used in ((24, "warning", disk.warning), (4, "critical", disk.critical)):
        free = 100 - used
        expr = (
            f"(node_filesystem_avail_bytes{{{FILESYSTEMS}}} / node_filesystem_size_bytes{{{FILESYSTEMS}}} * 100"
            f" < {free:g}"
            f" and predict_linear(node_filesystem_avail_bytes{{{FILESYSTEMS}}}[6h], {hours} * 3600) < 0"
            f" and node_filesystem_readonly{{{FILESYSTEMS}}} == 0)"
        )
        expr = _with_component(expr, "job", config)
        alert = f"DiskWillFillIn{hours}Hours"
        rules.append(
            AlertRule(
                alert=alert,
                expr=expr,
                for_minutes=60,
                severity=level,
                summary=f"filesystem {{{{ $labels.mountpoint }}}} of {{{{ $labels.component }}}} "
                f"{{{{ $labels.instance }}}} has {VALUE} % free and fills within {hours} h at the last 6 h's rate",
                runbook_url=_runbook(config, alert),
            )
        )
    return rules


def redis_policy_alerts(config: PlatformConfig) -> list[AlertRule]:
    """The Cache Management levels of ``[redis]``: memory used, hit ratio, clients against maxclients, evictions.

    Evictions "rising" is simpler here than in the reports (a seasonal Mann-Kendall test): the mean eviction rate
    of the last ``evictions_trend_hours`` at least 10 % above that of the window before.
    """
    policy = config.redis
    levels = (
        ("redis_memory", "RedisMemoryHigh", ">=", policy.memory_percent, "increase the size"),
        ("redis_hit_ratio", "RedisHitRatioLow", "<", policy.hit_ratio_percent, "review the caching strategy"),
        ("redis_clients", "RedisClientsNearLimit", ">=", policy.clients_near_limit_percent, "look for pool issues"),
    )
    rules = []
    for metric, alert, operator, level, action in levels:
        if metric not in config.catalogue:
            continue
        relation = "at or above" if operator == ">=" else "below"
        rules.append(
            AlertRule(
                alert=alert,
                expr=f"{recorded_name(metric)} {operator} {level:g}",
                for_minutes=config.alerts.default_for_minutes,
                severity="warning",
                summary=summary_text(metric, f"{relation} the policy level of {level:g} %: {action}"),
                runbook_url=_runbook(config, alert),
            )
        )
    if "redis_evictions" in config.catalogue:
        recorded, hours = recorded_name("redis_evictions"), policy.evictions_trend_hours
        before = f"avg_over_time({recorded}[{hours}h] offset {hours}h)"
        rules.append(
            AlertRule(
                alert="RedisEvictionsRising",
                expr=f"avg_over_time({recorded}[{hours}h]) > {EVICTIONS_RISE:g} * {before}",
                for_minutes=config.alerts.default_for_minutes,
                severity="warning",
                summary=summary_text("redis_evictions", f"keys a minute over {hours} h, rising: add capacity"),
                runbook_url=_runbook(config, "RedisEvictionsRising"),
            )
        )
    return rules
