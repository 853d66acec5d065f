"""Maintenance, index, sequence, growth and connection checks (sre_lib.analysis.postgres.maintenance) against a real
PostgreSQL 15 made to show each finding, collected with the real collector between actions; the pure logic
(index definitions, duplicates, bands, windows) on hand-built data; the demo data's scripted findings."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import psycopg
import pytest
from support.servers import PostgresServer, postgres_server

from sre_lib.analysis.postgres import maintenance as pm
from sre_lib.analysis.postgres.maintenance import IndexDef, find_duplicate_indexes, parse_indexdef
from sre_lib.analysis.postgres.snapshots import window_deltas_sql
from sre_lib.collect.postgres_snapshot import collect_postgres
from sre_lib.config import DEFAULT_CONFIG_PATH, PlatformConfig, load_config
from sre_lib.errors import DataError
from sre_lib.warehouse.store import Warehouse, schema_sql

PASSWORD = "Maintenance-Test-Pw-2"
BASE_CONFIG = load_config(DEFAULT_CONFIG_PATH)
LONG_SESSION_SECONDS = 0.5


def _config(long_session_seconds: float) -> PlatformConfig:
    postgres = BASE_CONFIG.sources.postgres.model_copy(update={"long_session_seconds": long_session_seconds})
    sources = BASE_CONFIG.sources.model_copy(update={"postgres": postgres})
    return BASE_CONFIG.model_copy(update={"sources": sources})


CONFIG = _config(LONG_SESSION_SECONDS)

FLUSH = "SELECT pg_stat_force_next_flush()"
SETUP = [
    # indexes: one used, one never used, one left invalid by a failed CREATE UNIQUE INDEX CONCURRENTLY
    "CREATE TABLE users (id serial PRIMARY KEY, email text, legacy_email text)",
    "INSERT INTO users (email, legacy_email) SELECT 'u' || g || '@x.org', 'old' || (g % 100) "
    "FROM generate_series(1, 2000) g",
    "CREATE INDEX idx_users_email ON users (email)",
    "CREATE INDEX idx_users_legacy_email ON users (legacy_email)",
    # duplicates and near misses
    "CREATE TABLE posts (id serial PRIMARY KEY, author_id int, created_at timestamptz, title text)",
    "INSERT INTO posts (author_id, created_at, title) SELECT g % 50, now(), 't' || g FROM generate_series(1, 500) g",
    "CREATE INDEX idx_posts_author ON posts (author_id)",
    "CREATE INDEX idx_posts_author_created ON posts (author_id, created_at)",
    "CREATE INDEX idx_posts_author_hash ON posts USING hash (author_id)",
    "CREATE INDEX idx_posts_author_recent ON posts (author_id) WHERE created_at > '2020-01-01'",
    "CREATE INDEX idx_posts_title_lower ON posts (lower(title))",
    "CREATE INDEX idx_posts_title_lower_id ON posts (lower(title), id)",
    "CREATE INDEX idx_posts_twin_a ON posts (created_at)",
    "CREATE INDEX idx_posts_twin_b ON posts (created_at)",
    "CREATE UNIQUE INDEX posts_title_key ON posts (title)",
    "CREATE INDEX idx_posts_title_created ON posts (title, created_at)",
    # dead tuples, never vacuumed
    "CREATE TABLE events_log (id bigint, payload text) WITH (autovacuum_enabled = off)",
    "INSERT INTO events_log SELECT g, 'p' FROM generate_series(1, 30000) g",
    "DELETE FROM events_log WHERE id <= 20000",
    # maintained: a few dead tuples, vacuumed and analysed
    "CREATE TABLE clean (id int)",
    "INSERT INTO clean SELECT generate_series(1, 1000)",
    "DELETE FROM clean WHERE id <= 10",
    FLUSH,  # VACUUM sets n_live_tup: the session's pending insert counts must land before, not after
    "VACUUM ANALYZE clean",
    # sequential scans over many rows (and, with 2 MB of shared buffers, cache misses)
    "CREATE TABLE comments (id serial PRIMARY KEY, body text)",
    "INSERT INTO comments (body) SELECT repeat('c', 100) || g FROM generate_series(1, 30000) g",
    "CREATE TABLE lookup (id int PRIMARY KEY, v text)",
    "INSERT INTO lookup SELECT g, 'v' FROM generate_series(1, 15000) g",
    FLUSH,
    "VACUUM ANALYZE comments, lookup",
    "CREATE TABLE growing (id serial, pad text)",
    # sequences: near the limit (readable), unreadable, low
    "CREATE SEQUENCE audit_log_id_seq AS integer",
    "SELECT setval('audit_log_id_seq', 2000000000)",
    "GRANT SELECT ON SEQUENCE audit_log_id_seq TO monitor",
    "CREATE SEQUENCE secret_seq",
    "SELECT nextval('secret_seq')",
    "CREATE SEQUENCE low_seq",
    "SELECT nextval('low_seq')",
    "GRANT SELECT ON SEQUENCE low_seq TO monitor",
]
ACTIONS = [
    "SELECT count(*) FROM comments WHERE body LIKE '%999%'",
    "SELECT count(*) FROM comments WHERE body LIKE '%998%'",
    "SELECT count(*) FROM comments WHERE body LIKE '%997%'",
    "SELECT count(*) FROM comments WHERE body LIKE '%996%'",
    "SELECT count(*) FROM comments WHERE body LIKE '%995%'",
    *[f"SELECT v FROM lookup WHERE id = {i}" for i in range(1, 11)],
    "SELECT count(*) FROM lookup",
    "INSERT INTO growing (pad) SELECT repeat('g', 200) FROM generate_series(1, 3000)",
    "SET enable_seqscan = off",
    "SELECT id FROM users WHERE email = 'u5@x.org'",
]
PHASES = 3
CLIENTS = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"


def env_for(pg: PostgresServer) -> dict[str, str]:
    return {"PGHOST": "127.0.0.1", "PGPORT": str(pg.port), "PGUSER": "monitor", "PGDATABASE": "app",
            "PGPASSWORD": PASSWORD}  # fmt: skip


def run(pg: PostgresServer, *statements: str) -> None:
    """Run statements in one session, then flush its table statistics so the next snapshot sees them."""
    with psycopg.connect(pg.dsn(dbname="app"), autocommit=True) as con:
        for statement in statements:
            con.execute(statement)
        con.execute(FLUSH)


@dataclass(frozen=True)
class Scenario:
    warehouse: Warehouse
    snaps: tuple[datetime, ...]
    idle_pid: int
    active_pid: int

    def con(self) -> duckdb.DuckDBPyConnection:
        return self.warehouse.open_read_only()


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    with postgres_server({"shared_buffers": "'2MB'"}) as server:
        server.execute("CREATE DATABASE app")
        server.execute("CREATE EXTENSION pg_stat_statements", dbname="app")
        server.execute(f"CREATE ROLE monitor LOGIN PASSWORD '{PASSWORD}' IN ROLE pg_monitor")
        yield server


@pytest.fixture(scope="module")
def scenario(pg: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    run(pg, *SETUP)
    with psycopg.connect(pg.dsn(dbname="app"), autocommit=True) as con, pytest.raises(psycopg.errors.UniqueViolation):
        con.execute("CREATE UNIQUE INDEX CONCURRENTLY idx_users_legacy_tmp ON users (legacy_email)")
    warehouse = Warehouse(tmp_path_factory.mktemp("pgm") / "w.duckdb")
    snaps = [collect_postgres(warehouse, CONFIG, env=env_for(pg)).taken_at]
    for _ in range(PHASES - 1):
        run(pg, *ACTIONS)
        snaps.append(collect_postgres(warehouse, CONFIG, env=env_for(pg)).taken_at)
    run(pg, *ACTIONS)
    with psycopg.connect(pg.dsn(dbname="app")) as idle, psycopg.connect(pg.dsn(dbname="app")) as busy:
        idle.execute("SELECT 1")  # psycopg opened a transaction: the session now sits idle in it
        idle_pid = idle.info.backend_pid
        active_pid = busy.info.backend_pid

        def sleep() -> None:
            with contextlib.suppress(psycopg.errors.QueryCanceled):
                busy.execute("SELECT pg_sleep(60)")  # cancelled once seen: still active however slow the snapshot

        sleeper = threading.Thread(target=sleep)
        sleeper.start()
        time.sleep(LONG_SESSION_SECONDS + 0.3)
        snaps.append(collect_postgres(warehouse, CONFIG, env=env_for(pg)).taken_at)
        busy.cancel()
        sleeper.join(timeout=30)
        busy.rollback()
    return Scenario(warehouse=warehouse, snaps=tuple(snaps), idle_pid=idle_pid, active_pid=active_pid)


def _names(frame: pd.DataFrame, column: str) -> set[str]:
    return set(frame[column])


# ------------------------------------------------------------------------------------------ real server


def test_unused_index_is_found_and_used_unique_and_invalid_ones_are_not(scenario: Scenario) -> None:
    con = scenario.con()
    try:
        unused = pm.unused_indexes(con)
        last_interval = pm.unused_indexes(con, start=scenario.snaps[-2])
    finally:
        con.close()
    names = _names(unused, "indexrelname")
    assert "idx_users_legacy_email" in names
    assert "idx_users_email" not in names  # scanned in every phase
    assert not names & {"users_pkey", "posts_pkey", "posts_title_key", "idx_users_legacy_tmp"}
    row = unused.set_index("indexrelname").loc["idx_users_legacy_email"]
    assert row["index_bytes"] > 0 and row["idx_scan"] == 0 and row["intervals"] == PHASES
    assert row["observed_since"] == scenario.snaps[0]
    assert last_interval.set_index("indexrelname").loc["idx_users_legacy_email", "intervals"] == 1
    assert unused["index_bytes"].is_monotonic_decreasing


def test_duplicate_indexes_are_prefixes_with_the_same_method_and_predicate(scenario: Scenario) -> None:
    con = scenario.con()
    try:
        duplicates = pm.duplicate_indexes(con)
    finally:
        con.close()
    found = set(zip(duplicates["indexrelname"], duplicates["covered_by"], strict=True))
    assert found == {
        ("idx_posts_author", "idx_posts_author_created"),
        ("idx_posts_title_lower", "idx_posts_title_lower_id"),
        ("idx_posts_twin_b", "idx_posts_twin_a"),
    }
    identical = duplicates.set_index("indexrelname")["identical"]
    assert identical["idx_posts_twin_b"] and not identical["idx_posts_author"]


def test_invalid_index_is_reported_with_what_to_do(scenario: Scenario) -> None:
    con = scenario.con()
    try:
        invalid = pm.invalid_indexes(con)
    finally:
        con.close()
    assert list(invalid["indexrelname"]) == ["idx_users_legacy_tmp"]
    assert invalid["action"].iloc[0].startswith("DROP INDEX CONCURRENTLY public.idx_users_legacy_tmp")


def test_dead_tuples_and_overdue_maintenance(scenario: Scenario) -> None:
    con = scenario.con()
    try:
        dead = pm.dead_tuples(con)
        overdue = pm.maintenance_overdue(con)
    finally:
        con.close()
    assert list(dead["relname"]) == ["events_log"]
    row = dead.iloc[0]
    assert row["n_dead_tup"] == 20000 and row["n_live_tup"] == 10000
    assert row["dead_ratio"] == pytest.approx(2 / 3)
    by_table = overdue.set_index("relname")
    assert by_table.loc["events_log", "vacuum_overdue"] and by_table.loc["events_log", "analyze_overdue"]
    assert pd.isna(by_table.loc["events_log", "last_vacuum_any"])
    assert "clean" not in by_table.index  # modified, but vacuumed and analysed just now
    assert by_table.loc["events_log", "autovacuum_count"] == 0


def test_sequential_scans_dominate_the_big_unindexed_table_with_low_cache_hits(scenario: Scenario) -> None:
    con = scenario.con()
    try:
        seq = pm.seq_scan_tables(con)
        low = pm.tables_low_cache_hit(con)
        databases = pm.cache_hit_ratios(con).set_index("datname")
    finally:
        con.close()
    assert "lookup" not in _names(seq, "relname")  # 15,000 rows, but index scans dominate
    comments = seq.set_index("relname").loc["comments"]
    assert comments["seq_scan"] == 5 * PHASES and comments["idx_scan"] == 0 and comments["n_live_tup"] == 30000
    assert comments["seq_scan_share"] == 1.0
    assert "comments" in _names(low, "relname")
    assert low.set_index("relname").loc["comments", "heap_hit_ratio"] < 0.99
    assert databases.loc["app", "heap_hit_ratio"] < 0.99 and databases.loc["app", "below"]
    assert 0 < databases.loc["app", "hit_ratio"] < 1


def test_sequences_near_their_limit_and_unreadable_ones(scenario: Scenario) -> None:
    con = scenario.con()
    try:
        found = pm.sequences_near_limit(con).set_index("sequencename")
    finally:
        con.close()
    audit = found.loc["audit_log_id_seq"]
    assert audit["status"] == "near limit"
    assert audit["used_ratio"] == pytest.approx(2_000_000_000 / 2_147_483_647)
    assert audit["remaining_values"] == 147_483_647
    secret = found.loc["secret_seq"]
    assert secret["status"] == "unknown"
    assert secret["action"].startswith("GRANT SELECT ON SEQUENCE public.secret_seq TO monitor")
    assert "low_seq" not in found.index


def test_growth_per_week_is_a_least_squares_slope(scenario: Scenario) -> None:
    con = scenario.con()
    try:
        tables = pm.table_growth(con).set_index("relname")
        databases = pm.database_growth(con).set_index("datname")
    finally:
        con.close()
    assert tables.loc["growing", "bytes_per_week"] > 0
    assert tables.loc["growing", "last_bytes"] > tables.loc["growing", "first_bytes"]
    assert tables.loc["growing", "snapshots"] == PHASES + 1
    assert tables.loc["clean", "bytes_per_week"] == 0
    assert databases.loc["app", "bytes_per_week"] > 0
    assert tables.index[0] == "growing"  # fastest growing first


def test_wraparound_headroom_is_reported_per_database_and_table(scenario: Scenario) -> None:
    con = scenario.con()
    try:
        wrap = pm.xid_wraparound(con)
    finally:
        con.close()
    assert {"database", "table"} == set(wrap["scope"])
    assert "app" in set(wrap.loc[wrap["scope"] == "database", "datname"])
    assert (wrap["status"] == "ok").all() and (wrap["percent_used"] < 1).all()
    assert (wrap["headroom"] == 2**31 - wrap["xid_age"]).all()


def test_idle_in_transaction_and_long_running_sessions(scenario: Scenario) -> None:
    con = scenario.con()
    try:
        idle = pm.idle_in_transaction_sessions(con, min_seconds=LONG_SESSION_SECONDS)
        long = pm.long_sessions(con, min_seconds=LONG_SESSION_SECONDS).set_index("pid")
        default = pm.long_sessions(con)
        states = pm.connections_by_state(con, start=scenario.snaps[-1])
    finally:
        con.close()
    assert list(idle["pid"]) == [scenario.idle_pid]
    assert idle["state"].iloc[0] == "idle in transaction" and idle["duration_seconds"].iloc[0] >= LONG_SESSION_SECONDS
    assert long.loc[scenario.active_pid, "state"] == "active"
    assert "pg_sleep(***)" in long.loc[scenario.active_pid, "query"]  # a session text loses its constants
    assert not long.loc[scenario.active_pid, "idle_in_transaction"]
    assert default.empty  # nothing ran for 60 s
    by_state = states.set_index("state")["sessions"]
    assert by_state["idle in transaction"] >= 1 and by_state["active"] >= 1


def test_connections_are_classified_with_the_configured_bands(pg: PostgresServer, tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    opened: list[psycopg.Connection] = []
    try:
        for target in (38, 45):  # of max_connections = 50: 76 % and 90 %
            while len(opened) < target:
                opened.append(psycopg.connect(pg.dsn(dbname="app"), autocommit=True))
            collect_postgres(warehouse, CONFIG, env=env_for(pg))
    finally:
        for con in opened:
            con.close()
    deadline = time.monotonic() + 10
    while pg.execute(CLIENTS)[0][0] > 5 and time.monotonic() < deadline:
        time.sleep(0.05)  # closed sessions' backends exit asynchronously
    collect_postgres(warehouse, CONFIG, env=env_for(pg))
    con = warehouse.open_read_only()
    try:
        usage = pm.connection_usage(con, **pm.connection_bands(BASE_CONFIG))
        summary = pm.connection_summary(con)
    finally:
        con.close()
    assert pm.connection_bands(BASE_CONFIG) == {"warning": 70.0, "critical": 85.0}
    assert list(usage["status"]) == ["warning", "critical", "healthy"]
    assert (usage["percent_used"] == 100 * usage["sessions"] / 50).all()
    assert usage["sessions"].iloc[0] >= 38 and usage["sessions"].iloc[1] >= 45
    assert summary.status == "healthy" and summary.peak_status == "critical"
    assert summary.peak_percent >= 90 and summary.max_connections == 50
    sentences = summary.describe(ZoneInfo("Australia/Sydney"))
    assert sentences[0].startswith(f"{summary.sessions} of 50 connections (max_connections) in use at ")
    states = ", ".join(f"{state} {count}" for state, count in summary.by_state)
    suffix = f" ({states})." if states else "."  # the states now, in the sentence about now (not the peak)
    assert sentences[0].endswith(f": {summary.percent_used:.0f} %, healthy{suffix}")
    assert f"{summary.peak_percent:.0f} % at " in sentences[1] and "(critical)" in sentences[1]
    assert "AEDT" in sentences[1] or "AEST" in sentences[1]


# ------------------------------------------------------------------------------------------ hand-built


def test_parse_indexdef_handles_everything_pg_get_indexdef_prints() -> None:
    simple = parse_indexdef("CREATE UNIQUE INDEX users_pkey ON public.users USING btree (id)")
    assert simple == IndexDef(name="users_pkey", schema="public", table="users", method="btree",
                              columns=("id",), unique=True)  # fmt: skip
    hard = parse_indexdef(
        'CREATE INDEX "Weird, (Name)" ON ONLY "My Schema"."My(Table)" USING btree ("Col, 1" DESC NULLS LAST, '
        'lower((email)::text) COLLATE "C" text_pattern_ops) INCLUDE (a, "b c") WITH (fillfactor=\'70\') '
        "WHERE ((status)::text = 'a,b)c'::text)"
    )
    assert hard.name == '"Weird, (Name)"' and hard.schema == '"My Schema"' and hard.table == '"My(Table)"'
    assert hard.only and not hard.unique and hard.method == "btree"
    assert hard.columns == ('"Col, 1" DESC NULLS LAST', 'lower((email)::text) COLLATE "C" text_pattern_ops')
    assert hard.include == ("a", '"b c"')
    assert hard.options == "fillfactor='70'"
    assert hard.predicate == "((status)::text = 'a,b)c'::text)"
    assert hard.has_expressions and not simple.has_expressions
    nnd = parse_indexdef("CREATE UNIQUE INDEX t_a_key ON public.t USING btree (a) NULLS NOT DISTINCT")
    assert nnd.nulls_not_distinct and nnd.columns == ("a",)
    gin = parse_indexdef("CREATE INDEX i ON public.t USING gin (to_tsvector('english'::regconfig, body))")
    assert gin.method == "gin" and gin.columns == ("to_tsvector('english'::regconfig, body)",)
    unqualified = parse_indexdef("CREATE INDEX i ON t USING brin (ts) WITH (pages_per_range='32')")
    assert unqualified.schema is None and unqualified.table == "t" and unqualified.options == "pages_per_range='32'"
    for bad in (
        "CREATE TABLE t (a int)",
        "CREATE INDEX i ON t USING btree (a",
        "CREATE INDEX i ON t USING btree (a) X",
    ):
        with pytest.raises(DataError):
            parse_indexdef(bad)


def _indexes(*rows: tuple) -> pd.DataFrame:
    """Index rows: (name, definition[, unique, primary, valid]) on public.t of database d."""
    full = [(*r, *(False, False, True)[len(r) - 2 :]) for r in rows]
    return pd.DataFrame(
        [("d", "public", "t", name, f"CREATE {'UNIQUE ' if u else ''}INDEX {name} ON public.t USING {definition}",
          u, p, v, 8192) for name, definition, u, p, v in full],
        columns=["datname", "schemaname", "relname", "indexrelname", "indexdef", "is_unique", "is_primary", "is_valid",
                 "index_bytes"],
    )  # fmt: skip


def _pairs(frame: pd.DataFrame) -> set[tuple[str, str]]:
    found = find_duplicate_indexes(frame)
    return set(zip(found["indexrelname"], found["covered_by"], strict=True))


def test_duplicate_detection_edge_cases() -> None:
    assert _pairs(_indexes(("a", "btree (x)"), ("ab", "btree (x, y)"))) == {("a", "ab")}
    assert _pairs(_indexes(("b", "btree (y)"), ("ab", "btree (x, y)"))) == set()  # not a leading prefix
    assert _pairs(_indexes(("a", "btree (x) WHERE (y > 0)"), ("ab", "btree (x, y)"))) == set()  # predicates
    assert _pairs(_indexes(("a", "btree (x) WHERE (y > 0)"), ("ab", "btree (x, y) WHERE (y > 0)"))) == {("a", "ab")}
    assert _pairs(_indexes(("a", "hash (x)"), ("ab", "btree (x, y)"))) == set()  # access methods
    assert _pairs(_indexes(("a", "btree (x DESC)"), ("ab", "btree (x, y)"))) == set()  # ordering differs
    assert _pairs(_indexes(("e", "btree (lower(x))"), ("ex", "btree (lower(x), y)"))) == {("e", "ex")}
    assert _pairs(_indexes(("e", "btree (lower(x))"), ("ux", "btree (upper(x), y)"))) == set()
    assert _pairs(_indexes(("i", "btree (x) INCLUDE (z)"), ("ab", "btree (x, y)"))) == set()  # z not covered
    assert _pairs(_indexes(("i", "btree (x) INCLUDE (y)"), ("ab", "btree (x, y)"))) == {("i", "ab")}
    assert _pairs(_indexes(("u", "btree (x)", True), ("ab", "btree (x, y)"))) == set()  # uniqueness matters
    assert _pairs(_indexes(("u", "btree (x)", True), ("n", "btree (x)"))) == {("n", "u")}
    assert _pairs(_indexes(("p", "btree (x)", True, True), ("u", "btree (x)", True))) == {("u", "p")}
    assert _pairs(_indexes(("a1", "btree (x)"), ("a2", "btree (x)"))) == {("a2", "a1")}
    assert _pairs(_indexes(("a", "btree (x)"), ("ab", "btree (x, y)", False, False, False))) == set()  # invalid
    assert _pairs(_indexes(("a", "btree (x)"), ("junk", "nonsense"))) == set()
    unread = _indexes(("a", "btree (x)"), ("ab", "btree (x, y)"))
    unread.loc[1, "indexdef"] = None  # its table was locked during the snapshot: no definition read
    assert _pairs(unread) == set()
    other_table = _indexes(("a", "btree (x)"), ("ab", "btree (x, y)"))
    other_table.loc[1, "relname"] = "u"
    assert _pairs(other_table) == set()
    nnd = _indexes(("u1", "btree (x) NULLS NOT DISTINCT", True), ("u2", "btree (x)", True))
    assert _pairs(nnd) == {("u2", "u1")}  # u1 (NULLS NOT DISTINCT) is stricter: u2 is redundant, not u1


def _warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(schema_sql())
    return con


T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> None:
    frame = pd.DataFrame(rows)
    con.register("_rows", frame)
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _rows")
    con.unregister("_rows")


def test_overdue_means_older_than_a_week_or_never_for_modified_tables() -> None:
    con = _warehouse()
    now = T0 + timedelta(days=30)
    base = {"server": "db", "taken_at": now, "datname": "d", "schemaname": "public", "n_live_tup": 100}
    _insert(con, "pg_tables", [
        {**base, "relname": "fresh", "n_dead_tup": 5, "last_autovacuum": now - timedelta(days=6),
         "last_analyze": now - timedelta(days=6, hours=23)},
        {**base, "relname": "stale", "n_dead_tup": 5, "last_vacuum": now - timedelta(days=8),
         "last_autovacuum": now - timedelta(days=7, minutes=1), "last_autoanalyze": now - timedelta(days=1)},
        {**base, "relname": "untouched", "n_dead_tup": 0, "n_mod_since_analyze": 0},
        {**base, "relname": "never", "n_mod_since_analyze": 3},
    ])  # fmt: skip
    overdue = pm.maintenance_overdue(con).set_index("relname")
    assert list(overdue.index) == ["never", "stale"]
    assert overdue.loc["stale", "vacuum_overdue"] and not overdue.loc["stale", "analyze_overdue"]
    assert overdue.loc["stale", "vacuum_age_days"] == pytest.approx(7 + 1 / 1440)
    assert overdue.loc["never", "vacuum_overdue"] and overdue.loc["never", "analyze_overdue"]
    assert pm.maintenance_overdue(con, max_age=timedelta(days=8)).set_index("relname").index.tolist() == ["never"]


def test_wraparound_bands() -> None:
    con = _warehouse()
    ages = {"ok": int(0.4999 * 2**31), "warn": 2**30, "crit": int(0.75 * 2**31)}
    _insert(
        con, "pg_databases", [{"server": "db", "taken_at": T0, "datname": n, "xid_age": a} for n, a in ages.items()]
    )
    wrap = pm.xid_wraparound(con, tables=False).set_index("datname")
    assert wrap["status"].to_dict() == {"ok": "ok", "warn": "warning", "crit": "critical"}
    assert wrap.loc["warn", "percent_used"] == 50.0 and wrap.loc["warn", "headroom"] == 2**30
    assert pm.xid_wraparound(con, tables=False, warning_percent=40)["status"].tolist() == [
        "critical",
        "warning",
        "warning",
    ]


def test_sequences_honour_the_increment_sign_and_the_type() -> None:
    con = _warehouse()
    base = {"server": "db", "taken_at": T0, "datname": "d", "schemaname": "public"}
    _insert(con, "pg_sequences", [
        {**base, "sequencename": "down", "data_type": "integer", "last_value": -2_000_000_000,
         "max_value": -1, "increment_by": -1},
        {**base, "sequencename": "down_low", "data_type": "integer", "last_value": -5, "max_value": -1,
         "increment_by": -1},
        {**base, "sequencename": "small", "data_type": "smallint", "last_value": 30_000, "max_value": 32_767,
         "increment_by": 1},
        {**base, "sequencename": "capped", "data_type": "bigint", "last_value": 950, "max_value": 1000,
         "increment_by": 10},
        {**base, "sequencename": "hidden", "data_type": "bigint", "last_value": None, "max_value": 10**18,
         "increment_by": 1},
        {**base, "sequencename": "down_own_floor", "data_type": "integer", "last_value": -950_000,
         "max_value": -1, "increment_by": -1, "min_value": -1_000_000},
        {**base, "sequencename": "down_far", "data_type": "integer", "last_value": -950_000,
         "max_value": -1, "increment_by": -1, "min_value": -2**31},
        {**base, "sequencename": "big", "data_type": "bigint", "last_value": 2**63 - 2**58, "max_value": 2**63 - 1,
         "increment_by": 1},
        {**base, "sequencename": "countdown_early", "data_type": "integer", "last_value": 900, "max_value": 1000,
         "increment_by": -1, "min_value": 1},
        {**base, "sequencename": "countdown_late", "data_type": "integer", "last_value": 50, "max_value": 1000,
         "increment_by": -1, "min_value": 0},
        {**base, "sequencename": "from_minus", "data_type": "integer", "last_value": 0, "max_value": 1000,
         "increment_by": 1, "min_value": -1000},
    ])  # fmt: skip
    found = pm.sequences_near_limit(con, monitor_role="sre_monitor").set_index("sequencename")
    assert set(found.index) == {"down", "small", "capped", "hidden", "down_own_floor", "big", "countdown_late"}
    assert found.loc["countdown_late", "used_ratio"] == pytest.approx(0.95)  # (1000 - 50) / (1000 - 0)
    assert found.loc["down", "used_ratio"] == pytest.approx(2_000_000_000 / 2**31)  # min_value unknown: the type's
    assert found.loc["down_own_floor", "used_ratio"] == pytest.approx(0.95)
    assert "MINVALUE" in found.loc["down_own_floor", "action"]
    assert "AS bigint" in found.loc["small", "action"]
    assert "MAXVALUE" in found.loc["capped", "action"]
    assert "plan a new key" in found.loc["big", "action"]
    assert found.loc["small", "type_max"] == 32_767
    assert found.loc["capped", "used_ratio"] == 0.95  # its own max_value, not the type's
    assert found.loc["hidden", "status"] == "unknown"
    assert "TO sre_monitor" in found.loc["hidden", "action"]
    assert list(found.index)[-1] == "hidden"


def test_growth_slope_and_connection_band_edges() -> None:
    con = _warehouse()
    _insert(con, "pg_databases", [
        {"server": "db", "taken_at": T0 + timedelta(days=d), "datname": "d", "size_bytes": 10**9 + d * 2**20}
        for d in range(10)
    ])  # fmt: skip
    growth = pm.database_growth(con)
    assert growth["bytes_per_week"].iloc[0] == pytest.approx(7 * 2**20)
    assert growth["r2"].iloc[0] == pytest.approx(1.0)
    assert pm.database_growth(con, start=T0 + timedelta(days=9))["bytes_per_week"].isna().all()  # one snapshot
    sessions = [69, 70, 85, 86]
    _insert(con, "pg_snapshots", [{"server": "db", "taken_at": T0 + timedelta(minutes=i), "max_connections": 100}
                                  for i in range(len(sessions))])  # fmt: skip
    _insert(con, "pg_activity", [{"server": "db", "taken_at": T0 + timedelta(minutes=i), "datname": "d",
                                  "state": state, "sessions": n // 2 + (n % 2 if state == "idle" else 0)}
                                 for i, n in enumerate(sessions) for state in ("idle", "active")])  # fmt: skip
    usage = pm.connection_usage(con)
    assert list(usage["sessions"]) == sessions
    assert list(usage["status"]) == ["healthy", "warning", "warning", "critical"]


def test_window_deltas_survive_a_counter_reset_and_count_new_objects_from_zero() -> None:
    con = _warehouse()
    base = {"server": "db", "datname": "d", "schemaname": "public", "relname": "t", "is_unique": False,
            "is_primary": False, "is_valid": True, "index_bytes": 8192, "indexdef": "CREATE INDEX"}  # fmt: skip
    scans = {"old": [10, 15, 3, 3], "late": [None, None, 0, 0]}
    rows = [{**base, "taken_at": T0 + timedelta(hours=i), "indexrelname": name, "idx_scan": value}
            for name, values in scans.items() for i, value in enumerate(values) if value is not None]  # fmt: skip
    _insert(con, "pg_indexes", rows)
    sql, params = window_deltas_sql("pg_indexes", ("indexrelname",), ("idx_scan",), "db", None, None)
    deltas = con.execute(sql, params).df().set_index("indexrelname")
    assert deltas.loc["old", "idx_scan"] == 5 + 3 + 0 and deltas.loc["old", "reset"]
    assert deltas.loc["old", "intervals"] == 3
    assert deltas.loc["late", "idx_scan"] == 0 and deltas.loc["late", "intervals"] == 2
    unused = pm.unused_indexes(con)
    assert list(unused["indexrelname"]) == ["late"]
    assert list(pm.unused_indexes(con, start=T0 + timedelta(hours=2))["indexrelname"]) == ["late", "old"]
    assert pm.unused_indexes(con, end=T0).empty  # one snapshot: no interval observed, nothing can be said


# ------------------------------------------------------------------------------------------------ demo


def test_the_demo_maintenance_findings_are_found(demo_warehouse: Path) -> None:
    from sre_lib.demo.spec import DemoSpec

    spec = DemoSpec()
    week = {"start": spec.end - timedelta(days=7)}
    con = Warehouse(demo_warehouse).open_read_only()
    try:
        dead = pm.dead_tuples(con)
        overdue = pm.maintenance_overdue(con, **week).set_index("relname")
        unused = pm.unused_indexes(con, **week)
        duplicates = pm.duplicate_indexes(con)
        invalid = pm.invalid_indexes(con)
        sequences = pm.sequences_near_limit(con)
        seq = pm.seq_scan_tables(con, **week)
        low_cache = pm.tables_low_cache_hit(con, **week)
        idle = pm.idle_in_transaction_sessions(con)
        long = pm.long_sessions(con)
        growth = pm.table_growth(con)
        usage = pm.connection_usage(con)
    finally:
        con.close()
    assert list(dead["relname"]) == ["events_log"]
    assert overdue.loc["events_log", "vacuum_overdue"] and overdue.loc["sessions", "analyze_overdue"]
    assert list(unused["indexrelname"]) == ["idx_users_legacy_email"]
    assert set(zip(duplicates["indexrelname"], duplicates["covered_by"], strict=True)) == {
        ("idx_posts_author", "idx_posts_author_created")
    }
    assert list(invalid["indexrelname"]) == ["idx_events_log_tmp"]
    assert list(sequences["sequencename"]) == ["audit_log_id_seq"] and sequences["used_ratio"].iloc[0] > 0.9
    assert list(seq["relname"]) == ["comments"]
    assert "comments" in set(low_cache["relname"])
    assert len(idle) >= 1 and idle["duration_seconds"].min() >= 60
    assert (~long["idle_in_transaction"]).any()  # the nightly report, active for over a minute
    assert (growth["bytes_per_week"] > 0).any()
    assert set(usage["status"]) <= {"healthy", "warning", "critical"} and len(usage) > 1000


def test_sequences_of_a_schema_1_snapshot_without_min_value_fall_back_to_the_type() -> None:
    con = _warehouse()
    con.execute("ALTER TABLE pg_sequences DROP COLUMN min_value")
    _insert(con, "pg_sequences", [
        {"server": "db", "taken_at": T0, "datname": "d", "schemaname": "public", "sequencename": "down",
         "data_type": "integer", "last_value": -2_000_000_000, "max_value": -1, "increment_by": -1},
    ])  # fmt: skip
    found = pm.sequences_near_limit(con).set_index("sequencename")
    assert found.loc["down", "used_ratio"] == pytest.approx(2_000_000_000 / 2**31)
    assert "AS bigint" in found.loc["down", "action"]


def test_a_sequence_near_its_limit_says_how_long_it_lasts_at_its_pace() -> None:
    con = _warehouse()
    base = {"server": "db", "datname": "d", "schemaname": "public", "data_type": "integer", "max_value": 2200,
            "increment_by": 1, "min_value": 1}  # fmt: skip
    _insert(con, "pg_sequences", [
        {**base, "taken_at": T0 - timedelta(days=40), "sequencename": "ids", "last_value": 100},  # before the pace
        {**base, "taken_at": T0 - timedelta(days=10), "sequencename": "ids", "last_value": 1000},
        {**base, "taken_at": T0, "sequencename": "ids", "last_value": 2000},
        {**base, "taken_at": T0, "sequencename": "still", "last_value": 2100},  # no earlier snapshot: no pace
    ])  # fmt: skip
    found = pm.sequences_near_limit(con).set_index("sequencename")
    assert found.loc["ids", "values_per_day"] == pytest.approx(100.0)  # 1,000 values in 10 days
    assert found.loc["ids", "days_left"] == pytest.approx(2.0)  # 200 left
    assert pd.isna(found.loc["still", "days_left"])
