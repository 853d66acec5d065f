"""The three report notebooks, executed by papermill on the demo warehouse and read as a manager would.

Each report's verdict and key numbers must equal what the library computes; a known fake password set in
the environment must appear in no output; the HTML must open in an offline Chromium with every chart drawn,
nothing fetched, and a pg_stat_statements text containing <script> shown as text, never run.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from support.browser import open_offline

from sre_lib.app.report_runner import run_report
from sre_lib.config import DEFAULT_CONFIG_PATH, load_config
from sre_lib.demo import postgres_history as demo
from sre_lib.reviews.capacity import capacity_review
from sre_lib.reviews.dr_readiness import dr_readiness
from sre_lib.reviews.slow_queries import slow_query_review
from sre_lib.warehouse.store import Warehouse

FAKE_PASSWORD = "Notebook-Fake-Pw-31337"
CONFIG = load_config(DEFAULT_CONFIG_PATH)
MAX_HTML_BYTES = 5_000_000
BANNER = {"healthy": "GREEN", "pass": "GREEN", "warning": "AMBER", "warn": "AMBER", "critical": "RED", "fail": "RED"}


@pytest.fixture(scope="module")
def reports(demo_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("reports")
    patch = pytest.MonkeyPatch()
    patch.setenv("PGPASSWORD", FAKE_PASSWORD)
    patch.setenv("SRE_PG_DSN", f"postgresql://monitor:{FAKE_PASSWORD}@127.0.0.1:5432/community_hub")
    try:
        return {
            "capacity": run_report("capacity", warehouse=demo_warehouse, out_dir=out).html,
            "slow-queries": run_report(
                "slow-queries", warehouse=demo_warehouse, out_dir=out, parameters={"top": 40}
            ).html,
            "dr": run_report("dr", warehouse=demo_warehouse, out_dir=out).html,
        }
    finally:
        patch.undo()


def _text(path: Path) -> str:
    """The HTML as plain text, tags removed, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", " ", path.read_text()))


def _squash(text: str) -> str:
    return " ".join(text.split())


def test_every_report_is_small_and_secret_free(reports: dict[str, Path]) -> None:
    for name, page in reports.items():
        assert page.stat().st_size < MAX_HTML_BYTES, name
        for path in page.parent.iterdir():
            assert FAKE_PASSWORD not in path.read_text(errors="ignore"), path


def test_capacity_report_states_the_library_verdict_and_actions(reports, demo_warehouse: Path) -> None:
    con = Warehouse(demo_warehouse).open_read_only()
    try:
        review = capacity_review(con, CONFIG)
    finally:
        con.close()
    text = _squash(_text(reports["capacity"]))
    assert f"{BANNER[review.verdict]} · Capacity of Community Hub" in text
    assert _squash(review.headline) in text
    for row in review.actions.itertuples():
        assert row.action in text and f"{row.by:%a %d %b %Y}" in text
    assert f"{review.monthly_cost:,.2f} USD per month" in text
    assert _squash(review.planning) in text


def test_slow_queries_report_states_the_library_findings(reports, demo_warehouse: Path) -> None:
    con = Warehouse(demo_warehouse).open_read_only()
    try:
        review = slow_query_review(con, CONFIG)
    finally:
        con.close()
    text = _squash(_text(reports["slow-queries"]))
    assert f"{BANNER[review.verdict]} · Database postgresql" in text
    for finding in review.findings:
        assert _squash(finding) in text, finding
    assert demo.XSS_QUERY in text  # shown, as text
    top = review.top_by_total_time.iloc[0]
    assert f"{top['calls']:,}" in text and f"{100 * top['share_total_time']:.1f} %" in text  # read as people read
    for sentence in review.connections.describe(CONFIG.tz):
        assert _squash(sentence) in text, sentence
    assert "ConnectionSummary(" not in text and "datetime.datetime(" not in text  # no Python repr leaks
    assert review.findings[0] not in text.split("·", 1)[1].split(review.findings[0], 1)[1]  # headline said once


def test_dr_report_states_the_library_checks(reports, demo_warehouse: Path) -> None:
    con = Warehouse(demo_warehouse).open_read_only()
    try:
        report = dr_readiness(con, CONFIG)
    finally:
        con.close()
    text = _squash(_text(reports["dr"]))
    assert f"{BANNER[report.verdict]} · Disaster recovery of postgresql" in text
    assert _squash(report.summary) in text
    assert report.score in text
    # the demo's data ends on a fixed day: its reports say they are a demo, never that collection stopped
    assert "Demo data: a synthetic platform made by sre demo" in text and "Stale" not in text
    assert "report made " in text
    for check in report.checks:
        assert _squash(check.finding) in text


def test_reports_open_offline_in_chromium_with_every_chart_drawn(reports, tmp_path: Path) -> None:
    for name, page in reports.items():
        seen = open_offline(page, screenshot=tmp_path / f"{name}.png")
        assert seen.outside_requests == [], name
        assert seen.failed_requests == [], name
        assert seen.scripts_run == [], name
        assert seen.images == seen.images_drawn, name
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
    capacity = open_offline(reports["capacity"])
    assert capacity.images >= 6  # bands, episodes, forecasts, servers, load
    slow = open_offline(reports["slow-queries"])
    assert "<script>alert('x')</script>" in slow.text  # the statement's comment shows as text
    assert slow.scripts_run == []


def test_the_explore_notebook_runs_on_the_demo(demo_warehouse: Path, tmp_path: Path) -> None:
    import json

    import papermill

    from sre_lib.app.report_runner import NOTEBOOK_DIR, ensure_kernel

    output = tmp_path / "explore.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK_DIR / "explore.ipynb"), str(output), kernel_name=ensure_kernel(), progress_bar=False,
        parameters={"warehouse": str(demo_warehouse), "config": str(DEFAULT_CONFIG_PATH)}, cwd=str(NOTEBOOK_DIR),
    )  # fmt: skip
    cells = json.loads(output.read_text())["cells"]
    outputs = [o for cell in cells for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert sum("image/svg+xml" in o.get("data", {}) for o in outputs) >= 3  # window, forecast, servers


@pytest.mark.parametrize("case", ["an hour of samples", "one server unscraped for 10 minutes"])
def test_the_capacity_report_renders_on_short_or_gappy_history(case: str, tmp_path: Path) -> None:
    """Issue 13: under a day of data failed a notebook cell with KeyError: 'earliest'; a 10-minute gap in one
    app server's samples failed the whole report. Both render, saying what is missing."""
    from support.app_samples import TEN_MINUTES_AT, app_warehouse

    if case == "an hour of samples":
        warehouse = app_warehouse(tmp_path / "w.duckdb", hours=1)
    else:
        warehouse = app_warehouse(tmp_path / "w.duckdb", hours=4 * 24, holes=(("app-2", TEN_MINUTES_AT, 10),))
    page = run_report("capacity", warehouse=warehouse.path, out_dir=tmp_path / "reports").html
    con = warehouse.open_read_only()
    try:
        review = capacity_review(con, CONFIG)
    finally:
        con.close()
    text = _squash(_text(page))
    for sentence in [review.period(), *review.data_notes(), *review.forecast_notes(), review.planning]:
        assert _squash(sentence) in text, sentence
    if case == "an hour of samples":
        assert "No forecast yet, every series needs more history: 1 h of samples" in text
    else:
        assert "app/app-2 cpu: 10 min without samples on 2026-10-31 from 03:10" in text
        assert "minutes without data" in text
