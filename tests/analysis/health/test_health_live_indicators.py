"""The live platform's indicators in the shipped config (up, TLS expiry, nginx upstream errors, Elasticsearch) are
classified by their bands, and coverage lists what is not monitored without letting it colour the roll-up."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from health_inputs import at_minute

from sre_lib.analysis import health
from sre_lib.config import DEFAULT_CONFIG_PATH, load_config

SHIPPED = load_config(DEFAULT_CONFIG_PATH)


def _status_now(component: str, instance: str, metric: str, values: list[float]) -> pd.Series:
    """The current-status row of one series sampled every minute with ``values`` (the last one is now)."""
    frame = pd.DataFrame(
        {
            "component": component,
            "instance": instance,
            "metric": metric,
            "ts": [at_minute(i) for i in range(len(values))],
            "value": values,
        }
    )
    table = health.current_status(frame, SHIPPED, window=timedelta(hours=1))
    assert len(table) == 1
    return table.iloc[0]


@pytest.mark.parametrize(
    ("component", "instance", "metric", "value", "expected"),
    [
        ("app", "app-2", "up", 1.0, "healthy"),
        ("app", "app-2", "up", 0.0, "critical"),
        ("nginx", "nginx-1", "tls_cert_days", 80.0, "healthy"),
        ("nginx", "nginx-1", "tls_cert_days", 30.0, "warning"),  # the band's edge belongs to the band
        ("nginx", "nginx-1", "tls_cert_days", 20.0, "warning"),
        ("nginx", "nginx-1", "tls_cert_days", 10.0, "critical"),
        ("nginx", "all", "nginx_upstream_errors", 0.05, "healthy"),
        ("nginx", "all", "nginx_upstream_errors", 2.0, "critical"),
        ("elasticsearch", "es-1", "es_status", 0.0, "healthy"),
        ("elasticsearch", "es-1", "es_status", 1.0, "warning"),
        ("elasticsearch", "es-1", "es_status", 2.0, "critical"),
        ("elasticsearch", "es-1", "es_unassigned_shards", 0.0, "healthy"),
        ("elasticsearch", "es-1", "es_unassigned_shards", 3.0, "warning"),
        ("elasticsearch", "es-1", "es_unassigned_shards", 12.0, "critical"),
        ("elasticsearch", "es-1", "es_jvm_heap", 60.0, "healthy"),
        ("elasticsearch", "es-1", "es_jvm_heap", 80.0, "warning"),
        ("elasticsearch", "es-1", "es_jvm_heap", 92.0, "critical"),
    ],
)
def test_each_live_indicator_is_judged_by_its_bands(
    component: str, instance: str, metric: str, value: float, expected: str
) -> None:
    row = _status_now(component, instance, metric, [value] * 5)
    assert row.status == expected, row.detail


def test_a_target_down_is_named_with_its_server_and_since_when() -> None:
    row = _status_now("app", "app-2", "up", [1.0] * 10 + [0.0] * 5)
    assert row.status == "critical" and row.since == at_minute(10)
    assert row.detail == "down: a scrape target of app-2 does not answer"
    healthy = _status_now("app", "app-1", "up", [1.0] * 5)
    assert healthy.detail == "up: every scrape target of app-1 answers"


def test_coverage_lists_every_expected_indicator_and_what_would_supply_it() -> None:
    status = pd.concat(
        [
            health.current_status(
                pd.DataFrame(
                    {
                        "component": component, "instance": instance, "metric": metric,
                        "ts": [at_minute(i) for i in range(5)], "value": value,
                    }
                ),
                SHIPPED,
                window=timedelta(hours=1),
            )
            for component, instance, metric, value in [
                ("app", "app-1", "up", 1.0), ("app", "app-2", "up", 0.0), ("app", "app-1", "cpu", 40.0),
                ("nginx", "nginx-1", "tls_cert_days", 80.0),
            ]
        ],
        ignore_index=True,
    )  # fmt: skip
    table = health.coverage(status, SHIPPED, collected=[("app", "request_rate")])
    rows = table.set_index(["component", "indicator"])
    assert rows.loc[("app", "up"), "status"] == "critical"  # the worst of its servers
    assert rows.loc[("app", "up"), "servers"] == "app-2, app-1"
    assert rows.loc[("app", "request_rate"), "status"] == health.COLLECTED
    es = rows.loc["elasticsearch"]
    assert set(es["status"]) == {"not monitored"}
    assert es.loc["es_status", "catalogue"] == "catalogue.es_status"
    assert "elasticsearch_cluster_health_status" in es.loc["es_status", "query"]
    assert rows.loc[("media", "disk"), "status"] == "not monitored"  # a volume is expected to have its disk only
    assert list(rows.loc["media"].index) == ["disk"]
    cdn = rows.loc["cdn"]  # nothing in the catalogue collects the CDN: listed once, saying so
    assert list(cdn["status"]) == ["not monitored"] and "component = 'cdn'" in cdn["query"].iloc[0]
    expected = health.expected_indicators(SHIPPED)
    assert len(table) == sum(max(len(metrics), 1) for metrics in expected.values())
    # the roll-up of the same table: the down target colours the platform, the unmonitored components do not
    rolled = health.rollup(status, SHIPPED)
    assert (rolled.status, rolled.component, rolled.instance) == ("critical", "app", "app-2")
    components = rolled.components.set_index("component")["status"].astype(str)
    assert components["elasticsearch"] == components["cdn"] == "not monitored"
    assert health.rollup(status[status["status"] == "healthy"], SHIPPED).status == "healthy"


def test_a_series_no_entry_of_its_component_supplies_names_no_entry() -> None:
    """The demo's CDN error rate: the catalogue's error_rate is the app's, so it is not the CDN's supplier."""
    frame = pd.DataFrame(
        {"component": "cdn", "instance": "edge", "metric": "error_rate", "ts": [at_minute(i) for i in range(3)],
         "value": 0.01}
    )  # fmt: skip
    table = health.coverage(health.current_status(frame, SHIPPED), SHIPPED).set_index(["component", "indicator"])
    assert table.loc[("cdn", "error_rate"), "status"] == "healthy"
    assert table.loc[("cdn", "error_rate"), ["catalogue", "query"]].tolist() == ["", ""]
    assert table.loc[("app", "error_rate"), "catalogue"] == "catalogue.error_rate"


def test_a_server_down_is_critical_once_and_its_tier_is_judged_on_the_servers_that_answer() -> None:
    """app-2 stops answering after minute 9: its up turns 0 and its cpu series ends; app-1 carries on. The cpu
    of app-2 is not "no data" beside the down target, it is gone from the status: the tier is app-1's."""
    minutes = range(20)
    rows = [("app", "app-1", "up", i, 1.0) for i in minutes]
    rows += [("app", "app-1", "cpu", i, 30.0) for i in minutes]
    rows += [("app", "app-2", "up", i, 1.0 if i < 10 else 0.0) for i in minutes]
    rows += [("app", "app-2", "cpu", i, 35.0) for i in minutes if i < 10]
    frame = pd.DataFrame(rows, columns=["component", "instance", "metric", "minute", "value"])
    frame["ts"] = [at_minute(i) for i in frame.pop("minute")]
    table = health.current_status(frame, SHIPPED, window=timedelta(hours=1))
    by_series = {(row.instance, row.metric): row.status for row in table.itertuples()}
    assert by_series == {
        ("app-1", "cpu"): "healthy", ("app-1", "up"): "healthy", ("app-2", "up"): "critical",
    }  # fmt: skip
    # the same cpu gap while app-2's target still answers is a gap in the data, and says so
    answering = frame.assign(value=frame["value"].where(frame["metric"] != "up", 1.0))
    table = health.current_status(answering, SHIPPED, window=timedelta(hours=1))
    assert {(row.instance, row.metric): row.status for row in table.itertuples()}[("app-2", "cpu")] == "no data"
