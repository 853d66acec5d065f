"""The PostgreSQL collector against a real PostgreSQL 15 with pg_stat_statements, loaded by pgbench."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import psycopg
import pytest
import tomli_w
from support.servers import PostgresServer, free_port, postgres_server

from sre_lib.analysis.postgres.maintenance import sequences_near_limit
from sre_lib.analysis.postgres.statement_deltas import statement_deltas
from sre_lib.collect.pgss_columns import DOCUMENTED_COLUMNS
from sre_lib.collect.postgres_snapshot import collect_postgres, postgres_target, take_snapshot
from sre_lib.config import DEFAULT_CONFIG_PATH, config_to_toml, load_config, parse_config
from sre_lib.errors import CollectionError
from sre_lib.warehouse.store import Warehouse

MONITOR_PASSWORD = "Fake-Secret-Pw-4711"
CONFIG = load_config(DEFAULT_CONFIG_PATH)


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        server.execute("CREATE DATABASE bench")
        server.execute("CREATE EXTENSION pg_stat_statements", dbname="bench")
        server.execute("CREATE DATABASE plain")
        server.execute(f"CREATE ROLE monitor LOGIN PASSWORD '{MONITOR_PASSWORD}' IN ROLE pg_monitor")
        server.execute(f"CREATE ROLE nobody LOGIN PASSWORD '{MONITOR_PASSWORD}'")
        server.command("pgbench", "-i", "-s", "1", "-q", "bench")
        server.execute("CREATE SEQUENCE ticket_seq AS integer", dbname="bench")
        server.execute("SELECT setval('ticket_seq', 2000000000)", dbname="bench")
        server.execute("GRANT SELECT ON SEQUENCE ticket_seq TO monitor", dbname="bench")
        server.execute("CREATE SEQUENCE refund_seq AS integer INCREMENT -1 MINVALUE -1000 MAXVALUE -1", dbname="bench")
        server.execute("SELECT setval('refund_seq', -990)", dbname="bench")
        server.execute("GRANT SELECT ON SEQUENCE refund_seq TO monitor", dbname="bench")
        yield server


def env_for(pg: PostgresServer, user: str = "monitor", dbname: str = "bench") -> dict[str, str]:
    return {
        "PGHOST": "127.0.0.1",
        "PGPORT": str(pg.port),
        "PGUSER": user,
        "PGDATABASE": dbname,
        "PGPASSWORD": MONITOR_PASSWORD,
    }


def pgbench(pg: PostgresServer, transactions: int) -> int:
    """Run pgbench's TPC-B-like script; return the transactions it reports as processed."""
    result = pg.command("pgbench", "-n", "-c", "2", "-t", str(transactions), "bench")
    return int(re.search(r"number of transactions actually processed: (\d+)", result.stdout).group(1))


def table_text(warehouse: Warehouse) -> str:
    con = warehouse.open_read_only()
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        return "\n".join(con.execute(f"SELECT * FROM {t}").df().to_csv() for t in tables)
    finally:
        con.close()


def update_calls(warehouse: Warehouse) -> tuple[int, bool]:
    con = warehouse.open_read_only()
    try:
        deltas = statement_deltas(con)
    finally:
        con.close()
    updates = deltas[deltas["query"].str.startswith("UPDATE pgbench_accounts")]
    for counter in ("calls", "total_exec_time_ms", "rows", "shared_blks_hit"):
        assert (deltas[counter].dropna() >= 0).all(), counter
    return int(updates["calls"].sum()), bool(updates["reset"].any())


def test_calls_between_two_snapshots_equal_pgbench_transactions(pg: PostgresServer, tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    first = collect_postgres(warehouse, CONFIG, env=env_for(pg))
    assert first.rows_by_table["pg_stat_statements"] > 0
    processed = pgbench(pg, 150)
    collect_postgres(warehouse, CONFIG, env=env_for(pg))
    calls, reset = update_calls(warehouse)
    assert processed == 300
    assert calls == processed
    assert not reset


def test_a_reset_between_snapshots_is_detected_and_no_delta_is_negative(pg: PostgresServer, tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    pgbench(pg, 200)
    collect_postgres(warehouse, CONFIG, env=env_for(pg))
    pg.execute("SELECT pg_stat_statements_reset()")
    processed = pgbench(pg, 20)
    collect_postgres(warehouse, CONFIG, env=env_for(pg))
    calls, reset = update_calls(warehouse)
    assert reset
    assert calls == processed == 40


def test_one_statement_reset_alone_is_detected_after_its_counters_grew_back(pg: PostgresServer, tmp_path: Path) -> None:
    """pg_stat_statements_reset(userid, dbid, queryid) moves no stats_reset on PG 15; calls and times that grew
    back past their old values hide it, but the entry's max_exec_time fell: its counters restarted."""
    warehouse = Warehouse(tmp_path / "w.duckdb")
    for _ in range(3):
        pg.execute("SELECT pg_sleep(0.03)", dbname="bench")
    collect_postgres(warehouse, CONFIG, env=env_for(pg))
    pg.execute(
        "SELECT pg_stat_statements_reset(userid, dbid, queryid) FROM pg_stat_statements "
        "WHERE query = 'SELECT pg_sleep($1)'",
        dbname="bench",
    )
    for _ in range(8):  # more calls and more time in all than before the reset, each call shorter
        pg.execute("SELECT pg_sleep(0.02)", dbname="bench")
    collect_postgres(warehouse, CONFIG, env=env_for(pg))
    con = warehouse.open_read_only()
    try:
        deltas = statement_deltas(con)
        stored = con.execute(
            "SELECT calls, total_exec_time_ms FROM pg_stat_statements WHERE query = 'SELECT pg_sleep($1)' "
            "ORDER BY taken_at"
        ).fetchall()
    finally:
        con.close()
    sleeps = deltas[deltas["query"] == "SELECT pg_sleep($1)"]
    assert stored[0][0] == 3 and stored[1][0] == 8 and stored[1][1] > stored[0][1]  # no counter went down
    assert sleeps["calls"].tolist() == [8] and sleeps["reset"].tolist() == [True]
    assert sleeps["total_exec_time_ms"].iloc[0] >= 8 * 20


def test_snapshot_has_every_view_and_no_password(pg: PostgresServer, tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    quoted = {"Fake-Dollar-Secret-1": "$$Fake-Dollar-Secret-1$$", "Fake-Esc-Secret-2": "E'Fake-Esc-Secret-2'"}
    for number, literal in enumerate(quoted.values()):  # passwords in every quoting SQL allows, tracked by pgss
        pg.execute(f"CREATE ROLE quoted_{number} LOGIN PASSWORD {literal}", dbname="bench")
    summary = collect_postgres(warehouse, CONFIG, env=env_for(pg))
    rows = summary.rows_by_table
    for table in (
        "pg_snapshots",
        "pg_stat_statements",
        "pg_tables",
        "pg_indexes",
        "pg_databases",
        "pg_archiver",
        "pg_sequences",
    ):
        assert rows[table] > 0, table
    con = warehouse.open_read_only()
    try:
        tables = set(con.execute("SELECT relname FROM pg_tables").df().relname)
        facts = con.execute("SELECT server_version_num, pgss_version, max_connections FROM pg_snapshots").fetchall()
        sequence = con.execute(
            "SELECT data_type, last_value, max_value, min_value FROM pg_sequences ORDER BY sequencename"
        ).fetchall()
        flagged = sequences_near_limit(con).set_index("sequencename")
    finally:
        con.close()
    assert {"pgbench_accounts", "pgbench_branches"} <= tables
    assert facts[0][0] // 10000 == 15 and facts[0][2] == 50
    assert sequence == [("integer", -990, -1, -1000), ("integer", 2000000000, 2147483647, 1)]
    assert flagged.loc["refund_seq", "used_ratio"] == pytest.approx(989 / 999)  # (-1 - -990) / (-1 - -1000)
    assert "MINVALUE" in flagged.loc["refund_seq", "action"]
    assert flagged.loc["ticket_seq", "used_ratio"] == pytest.approx(2e9 / (2**31 - 1))
    text = table_text(warehouse)
    assert MONITOR_PASSWORD not in text
    assert "CREATE ROLE quoted_0 LOGIN PASSWORD '***'" in text
    assert not [secret for secret in quoted if secret in text]
    assert "monitor@127.0.0.1" in text  # the run log names the target, without its secret


def test_live_view_has_exactly_the_documented_pg15_columns(pg: PostgresServer) -> None:
    rows = pg.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'pg_stat_statements'::regclass AND attnum > 0",
        dbname="bench",
    )
    assert {r[0] for r in rows} == DOCUMENTED_COLUMNS[15]


def test_sessions_are_read_only_with_timeouts(pg: PostgresServer) -> None:
    target = postgres_target(CONFIG, env_for(pg))
    with target.connect() as con:
        assert con.execute("SHOW default_transaction_read_only").fetchall() == [("on",)]
        assert con.execute("SHOW statement_timeout").fetchall() == [("5s",)]
        assert con.execute("SHOW lock_timeout").fetchall() == [("1s",)]
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            con.execute("CREATE TABLE sneaky (id int)")


def test_a_role_without_pg_monitor_gets_a_clear_error_and_nothing_is_written(
    pg: PostgresServer, tmp_path: Path
) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with pytest.raises(CollectionError) as raised:
        collect_postgres(warehouse, CONFIG, env=env_for(pg, user="nobody"))
    message = str(raised.value)
    assert "GRANT pg_monitor" in message and "nobody@127.0.0.1" in message
    assert MONITOR_PASSWORD not in message
    runs = warehouse.runs()
    assert list(runs.status) == ["failed"]
    assert "GRANT pg_monitor" in runs.error[0]
    assert _count(warehouse, "pg_stat_statements") == 0


def _count(warehouse: Warehouse, table: str) -> int:
    con = warehouse.open_read_only()
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    finally:
        con.close()


def test_a_database_without_the_extension_is_named(pg: PostgresServer, tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with pytest.raises(CollectionError, match=r"pg_stat_statements extension is not installed in database plain"):
        collect_postgres(warehouse, CONFIG, env=env_for(pg, dbname="plain"))
    assert _count(warehouse, "pg_snapshots") == 0


def test_a_connection_dropped_mid_snapshot_writes_nothing(pg: PostgresServer, tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    collect_postgres(warehouse, CONFIG, env=env_for(pg))
    before = {t: _count(warehouse, t) for t in ("pg_snapshots", "pg_stat_statements", "pg_tables")}

    def drop_connection(stage: str) -> None:
        if stage.startswith("databases"):
            pg.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'sre-workbench'"
            )

    with pytest.raises(CollectionError, match=r"connection failed or was lost during the snapshot"):
        collect_postgres(warehouse, CONFIG, env=env_for(pg), progress=drop_connection)
    assert {t: _count(warehouse, t) for t in before} == before
    assert warehouse.runs().status.iloc[0] == "failed"


def test_same_snapshot_written_twice_leaves_the_same_rows(pg: PostgresServer, tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    frames = take_snapshot(postgres_target(CONFIG, env_for(pg)))
    for _ in range(2):
        with warehouse.write_run("postgres") as run:
            for table, frame in frames.items():
                run.replace_rows(table, frame)
    assert _count(warehouse, "pg_stat_statements") == len(frames["pg_stat_statements"])
    assert _count(warehouse, "pg_tables") == len(frames["pg_tables"])


def test_sre_pg_dsn_overrides_the_config_and_its_password_never_shows(pg: PostgresServer) -> None:
    dsn = f"postgresql://monitor:{MONITOR_PASSWORD}@127.0.0.1:{pg.port}/bench"
    target = postgres_target(CONFIG, {"SRE_PG_DSN": dsn})
    assert (target.user, target.port, target.dbname) == ("monitor", pg.port, "bench")
    assert MONITOR_PASSWORD not in repr(target) and MONITOR_PASSWORD not in target.describe()
    wrong = postgres_target(CONFIG, {"SRE_PG_DSN": dsn.replace(MONITOR_PASSWORD, "wrong-" + MONITOR_PASSWORD)})
    with pytest.raises(CollectionError) as raised:
        take_snapshot(wrong)
    assert "password authentication failed" in str(raised.value)
    assert MONITOR_PASSWORD not in str(raised.value)


def test_every_libpq_setting_of_sre_pg_dsn_is_honoured(pg: PostgresServer) -> None:
    """sslmode=require must refuse this server (it has no SSL), not be dropped on the way to libpq."""
    dsn = f"postgresql://monitor:{MONITOR_PASSWORD}@127.0.0.1:{pg.port}/bench"
    with pytest.raises(CollectionError) as raised:
        take_snapshot(postgres_target(CONFIG, {"SRE_PG_DSN": dsn + "?sslmode=require"}))
    assert "SSL" in str(raised.value) and MONITOR_PASSWORD not in str(raised.value)
    # a multi-host target: the first host is down, libpq tries the next
    closed = free_port()
    failover = f"postgresql://monitor:{MONITOR_PASSWORD}@127.0.0.1:{closed},127.0.0.1:{pg.port}/bench"
    target = postgres_target(CONFIG, {"SRE_PG_DSN": failover})
    assert target.port == f"{closed},{pg.port}"
    assert take_snapshot(target)["pg_snapshots"].shape[0] == 1


def test_a_dsn_password_with_an_unencoded_slash_is_refused_without_showing_it() -> None:
    secret = "aB3x/9kQz+Lm"
    with pytest.raises(CollectionError, match="percent-encode") as raised:
        postgres_target(CONFIG, {"SRE_PG_DSN": f"postgresql://admin:{secret}@127.0.0.1:5432/db"})
    assert "aB3x" not in str(raised.value) and "9kQz" not in str(raised.value)


def _run(pg: PostgresServer, dbname: str, *statements: str) -> None:
    """Statements in one session, which then ends (PostgreSQL 15 flushes its statistics when it does)."""
    with psycopg.connect(pg.dsn(dbname=dbname), autocommit=True) as con:
        for statement in statements:
            con.execute(statement)


def _scans(table: str, count: int, index: bool = False) -> list[str]:
    plan = ["SET enable_seqscan = off"] if index else ["SET enable_indexscan = off", "SET enable_bitmapscan = off"]
    return [*plan, *[f"SELECT count(*) FROM {table} WHERE v = {n}" for n in range(count)]]


def test_object_counters_restart_with_the_object_or_a_statistics_reset(pg: PostgresServer, tmp_path: Path) -> None:
    """Counters are per object, not per name: an index re-created under its name and a table dropped for a
    snapshot count from zero, pg_stat_reset() in the database flags its objects, and a database collected for
    the first time starts a baseline instead of counting its lifetime as one interval's work."""
    from sre_lib.analysis.postgres.maintenance import table_activity, unused_indexes
    from sre_lib.analysis.postgres.snapshots import window_deltas_sql

    warehouse = Warehouse(tmp_path / "w.duckdb")
    setup = ["CREATE TABLE churn (id int PRIMARY KEY, v int)", "INSERT INTO churn SELECT g, g % 50 FROM "
             "generate_series(1, 5000) g", "CREATE INDEX churn_v ON churn (v)", "ANALYZE churn",
             "CREATE TABLE flaky (v int)", "INSERT INTO flaky VALUES (1)"]  # fmt: skip
    _run(pg, "bench", *setup, *_scans("churn", 5, index=True), *_scans("flaky", 2))
    _run(pg, "plain", "CREATE TABLE later (v int)", "INSERT INTO later VALUES (1)", *_scans("later", 6))
    raw = tomllib.loads(config_to_toml(CONFIG))
    raw["sources"]["postgres"]["databases"] = ["bench", "plain"]
    both = parse_config(tomli_w.dumps(raw), source="test")
    try:
        collect_postgres(warehouse, CONFIG, env=env_for(pg))  # bench only
        _run(pg, "bench", "DROP INDEX churn_v", "CREATE INDEX churn_v ON churn (v)", *_scans("churn", 5, index=True),
             "DROP TABLE flaky")  # fmt: skip
        collect_postgres(warehouse, both, env=env_for(pg))  # plain's lifetime counters are no interval's work
        con = warehouse.open_read_only()
        try:
            unused = set(unused_indexes(con).indexrelname)
            activity = table_activity(con).set_index(["datname", "relname"])
        finally:
            con.close()
        assert "churn_v" not in unused  # 5 scans since it was re-created: the counter read 5 again
        assert activity.loc[("plain", "later"), "intervals"] == 0
        assert pd.isna(activity.loc[("plain", "later"), "seq_scan"])

        before = pg.execute("SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'churn'", dbname="bench")[0][0]
        _run(pg, "bench", "SELECT pg_stat_reset()", *_scans("churn", before + 3), "CREATE TABLE flaky (v int)",
             *_scans("flaky", 4))  # fmt: skip
        _run(pg, "plain", *_scans("later", 2))
        collect_postgres(warehouse, both, env=env_for(pg))
        con = warehouse.open_read_only()
        try:
            last = pg_snapshot_times(con)[-2]
            since = table_activity(con, start=last).set_index(["datname", "relname"])
        finally:
            con.close()
        # pg_stat_reset() and then more scans than before: flagged, and now minus then, a lower bound (PostgreSQL
        # moves stats_reset for a reset of any single object too, which leaves the others' differences exact)
        assert since.loc[("bench", "churn"), "reset"]
        assert since.loc[("bench", "churn"), "seq_scan"] == 3
        assert since.loc[("bench", "flaky"), "seq_scan"] == 4  # back after a snapshot without it: new
        assert since.loc[("plain", "later"), "seq_scan"] == 2 and since.loc[("plain", "later"), "intervals"] == 1

        # one other table's counters reset alone (PostgreSQL moves the database's stats_reset for that too), and
        # the first index of a database whose objects were already read: both counted exactly
        _run(pg, "bench", "SELECT pg_stat_reset_single_table_counters('flaky'::regclass)", *_scans("churn", 7))
        _run(pg, "plain", "CREATE INDEX later_v ON later (v)", *_scans("later", 4, index=True))
        collect_postgres(warehouse, both, env=env_for(pg))
        con = warehouse.open_read_only()
        try:
            last = pg_snapshot_times(con)[-2]
            tables = table_activity(con, start=last).set_index(["datname", "relname"])
            sql, params = window_deltas_sql("pg_indexes", ("datname", "indexrelname"), ("idx_scan",), "postgresql",
                                            last, None)  # fmt: skip
            indexes = con.execute(sql, params).df().set_index(["datname", "indexrelname"])
        finally:
            con.close()
        assert tables.loc[("bench", "churn"), "seq_scan"] == 7
        assert indexes.loc[("plain", "later_v"), ["idx_scan", "intervals"]].tolist() == [4, 1]
    finally:
        _run(pg, "bench", "DROP TABLE IF EXISTS churn", "DROP TABLE IF EXISTS flaky")
        _run(pg, "plain", "DROP TABLE IF EXISTS later")


def test_a_renamed_table_and_index_keep_their_history(pg: PostgresServer, tmp_path: Path) -> None:
    """Followed by oid: the interval of a rename counts its scans, not the object's lifetime ones; and where the
    earlier snapshot was collected before oids were (a warehouse from before schema version 3), an object
    keeps its history by name."""
    from sre_lib.analysis.postgres.maintenance import table_activity
    from sre_lib.analysis.postgres.snapshots import window_deltas_sql

    warehouse = Warehouse(tmp_path / "w.duckdb")
    setup = ["CREATE TABLE orders (v int)", "INSERT INTO orders SELECT g % 10 FROM generate_series(1, 2000) g",
             "CREATE INDEX orders_v ON orders (v)", "ANALYZE orders", "CREATE TABLE steady (v int)"]  # fmt: skip
    _run(pg, "bench", *setup, *_scans("orders", 30), *_scans("orders", 20, index=True), *_scans("steady", 9))
    try:
        collect_postgres(warehouse, CONFIG, env=env_for(pg))
        _run(pg, "bench", "ALTER TABLE orders RENAME TO orders_v2", "ALTER INDEX orders_v RENAME TO orders_v2_v",
             *_scans("orders_v2", 1), *_scans("orders_v2", 2, index=True), *_scans("steady", 4))  # fmt: skip
        collect_postgres(warehouse, CONFIG, env=env_for(pg))

        def deltas() -> tuple[pd.DataFrame, pd.DataFrame]:
            con = warehouse.open_read_only()
            try:
                sql, params = window_deltas_sql("pg_indexes", ("datname", "indexrelname"), ("idx_scan",),
                                                "postgresql", None, None)  # fmt: skip
                return table_activity(con).set_index("relname"), con.execute(sql, params).df().set_index("indexrelname")
            finally:
                con.close()

        tables, indexes = deltas()
        assert tables.loc["orders_v2", ["seq_scan", "intervals", "reset"]].tolist() == [1, 1, False]
        assert indexes.loc["orders_v2_v", ["idx_scan", "intervals"]].tolist() == [2, 1]
        assert "orders" not in tables.index and tables.loc["steady", "seq_scan"] == 4

        con = duckdb.connect(str(warehouse.path))  # the first snapshot as an older sre_lib stored it: no oids
        first = con.execute("SELECT min(taken_at) FROM pg_tables").fetchone()[0]
        con.execute("UPDATE pg_tables SET relid = NULL WHERE taken_at = ?", [first])
        con.close()
        warehouse._bump_generation()
        tables, _ = deltas()
        assert tables.loc["steady", ["seq_scan", "intervals"]].tolist() == [4, 1]

        _run(pg, "bench", "DROP TABLE steady", "CREATE TABLE steady (v int)", *_scans("steady", 2))
        collect_postgres(warehouse, CONFIG, env=env_for(pg))
        tables, _ = deltas()  # two objects named steady in turn: summed, and flagged (the old one's last work is lost)
        assert tables.loc["steady", ["seq_scan", "intervals", "reset"]].tolist() == [6, 2, True]
    finally:
        _run(pg, "bench", "DROP TABLE IF EXISTS orders_v2", "DROP TABLE IF EXISTS steady")


def test_bigint_sequences_are_stored_exactly_and_an_exhausted_one_is_flagged(
    pg: PostgresServer, tmp_path: Path
) -> None:
    """Beyond 2**53 a float is off by hundreds; and a sequence never used has no last_value (NULL)."""
    warehouse = Warehouse(tmp_path / "w.duckdb")
    _run(pg, "bench", "CREATE SEQUENCE big_seq START 9223372036854775000", *["SELECT nextval('big_seq')"] * 5,
         "CREATE SEQUENCE full_seq START 9223372036854775807", "SELECT nextval('full_seq')",
         "CREATE SEQUENCE fresh_seq", "GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO monitor")  # fmt: skip
    try:
        collect_postgres(warehouse, CONFIG, env=env_for(pg))
        con = warehouse.open_read_only()
        try:
            stored = dict(con.execute("SELECT sequencename, last_value FROM pg_sequences").fetchall())
            flagged = sequences_near_limit(con).set_index("sequencename")
        finally:
            con.close()
    finally:
        _run(pg, "bench", "DROP SEQUENCE big_seq", "DROP SEQUENCE full_seq", "DROP SEQUENCE fresh_seq")
    assert stored["big_seq"] == 9223372036854775004 and stored["full_seq"] == 2**63 - 1
    assert stored["fresh_seq"] is None
    assert flagged.loc["full_seq", "used_ratio"] == pytest.approx(1.0)
    assert flagged.loc["fresh_seq", "status"] == "unknown"


def test_statements_whose_text_pg_stat_statements_lost_are_kept(tmp_path: Path) -> None:
    """pg_stat_statements keeps query texts in a file; when it cannot read them, the texts are NULL."""
    with postgres_server() as own:
        env = {"PGHOST": "127.0.0.1", "PGPORT": str(own.port), "PGUSER": "postgres", "PGDATABASE": "postgres"}
        collect_postgres(Warehouse(tmp_path / "first.duckdb"), CONFIG, env=env)  # the collector's own statements
        texts = own.datadir / "pg_stat_tmp" / "pgss_query_texts.stat"
        texts.write_bytes(b"")  # the file lost; no new statement writes to it again
        warehouse = Warehouse(tmp_path / "w.duckdb")
        summary = collect_postgres(warehouse, CONFIG, env=env)
    con = warehouse.open_read_only()
    try:
        lost = con.execute("SELECT count(*) FROM pg_stat_statements WHERE query IS NULL").fetchone()[0]
    finally:
        con.close()
    assert summary.rows_by_table["pg_stat_statements"] >= lost > 0


def test_a_locked_table_or_index_is_measured_from_pg_class_and_the_rest_exactly(
    pg: PostgresServer, tmp_path: Path
) -> None:
    """A migration's ALTER TABLE or a REINDEX holds an AccessExclusiveLock, which pg_table_size() would wait for
    until lock_timeout and fail the whole snapshot."""
    warehouse = Warehouse(tmp_path / "w.duckdb")
    _run(pg, "bench", "CREATE TABLE wide_log (body text)",
         "INSERT INTO wide_log SELECT string_agg(md5(g::text), '') FROM generate_series(1, 400) g")  # fmt: skip
    toast_index = pg.execute("SELECT i.indexrelid::regclass::text FROM pg_class c JOIN pg_index i ON i.indrelid = "
                             "c.reltoastrelid WHERE c.relname = 'wide_log'", dbname="bench")[0][0]  # fmt: skip
    with (
        psycopg.connect(pg.dsn(dbname="bench")) as migration,
        psycopg.connect(pg.dsn(dbname="bench")) as reindex,
        psycopg.connect(pg.dsn(dbname="bench")) as toast,
    ):
        migration.execute("LOCK TABLE pgbench_history, pgbench_tellers IN ACCESS EXCLUSIVE MODE")  # tellers: indexed
        reindex.execute("REINDEX INDEX pgbench_branches_pkey")  # the index exclusively, its table in SHARE mode
        toast.execute(f"REINDEX INDEX {toast_index}")  # an index of wide_log's TOAST table
        collect_postgres(warehouse, CONFIG, env=env_for(pg))
    _run(pg, "bench", "DROP TABLE wide_log")
    pages = dict(pg.execute("SELECT relname, relpages::bigint * 8192 FROM pg_class", dbname="bench"))
    exact = dict(pg.execute("SELECT relname, pg_total_relation_size(oid) FROM pg_class", dbname="bench"))
    con = warehouse.open_read_only()
    try:
        tables = con.execute("SELECT relname, size_estimated, total_bytes FROM pg_tables").df().set_index("relname")
        indexes = con.execute("SELECT indexrelname, size_estimated, index_bytes, indexdef FROM pg_indexes").df()
    finally:
        con.close()
    estimated = set(tables.index[tables.size_estimated])
    assert estimated == {"pgbench_history", "pgbench_tellers", "pgbench_branches", "wide_log"}
    assert tables.loc["pgbench_accounts", "total_bytes"] == exact["pgbench_accounts"]  # not locked: exact
    indexes = indexes.set_index("indexrelname")
    assert set(indexes.index[indexes.size_estimated]) == {"pgbench_branches_pkey", "pgbench_tellers_pkey"}
    assert indexes.loc["pgbench_branches_pkey", "index_bytes"] == pages["pgbench_branches_pkey"]
    assert indexes.indexdef.isna().tolist() == indexes.size_estimated.tolist()  # pg_get_indexdef waits too


def test_a_lock_that_outlasts_lock_timeout_is_named_and_nothing_is_written(pg: PostgresServer, tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with psycopg.connect(pg.dsn(dbname="bench")) as holder:
        holder.execute("LOCK TABLE pg_stat_statements IN ACCESS EXCLUSIVE MODE")  # a view: nothing to estimate
        with pytest.raises(CollectionError) as raised:
            collect_postgres(warehouse, CONFIG, env=env_for(pg))
    assert re.search(
        r"waited longer than lock_timeout=\d+ ms for a lock \(canceling statement due to lock timeout",
        str(raised.value),
    )
    assert warehouse.runs().status.tolist() == ["failed"]


def test_an_old_extension_in_its_own_schema_is_read_and_its_two_levels_merged(tmp_path: Path) -> None:
    """After pg_upgrade without ALTER EXTENSION UPDATE, PostgreSQL 15 runs pg_stat_statements 1.8: no
    pg_stat_statements_info, and with track = all a statement run both at top level and nested shows as two
    entries without the toplevel column. Here the extension also lives in a schema of its own."""
    statement = "SELECT count(*) FROM pg_class WHERE relname = 'no_such_relation'"
    with postgres_server() as own:
        own.execute("DROP EXTENSION pg_stat_statements")
        own.execute("CREATE SCHEMA monitoring")
        own.execute("CREATE EXTENSION pg_stat_statements VERSION '1.8' SCHEMA monitoring")
        own.execute("GRANT USAGE ON SCHEMA monitoring TO pg_monitor")
        own.execute(f"CREATE ROLE monitor LOGIN PASSWORD '{MONITOR_PASSWORD}' IN ROLE pg_monitor")
        own.reconfigure(**{"pg_stat_statements.track": "all"})
        for _ in range(3):
            own.execute(statement)
        nested = statement.replace("'", "''")
        for _ in range(5):
            own.execute(f"DO $$ BEGIN EXECUTE '{nested}'; END $$")
        own.execute("CREATE TABLE walt (v int)")
        insert = "INSERT INTO walt SELECT g FROM generate_series(1, 1000) g"
        for _ in range(3):
            own.execute(insert)
        for _ in range(2):
            own.execute(f"DO $$ BEGIN EXECUTE '{insert}'; END $$")
        warehouse = Warehouse(tmp_path / "w.duckdb")
        collect_postgres(warehouse, CONFIG, env=env_for(own, dbname="postgres"))
        wal = own.execute("SELECT sum(calls), sum(wal_bytes)::float8, count(*) FROM monitoring.pg_stat_statements "
                          "WHERE query LIKE 'INSERT INTO walt%'")[0]  # fmt: skip
    con = warehouse.open_read_only()
    try:
        facts = con.execute("SELECT pgss_version, pgss_dealloc FROM pg_snapshots").fetchall()
        rows = con.execute(
            "SELECT calls, min_exec_time_ms <= mean_exec_time_ms AND mean_exec_time_ms <= max_exec_time_ms, toplevel "
            "FROM pg_stat_statements WHERE query LIKE 'SELECT count(*) FROM pg_class WHERE relname = %'"
        ).fetchall()
        inserts = con.execute(
            "SELECT calls, wal_bytes, stats_since FROM pg_stat_statements WHERE query LIKE 'INSERT INTO walt%'"
        ).fetchall()
    finally:
        con.close()
    assert facts == [("1.8", None)]
    assert rows == [(8, True, None)]  # one statement: 3 top-level calls and 5 nested
    assert wal[0] == 5 and wal[2] == 2  # two entries in the view: top level and nested
    assert inserts == [(5, wal[1], None)]  # merged: calls and WAL bytes summed


def test_a_bigint_sequence_feeding_an_integer_column_is_flagged_at_the_column_limit(
    pg: PostgresServer, tmp_path: Path
) -> None:
    """Every serial made before PostgreSQL 10 (and carried over by pg_upgrade): the sequence is bigint, the column
    integer, and inserts fail with 'integer out of range' at 2**31 - 1."""
    warehouse = Warehouse(tmp_path / "w.duckdb")
    _run(pg, "bench", "CREATE TABLE legacy (id integer NOT NULL)",
         "CREATE SEQUENCE legacy_id_seq AS bigint OWNED BY legacy.id",
         "ALTER TABLE legacy ALTER COLUMN id SET DEFAULT nextval('legacy_id_seq')",
         "SELECT setval('legacy_id_seq', 2147483000)", "CREATE TABLE modern (id bigint GENERATED ALWAYS AS IDENTITY)",
         "SELECT setval(pg_get_serial_sequence('modern', 'id'), 2147483000)",
         "GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO monitor", "CREATE TABLE hidden (id integer)",
         "CREATE SEQUENCE hidden_id_seq AS bigint OWNED BY hidden.id")  # fmt: skip
    try:
        collect_postgres(warehouse, CONFIG, env=env_for(pg))
        con = warehouse.open_read_only()
        try:
            flagged = sequences_near_limit(con).set_index("sequencename")
        finally:
            con.close()
    finally:
        _run(pg, "bench", "DROP TABLE legacy", "DROP TABLE modern", "DROP TABLE hidden")
    # not granted: see first (widening the column rewrites the table)
    assert flagged.loc["hidden_id_seq", "action"] == (
        "GRANT SELECT ON SEQUENCE public.hidden_id_seq TO monitor to see how near its integer column public.hidden.id "
        "is to full"
    )
    legacy = flagged.loc["legacy_id_seq"]
    assert (legacy.data_type, legacy.owner_table, legacy.owner_column, legacy.column_type) == (
        "bigint", "public.legacy", "id", "integer",
    )  # fmt: skip
    assert legacy.limit_value == 2**31 - 1 and legacy.remaining_values == 647
    assert legacy.used_ratio == pytest.approx(2147483000 / (2**31 - 1))
    assert legacy.action.endswith("ALTER TABLE public.legacy ALTER COLUMN id TYPE bigint")
    assert "modern_id_seq" not in flagged.index  # bigint column, bigint sequence: far from its limit


def test_a_listed_database_that_was_dropped_is_skipped_and_named(
    pg: PostgresServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    raw = tomllib.loads(config_to_toml(CONFIG))
    raw["sources"]["postgres"]["databases"] = ["bench", "retired"]
    config = parse_config(tomli_w.dumps(raw), source="test")
    warehouse = Warehouse(tmp_path / "w.duckdb")
    summary = collect_postgres(warehouse, config, env=env_for(pg))
    assert summary.missing_databases == ("retired",)
    assert summary.rows_by_table["pg_tables"] > 0 and summary.rows_by_table["pg_stat_statements"] > 0
    assert "database retired listed in [sources.postgres] databases does not exist" in caplog.text
    assert warehouse.runs().status.tolist() == ["ok"]


def pg_snapshot_times(con: object) -> list:
    return [row[0] for row in con.execute("SELECT DISTINCT taken_at FROM pg_tables ORDER BY 1").fetchall()]
