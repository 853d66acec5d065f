"""The slow-queries and DR reports rendered, as ``sre report`` renders them, against a real PostgreSQL 15 loaded
by pgbench in its first minutes: one snapshot, then two with windows given as durations (``-p window=2h -p
baseline=30m``). A healthy, young, quiet server is the normal case: every render exits cleanly and its HTML says
what each section lacks instead of failing."""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.servers import postgres_server

from sre_lib.app.report_runner import ensure_kernel, parse_parameter, run_report
from sre_lib.collect.postgres_snapshot import collect_postgres
from sre_lib.config import DEFAULT_CONFIG_PATH, load_config
from sre_lib.reviews.dr_readiness import DrReport, dr_readiness
from sre_lib.reviews.slow_queries import SlowQueryReview, slow_query_review
from sre_lib.warehouse.store import Warehouse

CONFIG = load_config(DEFAULT_CONFIG_PATH)
DURATIONS = dict(parse_parameter(text) for text in ("window=2h", "baseline=30m"))  # as -p gives them


@dataclass(frozen=True)
class Rendered:
    one_snapshot: Path
    two_snapshots: Path
    pages: dict[str, str]  # report run -> its HTML as text


def _text(page: Path) -> str:
    """The HTML's visible text, tags dropped and entities read, whitespace collapsed."""
    markup = re.sub(r"<(style|script)\b.*?</\1>", " ", page.read_text(encoding="utf-8"), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rendered]:
    folder = tmp_path_factory.mktemp("young-reports")
    with postgres_server() as pg:
        pg.command("pgbench", "-i", "-s", "1", "postgres")
        env = {"SRE_PG_DSN": pg.dsn()}
        warehouse = Warehouse(folder / "two.duckdb")
        collect_postgres(warehouse, CONFIG, env=env)
        one = folder / "one.duckdb"
        shutil.copy(warehouse.path, one)
        pg.command("pgbench", "-n", "-t", "200", "postgres")
        collect_postgres(warehouse, CONFIG, env=env)
    runs = {
        "slow-one": {"report": "slow-queries", "warehouse": one},
        "dr-one": {"report": "dr", "warehouse": one},
        "slow-two": {"report": "slow-queries", "warehouse": warehouse.path, "parameters": DURATIONS},
    }
    ensure_kernel()
    with ThreadPoolExecutor(max_workers=len(runs)) as pool:  # each run is a papermill process of its own
        futures = {name: pool.submit(run_report, out_dir=folder / name, **run) for name, run in runs.items()}
        pages = {name: _text(future.result().html) for name, future in futures.items()}
    yield Rendered(one, warehouse.path, pages)


def _slow_review(path: Path, **arguments: object) -> SlowQueryReview:
    con = Warehouse(path).open_read_only()
    try:
        return slow_query_review(con, CONFIG, **arguments)  # type: ignore[arg-type]
    finally:
        con.close()


def _dr_report(path: Path) -> DrReport:
    con = Warehouse(path).open_read_only()
    try:
        return dr_readiness(con, CONFIG)
    finally:
        con.close()


def test_one_snapshot_renders_the_slow_queries_report_saying_what_is_missing(rendered: Rendered) -> None:
    page = rendered.pages["slow-one"]
    review = _slow_review(rendered.one_snapshot)
    assert f"Database {review.server}" in page and review.headline in page
    assert review.period(CONFIG.tz) in page
    for note in (*review.history.notes(), review.history.new_slow_note()):
        assert note and note in page, note
    assert "Deltas need two snapshots; 1 collected" in page
    for quiet in ("No session ran a query", "No sequence is near its limit", "No invalid index."):
        assert quiet in page, quiet  # no long session, no sequence: an empty finding, not an error


def test_one_snapshot_renders_the_dr_report_each_check_saying_what_it_lacks(rendered: Rendered) -> None:
    page = rendered.pages["dr-one"]
    report = _dr_report(rendered.one_snapshot)
    assert report.summary in page and report.score in page
    for check in report.checks:  # no backup, no archived WAL, no replica: each check says so
        assert check.title in page and check.finding in page, check.name
    assert "no replica is connected" in report.check("replicas").finding


def test_two_snapshots_with_durations_rank_statements_and_say_regressions_wait(rendered: Rendered) -> None:
    page = rendered.pages["slow-two"]
    review = _slow_review(rendered.two_snapshots, window="2h", baseline="30m")
    assert "The 2 h to " in page and "compared with the 30 min before." in page
    assert review.history.window_intervals == 1 and review.history.has_deltas
    pgbench_statement = "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2"
    assert pgbench_statement in set(review.top_by_total_time["query"]) and pgbench_statement in page
    note = review.history.regressions_note()
    assert note and note in page and "the baseline holds 0 and the window 1" in note
    assert "Deltas need two snapshots" not in page
