"""A real Prometheus loads the generated rules and evaluates them on live scrapes: a target down pends an alert."""

from __future__ import annotations

import time
from pathlib import Path

import requests
from support.prometheus_servers import prometheus_server
from support.servers import free_port

from sre_lib.analysis.alerts.band_rules import alert_name, recorded_name
from sre_lib.analysis.alerts.rule_files import ALERTS_FILE, RECORDING_FILE, write_rule_files
from sre_lib.config import DEFAULT_CONFIG_PATH, load_config

DEADLINE_SECONDS = 30.0


def get(url: str, path: str, **params: str) -> dict:
    response = requests.get(f"{url}{path}", params=params, timeout=5)
    response.raise_for_status()
    return response.json()["data"]


def test_prometheus_evaluates_every_generated_rule_without_error(tmp_path: Path) -> None:
    config = load_config(DEFAULT_CONFIG_PATH)
    write_rule_files(config, tmp_path)
    port, nobody = free_port(), free_port()  # Prometheus scrapes itself as the app; nothing answers for redis
    jobs = {"app": f"127.0.0.1:{port}", "redis": f"127.0.0.1:{nobody}"}
    rules = [tmp_path / RECORDING_FILE, tmp_path / ALERTS_FILE]
    with prometheus_server(scrape_jobs=jobs, port=port, rule_files=rules) as prometheus:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while True:
            groups = get(prometheus.url, "/api/v1/rules")["groups"]
            evaluated = [r for g in groups for r in g["rules"] if r.get("lastEvaluation", "").startswith("20")]
            pending = [a for a in get(prometheus.url, "/api/v1/alerts")["alerts"] if a["state"] == "pending"]
            total = sum(len(g["rules"]) for g in groups)
            if (total and len(evaluated) == total and pending) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert total > 0 and len(evaluated) == total, "not every rule was evaluated in time"
    assert [(r["name"], r["lastError"]) for g in groups for r in g["rules"] if r["health"] != "ok"] == []
    down = {(a["labels"]["alertname"], a["labels"]["component"]) for a in pending}
    assert (alert_name("up", "Critical"), "redis") in down
    assert not any(component == "app" for name, component in down if name.startswith(alert_name("up")))
    assert recorded_name("up") in {r["name"] for g in groups for r in g["rules"]}
