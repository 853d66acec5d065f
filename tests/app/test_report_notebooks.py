"""The three report notebooks, executed by papermill on the demo warehouse and read as a manager would.

Each report's verdict and key numbers must equal what the library computes; a known fake password set in
the environment must appear in no output; the HTML must open in an offline Chromium with every chart drawn,
nothing fetched, and a pg_stat_statements text containing <script> shown as text, never run.
"""

from __future__ import annotations

import html
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from support.browser import open_offline

from sre_lib.app.report_runner import ensure_kernel, run_report
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


def _render_together(runs: dict[str, dict[str, Any]]) -> dict[str, Path]:
    """Each report's HTML, the runs made side by side: each is a papermill process of its own, and a run mostly
    waits on its kernel, so two cores finish them in about the time of the longest."""
    ensure_kernel()  # installed once, before the runs could race to install it
    with ThreadPoolExecutor(max_workers=len(runs)) as pool:
        futures = {name: pool.submit(run_report, **arguments) for name, arguments in runs.items()}
        return {name: future.result().html for name, future in futures.items()}


@pytest.fixture(scope="module")
def reports(demo_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("reports")
    patch = pytest.MonkeyPatch()
    patch.setenv("PGPASSWORD", FAKE_PASSWORD)
    patch.setenv("SRE_PG_DSN", f"postgresql://monitor:{FAKE_PASSWORD}@127.0.0.1:5432/community_hub")
    Warehouse(demo_warehouse).current_snapshot()  # published once, not by three readers at the same moment
    try:
        return _render_together(
            {
                "capacity": {"report": "capacity", "warehouse": demo_warehouse, "out_dir": out},
                "slow-queries": {
                    "report": "slow-queries", "warehouse": demo_warehouse, "out_dir": out, "parameters": {"top": 40}
                },
                "dr": {"report": "dr", "warehouse": demo_warehouse, "out_dir": out},
            }
        )  # fmt: skip
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
    seen = {}
    for name, page in reports.items():
        seen[name] = open_offline(page, screenshot=tmp_path / f"{name}.png")
        assert seen[name].outside_requests == [], name
        assert seen[name].failed_requests == [], name
        assert seen[name].scripts_run == [], name
        assert seen[name].images == seen[name].images_drawn, name
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
    assert seen["capacity"].images >= 6  # bands, episodes, forecasts, servers, load
    assert "<script>alert('x')</script>" in seen["slow-queries"].text  # the statement's comment shows as text


def test_the_explore_notebook_runs_on_the_demo(demo_warehouse: Path, tmp_path: Path) -> None:
    import json

    import papermill

    from sre_lib.app.report_runner import NOTEBOOK_DIR

    output = tmp_path / "explore.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK_DIR / "explore.ipynb"), str(output), kernel_name=ensure_kernel(), progress_bar=False,
        parameters={"warehouse": str(demo_warehouse), "config": str(DEFAULT_CONFIG_PATH)}, cwd=str(NOTEBOOK_DIR),
    )  # fmt: skip
    cells = json.loads(output.read_text())["cells"]
    outputs = [o for cell in cells for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert sum("image/svg+xml" in o.get("data", {}) for o in outputs) >= 3  # window, forecast, servers


SHORT_OR_GAPPY = ("an hour of samples", "one server unscraped for 10 minutes")


@pytest.fixture(scope="module")
def short_or_gappy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Warehouse, Path]]:
    """The capacity report rendered on each short or gappy history, the two renders side by side."""
    from support.app_samples import TEN_MINUTES_AT, app_warehouse

    folders = {case: tmp_path_factory.mktemp("short-or-gappy") for case in SHORT_OR_GAPPY}
    warehouses = {
        "an hour of samples": app_warehouse(folders["an hour of samples"] / "w.duckdb", hours=1),
        "one server unscraped for 10 minutes": app_warehouse(
            folders["one server unscraped for 10 minutes"] / "w.duckdb",
            hours=4 * 24,
            holes=(("app-2", TEN_MINUTES_AT, 10),),
        ),
    }
    for warehouse in warehouses.values():
        warehouse.current_snapshot()
    pages = _render_together(
        {
            case: {"report": "capacity", "warehouse": warehouses[case].path, "out_dir": folders[case] / "reports"}
            for case in SHORT_OR_GAPPY
        }
    )
    return {case: (warehouses[case], pages[case]) for case in SHORT_OR_GAPPY}


@pytest.mark.parametrize("case", SHORT_OR_GAPPY)
def test_the_capacity_report_renders_on_short_or_gappy_history(
    case: str, short_or_gappy: dict[str, tuple[Warehouse, Path]]
) -> None:
    """Issue 13: under a day of data failed a notebook cell with KeyError: 'earliest'; a 10-minute gap in one
    app server's samples failed the whole report. Both render, saying what is missing."""
    warehouse, page = short_or_gappy[case]
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
