"""Generated Prometheus rules: checked and unit-tested by the real promtool, for the shipped config and a plain one."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from support.servers import require

from sre_lib.analysis.alerts.band_rules import band_alerts, recorded_name
from sre_lib.analysis.alerts.burn_rates import BURN_WINDOWS, burn_rate_alerts, error_budget, ratio_name
from sre_lib.analysis.alerts.rule_files import (
    ALERTS_FILE,
    HOURLY_TESTS_FILE,
    RECORDING_FILE,
    TESTS_FILE,
    write_rule_files,
)
from sre_lib.config import DEFAULT_CONFIG_PATH, PlatformConfig, load_config, parse_config
from sre_lib.errors import ConfigError


def promtool(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require("promtool"), *args], cwd=folder, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def shipped() -> PlatformConfig:
    return load_config(DEFAULT_CONFIG_PATH)


@pytest.fixture(scope="module")
def generated(shipped: PlatformConfig, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("rules")
    write_rule_files(shipped, folder)
    return folder


def load(folder: Path, name: str) -> dict:
    return yaml.safe_load((folder / name).read_text())


def test_the_shipped_rules_pass_promtool_check(generated: Path) -> None:
    done = promtool(generated, "check", "rules", RECORDING_FILE, ALERTS_FILE)
    assert done.returncode == 0, done.stdout + done.stderr
    rules = sum(len(g["rules"]) for name in (RECORDING_FILE, ALERTS_FILE) for g in load(generated, name)["groups"])
    found = sum(int(n) for n in re.findall(r"SUCCESS: (\d+) rules found", done.stdout))
    assert found == rules > 0


def test_the_generated_unit_tests_pass_with_promtool(generated: Path) -> None:
    done = promtool(generated, "test", "rules", TESTS_FILE, HOURLY_TESTS_FILE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_firing_and_a_silent_case(generated: Path) -> None:
    alerts = {r["alert"] for g in load(generated, ALERTS_FILE)["groups"] for r in g["rules"]}
    tests = load(generated, TESTS_FILE)["tests"] + load(generated, HOURLY_TESTS_FILE)["tests"]
    checks = [c for test in tests for c in test["alert_rule_test"]]
    firing = {c["alertname"] for c in checks if c["exp_alerts"]}
    silent = {c["alertname"] for c in checks if not c["exp_alerts"]}
    assert alerts == firing == silent
    assert {"TargetDownCritical", "CertificateExpiryWarning", "DiskWillFillIn4Hours", "RedisEvictionsRising"} <= alerts


def test_the_unit_tests_catch_a_threshold_that_drifted(generated: Path, tmp_path: Path) -> None:
    rules = load(generated, ALERTS_FILE)
    critical = next(r for g in rules["groups"] for r in g["rules"] if r["alert"] == "CpuCritical")
    critical["expr"] = critical["expr"].replace(">=", ">")  # at the band is critical; now only past it
    (tmp_path / ALERTS_FILE).write_text(yaml.safe_dump(rules))
    tests = load(generated, TESTS_FILE)
    tests["tests"] = [t for t in tests["tests"] if t["alert_rule_test"][0]["alertname"] == "CpuCritical"]
    (tmp_path / TESTS_FILE).write_text(yaml.safe_dump(tests))
    done = promtool(tmp_path, "test", "rules", TESTS_FILE)
    assert done.returncode != 0
    assert "alertname: CpuCritical" in done.stdout + done.stderr


def test_bands_carry_direction_severity_runbook_and_sustained_minutes(shipped: PlatformConfig) -> None:
    raw = shipped.model_dump(mode="json", exclude_none=True)
    raw["indicators"]["cpu"]["sustained_minutes"] = 15
    raw["alerts"]["runbook_url"] = "https://runbooks.example.com/{alert}?from=sre"
    config = PlatformConfig.model_validate(raw)
    rules = {rule.alert: rule for rule in band_alerts(config)}
    assert rules["CpuCritical"].as_yaml()["for"] == "15m"
    assert rules["MemoryCritical"].as_yaml()["for"] == f"{config.alerts.default_for_minutes}m"
    assert rules["CpuCritical"].expr == f"{recorded_name('cpu')} >= {config.indicators['cpu'].critical:g}"
    assert rules["TargetDownCritical"].expr.startswith(f"{recorded_name('up')} <= ")  # lower is worse
    assert rules["CpuWarning"].rule_labels() == {"severity": "warning", "sev": "SEV3"}
    assert rules["CpuCritical"].runbook_url.endswith("/CpuCritical?from=sre")


def test_burn_rate_alerts_pair_each_long_window_with_a_short_one(shipped: PlatformConfig) -> None:
    availability = shipped.slos["availability"]
    assert error_budget(availability) == pytest.approx(1 - availability.objective_percent / 100)
    rules = {rule.alert: rule for rule in burn_rate_alerts(shipped)}
    page, ticket = rules["AvailabilityErrorBudgetBurn"], rules["AvailabilityErrorBudgetSlowBurn"]
    for window in BURN_WINDOWS:
        rule = page if window.severity == "critical" else ticket
        budget = f"({window.factor:g} * {error_budget(availability):g})"
        assert f'{ratio_name(window.long)}{{slo="availability"}} > {budget}' in rule.expr
        assert f'{ratio_name(window.short)}{{slo="availability"}} > {budget}' in rule.expr
    assert page.rule_labels()["sev"] == "SEV2" and ticket.rule_labels()["sev"] == "SEV4"


RECORDING_TEST = """
rule_files: [{rules}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'node_cpu_seconds_total{{job="app",instance="a:9100",cpu="0",mode="idle"}}'
        values: '0+{idle_per_minute}x20'
      - series: 'http_requests_total{{job="app",status="200"}}'
        values: '0+{ok_per_minute}x20'
      - series: 'http_requests_total{{job="app",status="500"}}'
        values: '0+{failed_per_minute}x20'
    promql_expr_test:
      - expr: {cpu}
        eval_time: 15m
        exp_samples:
          - labels: '{cpu}{{component="app",instance="a:9100",job="app"}}'
            value: {busy_percent}
      - expr: {ratio}
        eval_time: 15m
        exp_samples:
          - labels: '{ratio}{{component="app",slo="availability"}}'
            value: {failed_share}
"""


def test_recording_rules_compute_the_catalogue_and_the_error_ratio(generated: Path) -> None:
    idle_per_minute, ok_per_minute, failed_per_minute = 15, 95, 5  # idle 15 s a minute: 75 % busy
    (generated / "recording.tests.yml").write_text(
        RECORDING_TEST.format(
            rules=RECORDING_FILE,
            cpu=recorded_name("cpu"),
            ratio=ratio_name("5m"),
            idle_per_minute=idle_per_minute,
            ok_per_minute=ok_per_minute,
            failed_per_minute=failed_per_minute,
            busy_percent=100 * (1 - idle_per_minute / 60),
            failed_share=failed_per_minute / (ok_per_minute + failed_per_minute),
        )
    )
    done = promtool(generated, "test", "rules", "recording.tests.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_plain_config_without_objectives_or_redis_still_passes(shipped: PlatformConfig, tmp_path: Path) -> None:
    raw = shipped.model_dump(mode="json", exclude_none=True)
    raw["slos"] = {}
    raw["catalogue"] = {k: v for k, v in raw["catalogue"].items() if not k.startswith("redis")}
    raw["indicators"] = {k: v for k, v in raw["indicators"].items() if k != "disk"}
    config = PlatformConfig.model_validate(raw)
    write_rule_files(config, tmp_path)
    alerts = {r["alert"] for g in load(tmp_path, ALERTS_FILE)["groups"] for r in g["rules"]}
    assert "CpuCritical" in alerts and not any(a.startswith(("Redis", "Disk", "Availability")) for a in alerts)
    assert not (tmp_path / HOURLY_TESTS_FILE).exists()  # no alert over days, no hourly tests
    for args in (("check", "rules", RECORDING_FILE, ALERTS_FILE), ("test", "rules", TESTS_FILE)):
        done = promtool(tmp_path, *args)
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("change", "key", "expected"),
    [
        ("errors_query = 'sum(rate(x[5m]))'", "slos.availability.errors_query", "{{window}}"),
        ('component = "nowhere"', "slos.availability.component", "a key of [components]"),
        ("objective_percent = 100.0", "slos.availability.objective_percent", "less than 100"),
    ],
)
def test_a_bad_objective_is_named_with_what_was_expected(change: str, key: str, expected: str) -> None:
    text = DEFAULT_CONFIG_PATH.read_text()
    field = change.split(" = ")[0]
    head, tail = text.split("[slos.availability]", 1)
    lines = [change if line.startswith(field + " ") else line for line in tail.splitlines()]
    with pytest.raises(ConfigError) as caught:
        parse_config(head + "[slos.availability]" + "\n".join(lines), source="platform.toml")
    assert key in str(caught.value) and expected in str(caught.value) and "\n" not in str(caught.value)
