"""The capacity review of a young live platform (hours of samples, some components never collected): what is not
monitored stays grey and out of the verdict, a target down is critical and named, a certificate near expiry is a
dated action, and the window takes hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sre_lib.config import DEFAULT_CONFIG_PATH, load_config
from sre_lib.errors import SreError
from sre_lib.reviews.capacity import capacity_review, coverage_sentence, coverage_table
from sre_lib.warehouse.store import Warehouse, canonical_labels, series_id

CONFIG = load_config(DEFAULT_CONFIG_PATH)
END = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
HOURS = 6


def _live_warehouse(path: Path, *, cert_days: float = 200.0, app2_down_minutes: int = 0) -> Warehouse:
    """Six hours at 1-minute steps of nginx, two app servers and Redis as the hub's catalogue collects them; no
    Elasticsearch, CDN or PostgreSQL series at all. app-2 may stop answering for its last minutes: its up reads
    0 and its CPU series stops, as Prometheus records a dead target."""
    times = pd.date_range(END - timedelta(hours=HOURS), END, freq="1min")
    rng = np.random.default_rng(7)
    stop = END - timedelta(minutes=app2_down_minutes)
    plan: list[tuple[str, str, str, np.ndarray]] = [
        ("nginx", "nginx-1", "up", np.ones(len(times))),
        ("nginx", "nginx-1", "cpu", 10 + rng.normal(0, 0.3, len(times))),
        ("nginx", "nginx-1", "tls_cert_days", cert_days - (times - times[0]) / pd.Timedelta(days=1)),
        ("nginx", "nginx-1", "nginx_connections", 5 + rng.normal(0, 0.3, len(times))),
        ("redis", "redis-1", "up", np.ones(len(times))),
        ("redis", "redis-1", "redis_memory", 30 + rng.normal(0, 0.3, len(times))),
        ("app", "app-1", "up", np.ones(len(times))),
        ("app", "app-1", "cpu", 30 + rng.normal(0, 0.5, len(times))),
        ("app", "app-2", "up", np.where(times >= stop, 0.0, 1.0) if app2_down_minutes else np.ones(len(times))),
        ("app", "app-2", "cpu", 30 + rng.normal(0, 0.5, len(times))),
    ]
    series, samples = [], []
    for component, instance, metric, values in plan:
        labels = {"component": component, "instance": instance}
        sid = series_id(metric, labels)
        series.append({"series_id": sid, "source": "test", "metric": metric, "component": component,
                       "instance": instance, "labels": canonical_labels(labels)})  # fmt: skip
        keep = (times < stop) if (instance, metric) == ("app-2", "cpu") and app2_down_minutes else slice(None)
        samples.append(pd.DataFrame({"series_id": sid, "ts": times[keep], "value": np.asarray(values)[keep]}))
    warehouse = Warehouse(path)
    with warehouse.write_run("test") as run:
        run.upsert_series(pd.DataFrame(series))
        run.replace_samples(pd.concat(samples, ignore_index=True), times[0], times[-1])
    return warehouse


def _review(warehouse: Warehouse, **options):
    con = warehouse.open_read_only()
    try:
        return capacity_review(con, CONFIG, **options)
    finally:
        con.close()


def test_a_young_healthy_platform_is_green_and_lists_what_is_not_monitored(tmp_path: Path) -> None:
    review = _review(_live_warehouse(tmp_path / "w.duckdb"), window="6h")
    assert review.verdict == "healthy", review.headline
    assert review.actions.empty
    assert review.as_of - review.window_start == timedelta(hours=6)
    assert "cover the 6 h to" in review.period()
    components = review.rollup.components.set_index("component")["status"].astype(str)
    assert components[["elasticsearch", "cdn", "postgresql", "media"]].tolist() == ["not monitored"] * 4
    assert components[["nginx", "app", "redis"]].tolist() == ["healthy"] * 3
    coverage = review.coverage.set_index(["component", "indicator"])
    assert coverage.loc[("elasticsearch", "es_status"), "status"] == "not monitored"
    assert coverage.loc[("nginx", "tls_cert_days"), "status"] == "healthy"
    assert coverage.loc[("nginx", "nginx_connections"), "status"] == "collected (no bands)"
    markup = coverage_table(review)._repr_html_()
    grey = [row for row in markup.split("<tr ")[1:] if "not monitored" in row]
    assert grey and all('style="color: #80868b"' in row for row in grey)
    assert "elasticsearch_cluster_health_status" in markup
    assert "not monitored" in coverage_sentence(review) and "elasticsearch" in coverage_sentence(review)
    # window_days still works, and a window longer than the history says how much there is
    assert "samples begin" in _review(_live_warehouse(tmp_path / "d.duckdb"), window_days=2).period()


def test_a_target_down_is_critical_named_and_the_tier_runs_on_the_servers_that_answer(tmp_path: Path) -> None:
    review = _review(_live_warehouse(tmp_path / "w.duckdb", app2_down_minutes=30), window="6h")
    assert review.verdict == "critical"
    assert (review.rollup.component, review.rollup.instance, review.rollup.metric) == ("app", "app-2", "up")
    app = review.rollup.components.set_index("component").loc["app"]
    assert str(app.status) == "critical" and app.since == pd.Timestamp(END - timedelta(minutes=30))
    down = review.actions[review.actions["metric"] == "up"]
    assert len(down) == 1 and down["instance"].iloc[0] == "app-2"
    assert down["action"].iloc[0].startswith("bring app-2 back: a scrape target of app is down since ")
    assert not review.actions["action"].str.startswith("investigate up").any()
    # the replayed tier load after the stop is app-1's alone: the tier is judged on the server that answers
    replay = review.simulations[0]
    after, before = replay.times > END - timedelta(minutes=25), replay.times < END - timedelta(minutes=35)
    assert 25 < replay.demand[after].mean() < 35  # app-1 alone, about 30 %
    assert 55 < replay.demand[before].mean() < 65  # both servers, about 60 %


def test_a_certificate_expiring_in_ten_days_is_a_dated_action(tmp_path: Path) -> None:
    review = _review(_live_warehouse(tmp_path / "w.duckdb", cert_days=10.0 + HOURS / 24), window="6h")
    renew = review.actions[review.actions["metric"] == "tls_cert_days"]
    assert len(renew) == 1
    expiry = (pd.Timestamp(END) + pd.Timedelta(days=10)).tz_convert(CONFIG.tz)
    assert renew["action"].iloc[0] == f"renew the certificate of nginx-1 before {expiry:%Y-%m-%d}"
    assert renew["by"].iloc[0] == pd.Timestamp(pd.Timestamp(END).tz_convert(CONFIG.tz).date())  # critical: today
    assert review.verdict == "critical" and review.headline.startswith("renew the certificate of nginx-1")
    # 20 days left: a warning, due by the day it turns critical (expiry less 14 days)
    later = _review(_live_warehouse(tmp_path / "l.duckdb", cert_days=20.0 + HOURS / 24), window="6h")
    row = later.actions[later.actions["metric"] == "tls_cert_days"].iloc[0]
    assert later.verdict == "warning"
    assert row["by"] == pd.Timestamp((pd.Timestamp(END) + pd.Timedelta(days=20)).tz_convert(CONFIG.tz).date()) - (
        pd.Timedelta(days=14)
    )


def test_a_bad_window_is_one_line_naming_it(tmp_path: Path) -> None:
    warehouse = _live_warehouse(tmp_path / "w.duckdb")
    with pytest.raises(SreError, match=r"^capacity review: window: expected a positive duration .* got '6 hours'$"):
        _review(warehouse, window="6 hours")
