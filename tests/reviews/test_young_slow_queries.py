"""The slow-query review on a real PostgreSQL 15 as a new user has it: young (one snapshot, then a few seconds of
history), quiet (no long session, no sequence, no other client) and healthy. Every analysis gives an empty,
typed frame, the review says what history it lacks, and a regression minutes (here seconds) old is found
with windows given as durations."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from support.servers import PostgresServer, postgres_server

from sre_lib.analysis.postgres import maintenance, queries
from sre_lib.collect.postgres_snapshot import collect_postgres
from sre_lib.config import DEFAULT_CONFIG_PATH, load_config
from sre_lib.errors import SreError
from sre_lib.reviews.slow_queries import SlowQueryReview, slow_query_review
from sre_lib.reviews.slow_query_tables import section_table
from sre_lib.warehouse.store import Warehouse

CONFIG = load_config(DEFAULT_CONFIG_PATH)
HOT = "SELECT count(*) FROM posts WHERE author_id = $1"
#: pgbench script of the hot statement (its parameter random, so every call is the same statement).
HOT_SCRIPT = "\\set author random(1, 5000)\nSELECT count(*) FROM posts WHERE author_id = :author;\n"
INTERVALS_EACH_SIDE = 6  # the regression test needs 5 intervals with calls on each side


@dataclass(frozen=True)
class YoungServer:
    one_snapshot: Path  # the warehouse after the first snapshot of a pgbench-loaded server
    history: Path  # then a few seconds of snapshots, the index under the hot statement dropped half way
    dropped_at: datetime  # the last snapshot before the index was dropped
    first_after: datetime  # the first one after
    end: datetime


def _burst(pg: PostgresServer, script: Path, transactions: int) -> None:
    pg.command("pgbench", "-n", "-f", str(script), "-t", str(transactions), "postgres")


@pytest.fixture(scope="module")
def young(tmp_path_factory: pytest.TempPathFactory) -> Iterator[YoungServer]:
    folder = tmp_path_factory.mktemp("young")
    script = folder / "hot.sql"
    script.write_text(HOT_SCRIPT)
    script.chmod(0o644)
    with postgres_server() as pg:
        pg.command("pgbench", "-i", "-s", "1", "postgres")  # pgbench's tables: no sequence among them
        pg.execute(
            "CREATE TABLE posts AS SELECT g AS id, g % 5000 AS author_id, repeat('x', 100) AS body "
            "FROM generate_series(1, 300000) g"
        )
        pg.execute("CREATE INDEX posts_author ON posts (author_id)")
        pg.execute("VACUUM ANALYZE posts")
        # an app's young table: a few writes, never vacuumed or analysed (autovacuum has nothing to do yet)
        pg.execute("CREATE TABLE comments (id int PRIMARY KEY, body text)")
        pg.execute("INSERT INTO comments SELECT g, 'c' FROM generate_series(1, 100) g")
        pg.execute("UPDATE comments SET body = 'edited' WHERE id <= 10")
        pg.execute("CREATE INDEX comments_body ON comments (body)")  # not scanned in the seconds watched
        env = {"SRE_PG_DSN": pg.dsn()}
        warehouse = Warehouse(folder / "history.duckdb")
        collect_postgres(warehouse, CONFIG, env=env)
        one_snapshot = folder / "one.duckdb"
        shutil.copy(warehouse.path, one_snapshot)
        for _ in range(INTERVALS_EACH_SIDE):
            _burst(pg, script, 40)
            dropped_at = collect_postgres(warehouse, CONFIG, env=env).taken_at
        pg.execute("DROP INDEX posts_author")
        after = []
        for _ in range(INTERVALS_EACH_SIDE):
            _burst(pg, script, 10)
            after.append(collect_postgres(warehouse, CONFIG, env=env).taken_at)
    moments = [pd.Timestamp(t).to_pydatetime() for t in (dropped_at, after[0], after[-1])]
    yield YoungServer(one_snapshot, warehouse.path, *moments)


def _review(path: Path, **arguments: Any) -> SlowQueryReview:
    con = Warehouse(path).open_read_only()
    try:
        return slow_query_review(con, CONFIG, **arguments)
    finally:
        con.close()


def test_one_snapshot_renders_and_says_deltas_need_two(young: YoungServer) -> None:
    review = _review(young.one_snapshot)
    assert review.history.snapshots == 1 and not review.history.has_deltas
    assert review.top_by_total_time.empty and review.regressions.empty and review.new_slow.empty
    assert review.long_sessions.empty and review.sequences.empty  # no long session, no sequence: nothing found
    assert review.maintenance_overdue.empty  # a table minutes old is not overdue against a weekly schedule
    assert review.verdict == "healthy" and "need more history" in review.headline
    notes = review.history.notes()
    assert notes[0].startswith("Deltas need two snapshots; 1 collected")
    assert "the baseline holds 0 and the window 0 (one snapshot so far" in notes[1]
    assert "Deltas need two snapshots" in section_table(review, "top_by_total_time")._repr_html_()
    assert "Regressions need a baseline (7 days before the window)" in section_table(review, "regressions").markup
    assert "No session ran a query" in section_table(review, "long_sessions").markup


def test_every_check_gives_its_columns_and_no_rows_on_a_quiet_young_server(young: YoungServer) -> None:
    """Each analysis over one snapshot returns the same columns as over the history, and no rows."""
    young_con, old_con = Warehouse(young.one_snapshot).open_read_only(), Warehouse(young.history).open_read_only()
    checks = {
        "top_statements": lambda con, end: queries.top_statements(con, None, end, end),
        "regressions": lambda con, end: queries.statement_comparison(con, None, end - pd.Timedelta("1min"), end),
        "new_slow": lambda con, end: queries.new_slow_statements(con, None, end - pd.Timedelta("1min"), end),
        "long_sessions": lambda con, end: maintenance.long_sessions(con, None, None, end),
        "sequences": lambda con, end: maintenance.sequences_near_limit(con, None, end),
        "unused_indexes": lambda con, end: maintenance.unused_indexes(con, None, end, end),
        "seq_scan_tables": lambda con, end: maintenance.seq_scan_tables(con, None, end, end),
    }
    try:
        young_end = young_con.execute("SELECT max(taken_at) FROM pg_snapshots").fetchone()[0]
        for name, check in checks.items():
            empty, full = check(young_con, young_end), check(old_con, young.end)
            assert empty.empty, name
            assert list(empty.columns) == list(full.columns), name
        compared = checks["regressions"](young_con, young_end)
        assert all(pd.api.types.is_numeric_dtype(compared[c]) for c in ("p_value", "ratio", "n_window")), "typed"
        assert checks["sequences"](young_con, young_end)["action"].dtype == object
    finally:
        young_con.close()
        old_con.close()


def test_a_regression_seconds_old_is_found_with_windows_as_durations(young: YoungServer) -> None:
    """Snapshots seconds apart, an index dropped under a hot statement: the window since the drop, against a
    baseline before it, names the statement as regressed."""
    since_drop = young.end - (young.dropped_at + (young.first_after - young.dropped_at) / 2)
    window = f"{since_drop.total_seconds():.3f}s"  # from the drop on, as a user who knows when it happened
    review = _review(young.history, window=window, baseline="10m")
    assert review.history.window_intervals == INTERVALS_EACH_SIDE
    assert review.history.baseline_intervals == INTERVALS_EACH_SIDE and review.history.can_regress
    assert list(review.regressions["query"]) == [HOT], review.regressions[["query", "ratio", "p_value"]]
    assert review.verdict == "critical" and review.headline.startswith("statement ")
    assert HOT in review.headline and review.history.regressions_note() is None
    assert review.period(CONFIG.tz).endswith("compared with the 10 min before.")


def test_a_baseline_before_the_history_is_said_not_raised(young: YoungServer) -> None:
    review = _review(young.history, window="30m", baseline="1h")  # the whole history is in the window
    assert review.regressions.empty and review.new_slow.empty
    assert review.history.baseline_intervals == 0 and not review.history.can_regress
    note = review.history.regressions_note()
    assert note is not None and "the baseline holds 0 and the window 12" in note
    assert "collected since" in note
    assert "need a baseline to be new against" in section_table(review, "new_slow").markup


def test_an_index_unscanned_for_seconds_is_not_called_unused(young: YoungServer) -> None:
    con = Warehouse(young.history).open_read_only()
    try:
        unscanned = maintenance.unused_indexes(con, None, young.end - pd.Timedelta("1h"), young.end)["indexrelname"]
    finally:
        con.close()
    assert "comments_body" in set(unscanned)  # the analysis sees no scan ...
    review = _review(young.history, window="1h", baseline="1h")
    assert review.unused_indexes.empty  # ... but seconds of watching do not make an index unused
    note = review.history.unused_indexes_note()
    assert note is not None and note.startswith("Unused indexes need 1 day watched without a scan")
    assert note in section_table(review, "unused_indexes").markup and note in review.history.notes()
    assert not any("unused index" in finding for finding in review.findings)


def test_days_still_work_and_a_bad_duration_names_the_parameter(young: YoungServer) -> None:
    by_days = _review(young.history, window_days=2, baseline_days=3)
    assert by_days.period(CONFIG.tz).startswith("The 2 days to ")
    assert "compared with the 3 days before" in by_days.period(CONFIG.tz)
    with pytest.raises(SreError, match=r"^window: expected a positive duration .* got '2 hours'$"):
        _review(young.history, window="2 hours")
    with pytest.raises(SreError, match=r"^baseline: expected a positive duration"):
        _review(young.history, baseline=7)
