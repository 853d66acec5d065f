"""The capacity report rendered on a tiny young warehouse holding only some components (a live platform's first
hours): it renders with a window in hours, lists what is not monitored in grey with the catalogue entry that
would supply it, keeps that out of the verdict, and dates the renewal of a certificate near expiry."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sre_lib.app.report_runner import ensure_kernel, run_report
from sre_lib.config import DEFAULT_CONFIG_PATH, load_config
from sre_lib.reviews.capacity import capacity_review
from sre_lib.warehouse.store import Warehouse, canonical_labels, series_id

CONFIG = load_config(DEFAULT_CONFIG_PATH)
END = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
CERT_DAYS = 10.0
GREY = "#80868b"


def _tiny_warehouse(path: Path) -> Warehouse:
    """Three hours at 1-minute steps of nginx (with a certificate 10 days from expiry) and two app servers."""
    times = pd.date_range(END - timedelta(hours=3), END, freq="1min")
    rng = np.random.default_rng(3)
    left = CERT_DAYS + (END - times).total_seconds().to_numpy() / 86_400
    plan = [
        ("nginx", "nginx-1", "up", np.ones(len(times))),
        ("nginx", "nginx-1", "tls_cert_days", left),
        ("app", "app-1", "up", np.ones(len(times))),
        ("app", "app-2", "up", np.ones(len(times))),
        ("app", "app-1", "cpu", 25 + rng.normal(0, 0.5, len(times))),
        ("app", "app-2", "cpu", 25 + rng.normal(0, 0.5, len(times))),
    ]
    series, samples = [], []
    for component, instance, metric, values in plan:
        labels = {"component": component, "instance": instance}
        sid = series_id(metric, labels)
        series.append({"series_id": sid, "source": "test", "metric": metric, "component": component,
                       "instance": instance, "labels": canonical_labels(labels)})  # fmt: skip
        samples.append(pd.DataFrame({"series_id": sid, "ts": times, "value": values}))
    warehouse = Warehouse(path)
    with warehouse.write_run("test") as run:
        run.upsert_series(pd.DataFrame(series))
        run.replace_samples(pd.concat(samples, ignore_index=True), times[0], times[-1])
    return warehouse


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, object]:
    """The report's HTML as text (one render for the module) and the review the library computes."""
    folder = tmp_path_factory.mktemp("coverage")
    warehouse = _tiny_warehouse(folder / "w.duckdb")
    ensure_kernel()
    run = run_report("capacity", warehouse=folder / "w.duckdb", out_dir=folder / "reports", parameters={"window": "3h"})
    con = warehouse.open_read_only()
    try:
        review = capacity_review(con, CONFIG, window="3h")
    finally:
        con.close()
    return run.html.read_text(encoding="utf-8"), review


def test_the_report_renders_what_the_library_says(rendered) -> None:
    page, review = rendered
    banner = {"healthy": "GREEN", "warning": "AMBER", "critical": "RED"}[review.verdict]
    assert re.search(rf'class="sre-verdict {review.verdict}"><strong>{banner}</strong>', page)
    expiry = (pd.Timestamp(END) + pd.Timedelta(days=CERT_DAYS)).tz_convert(CONFIG.tz)
    assert f"renew the certificate of nginx-1 before {expiry:%Y-%m-%d}" in html.unescape(page)
    assert review.verdict == "critical"  # the certificate, not the components nobody collects
    assert "cover the 3 h to" in html.unescape(page)


def test_what_is_not_monitored_is_grey_with_the_entry_that_would_supply_it(rendered) -> None:
    page, review = rendered
    rows = re.findall(r'<tr class="sre-coverage" style="color: (#[0-9a-f]{6})">(.*?)</tr>', page, re.S)
    assert len(rows) == len(review.coverage)
    grey = [cells for colour, cells in rows if colour == GREY]
    assert grey and all("not monitored" in cells for cells in grey)
    assert all("not monitored" not in cells for colour, cells in rows if colour != GREY)
    es = next(cells for cells in grey if ">es_status<" in cells)
    assert "catalogue.es_status" in es and "elasticsearch_cluster_health_status" in html.unescape(es)
    unseen = {"cdn", "postgresql", "elasticsearch", "redis", "media"}
    components = review.rollup.components.set_index("component")["status"].astype(str)
    assert set(components[components == "not monitored"].index) == unseen
    assert "Not monitored at all: " in page
