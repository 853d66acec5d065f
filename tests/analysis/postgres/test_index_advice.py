"""Index suggestions from PostgreSQL's own parser: parsed needs, the demo's seq-scanned comments, an index
already there, and a real PostgreSQL 15 where an index dropped under a hot statement is suggested back."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import psycopg
import pytest
from support.servers import PostgresServer, postgres_server

from sre_lib.analysis.postgres.index_advice import (
    IndexNeed,
    index_columns,
    index_suggestions,
    statement_index_needs,
)
from sre_lib.collect.postgres_snapshot import collect_postgres
from sre_lib.config import DEFAULT_CONFIG_PATH, load_config
from sre_lib.demo.postgres_scenario import SEQ_SCAN_QUERY
from sre_lib.errors import DataError
from sre_lib.warehouse.store import Warehouse

PASSWORD = "Index-Advice-Test-Pw-7"
HOT_QUERY = "SELECT o.id, o.total FROM orders o WHERE o.customer_id = %s ORDER BY o.created_at DESC LIMIT 5"
COVERED_QUERY = "SELECT total FROM orders WHERE id = %s"


def _by_table(query: str) -> dict[str, IndexNeed]:
    return {need.table: need for need in statement_index_needs(query)}


def test_aliases_joins_and_order_by_resolve_to_their_tables() -> None:
    needs = _by_table(
        "SELECT c.id FROM comments c JOIN posts AS p ON p.id = c.post_id "
        "WHERE p.community_id = $1 AND c.created_at >= $2 AND $3 > c.score ORDER BY c.created_at DESC LIMIT 10"
    )
    assert needs["posts"].equality == ["community_id"] and needs["posts"].join == ["id"]
    assert needs["comments"].range == ["created_at", "score"] and needs["comments"].join == ["post_id"]
    assert needs["comments"].sort == ["created_at"]
    assert index_columns(needs["posts"]) == ("community_id",)
    assert index_columns(needs["comments"]) == ("created_at",)  # range before join key: the filter leads


def test_equality_leads_then_sort_and_in_lists_count_as_equality() -> None:
    (need,) = statement_index_needs(
        "SELECT id FROM jobs WHERE run_at <= now() AND status IN ('new', 'retry') AND kind = $1 ORDER BY run_at"
    )
    assert need.equality == ["status", "kind"] and need.range == ["run_at"]
    assert index_columns(need) == ("status", "kind", "run_at")


def test_subqueries_ctes_updates_and_deletes_are_read_in_their_own_scope() -> None:
    needs = statement_index_needs(
        "WITH recent AS (SELECT user_id FROM logins WHERE at > $1) "
        "UPDATE accounts a SET seen = true FROM recent r WHERE a.id = r.user_id "
        "AND a.region IN (SELECT code FROM regions WHERE zone = $2)"
    )
    by_table = {need.table: need for need in needs}
    assert "recent" not in by_table  # a CTE is no table to index
    assert by_table["logins"].range == ["at"]
    assert by_table["regions"].equality == ["zone"]
    assert by_table["accounts"].equality == ["id"]  # against a CTE's column: a value per row, as a parameter is
    assert statement_index_needs("DELETE FROM sessions WHERE expires_at < $1")[0].range == ["expires_at"]


def test_no_filter_no_suggestion_and_unqualified_columns_of_a_join_are_not_guessed() -> None:
    (need,) = statement_index_needs("SELECT * FROM events ORDER BY created_at LIMIT 5")
    assert need.sort == ["created_at"] and index_columns(need) == ()
    needs = statement_index_needs("SELECT * FROM a JOIN b ON a.id = b.a_id WHERE flag = $1")
    assert all(not need.equality for need in needs)


def test_a_statement_that_does_not_parse_is_named_in_the_error() -> None:
    with pytest.raises(DataError, match=r"does not parse.*SELECT id FROM t WHERE"):
        statement_index_needs("SELECT id FROM t WHERE x = $1 AND y IN ($2, $3")  # truncated by the server


def test_demo_suggests_author_id_on_comments_tied_to_its_sequential_scans(demo_warehouse: Path) -> None:
    con = duckdb.connect(str(demo_warehouse), read_only=True)
    found = index_suggestions(con)
    on_comments = found[(found["relname"] == "comments") & found["columns"].str.startswith("author_id")]
    assert len(on_comments) == 1
    row = on_comments.iloc[0]
    assert row["action"] == "CREATE INDEX CONCURRENTLY ON public.comments (author_id, created_at)"
    assert row["seq_scans_dominate"] and row["query"] == SEQ_SCAN_QUERY
    assert row["mean_exec_time_ms"] > 100 and row["share_total_time"] > 0.1
    # the demo's comments-by-post statement is served by idx_comments_post_created (post_id, created_at)
    assert not found["columns"].str.startswith("post_id").any()
    assert found["total_exec_time_ms"].is_monotonic_decreasing


@dataclass(frozen=True)
class DroppedIndex:
    warehouse: Warehouse
    before: datetime
    with_index: datetime
    after_drop: datetime


def _run(server: PostgresServer, sql: str, repeat: int = 0, query: str | None = None) -> None:
    with psycopg.connect(server.dsn(dbname="app"), autocommit=True) as con:
        if sql:
            con.execute(sql)
        for i in range(repeat):
            con.execute(query, (i % 500,), prepare=False).fetchall()  # type: ignore[arg-type]
        con.execute("SELECT pg_stat_force_next_flush()")


@pytest.fixture(scope="module")
def dropped_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DroppedIndex]:
    """A real PostgreSQL 15: a 60,000-row ``orders`` read by customer, collected with its index, then again
    after the index was dropped under the same hot statement."""
    config = load_config(DEFAULT_CONFIG_PATH)
    with postgres_server() as server:
        server.execute("CREATE DATABASE app")
        server.execute("CREATE EXTENSION pg_stat_statements", dbname="app")
        server.execute(f"CREATE ROLE monitor LOGIN PASSWORD '{PASSWORD}' IN ROLE pg_monitor")
        env = {"PGHOST": "127.0.0.1", "PGPORT": str(server.port), "PGUSER": "monitor", "PGDATABASE": "app",
               "PGPASSWORD": PASSWORD}  # fmt: skip
        _run(
            server,
            "CREATE TABLE orders (id serial PRIMARY KEY, customer_id int, total numeric, created_at timestamptz);"
            "INSERT INTO orders (customer_id, total, created_at) SELECT g % 500, g, now() - g * interval '1 min' "
            "FROM generate_series(1, 60000) g;"
            "CREATE INDEX idx_orders_customer ON orders (customer_id); ANALYZE orders",
        )
        warehouse = Warehouse(tmp_path_factory.mktemp("advice") / "w.duckdb")
        before = collect_postgres(warehouse, config, env=env).taken_at
        _run(server, "", repeat=40, query=HOT_QUERY)
        _run(server, "", repeat=20, query=COVERED_QUERY)
        with_index = collect_postgres(warehouse, config, env=env).taken_at
        _run(server, "DROP INDEX idx_orders_customer", repeat=40, query=HOT_QUERY)
        after_drop = collect_postgres(warehouse, config, env=env).taken_at
        yield DroppedIndex(warehouse, before, with_index, after_drop)


def test_no_suggestion_while_the_index_serves_the_hot_statement(dropped_index: DroppedIndex) -> None:
    con = duckdb.connect(str(dropped_index.warehouse.path), read_only=True)
    found = index_suggestions(con, start=dropped_index.before, end=dropped_index.with_index, slow_mean_ms=0.0)
    assert found.empty, found[["relname", "columns"]]


def test_an_index_dropped_under_a_hot_statement_is_suggested_back(dropped_index: DroppedIndex) -> None:
    con = duckdb.connect(str(dropped_index.warehouse.path), read_only=True)
    found = index_suggestions(con, start=dropped_index.with_index, end=dropped_index.after_drop)
    assert list(found["relname"]) == ["orders"]
    row = found.iloc[0]
    assert row["columns"] == "customer_id, created_at" and row["seq_scans_dominate"]
    assert row["action"] == "CREATE INDEX CONCURRENTLY ON public.orders (customer_id, created_at)"
    assert row["calls"] == 40 and row["statements"] == 1 and row["total_exec_time_ms"] > 0
    assert "customer_id = $1" in row["query"]
