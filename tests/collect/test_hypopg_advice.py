"""Index suggestions checked with HypoPG on a real PostgreSQL 15: the plan cost falls and the plan uses the
hypothetical index; without the extension, or for a statement that does not prepare, the row says why."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from support.servers import PostgresServer, postgres_server

from sre_lib.collect.hypopg_advice import HYPOPG_COLUMNS, check_suggestions
from sre_lib.collect.postgres_snapshot import PostgresTarget, postgres_target
from sre_lib.config import DEFAULT_CONFIG_PATH, load_config

PASSWORD = "Hypopg-Advice-Test-Pw-3"
HOT_QUERY = "SELECT o.id, o.total FROM orders o WHERE o.customer_id = $1 ORDER BY o.created_at DESC LIMIT $2"


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    """``app`` with HypoPG and a 50,000-row ``orders`` without an index on customer_id, ``bare`` without HypoPG;
    ``monitor`` (pg_monitor) and ``advisor`` (pg_monitor and pg_read_all_data, which planning a statement needs)."""
    with postgres_server() as pg:
        for database in ("app", "bare"):
            pg.execute(f"CREATE DATABASE {database}")
            pg.execute(
                "CREATE TABLE orders (id serial PRIMARY KEY, customer_id int, total numeric, created_at timestamptz);"
                "INSERT INTO orders (customer_id, total, created_at) SELECT g % 500, g, now() - g * interval '1 min'"
                " FROM generate_series(1, 50000) g; ANALYZE orders",
                dbname=database,
            )
        pg.execute("CREATE EXTENSION hypopg", dbname="app")
        pg.execute(f"CREATE ROLE monitor LOGIN PASSWORD '{PASSWORD}' IN ROLE pg_monitor")
        pg.execute(f"CREATE ROLE advisor LOGIN PASSWORD '{PASSWORD}' IN ROLE pg_monitor, pg_read_all_data")
        yield pg


def _suggestions(*rows: tuple[str, str]) -> pd.DataFrame:
    action = "CREATE INDEX CONCURRENTLY ON public.orders (customer_id, created_at)"
    return pd.DataFrame([{"datname": d, "relname": "orders", "action": action, "query": q} for d, q in rows])


def _target(server: PostgresServer, user: str) -> PostgresTarget:
    env = {"PGHOST": "127.0.0.1", "PGPORT": str(server.port), "PGUSER": user, "PGDATABASE": "app",
           "PGPASSWORD": PASSWORD}  # fmt: skip
    return postgres_target(load_config(DEFAULT_CONFIG_PATH), env)


def test_a_hypothetical_index_lowers_the_cost_and_is_used(server: PostgresServer) -> None:
    checked = check_suggestions(
        _target(server, "advisor"),
        _suggestions(
            ("app", HOT_QUERY),
            ("app", "SELECT total FROM orders WHERE missing_column = $1"),
            ("bare", HOT_QUERY),
        ),
    )
    assert list(checked.columns[-len(HYPOPG_COLUMNS) :]) == HYPOPG_COLUMNS
    hot, broken, bare = (checked.iloc[i] for i in range(3))
    assert hot["hypopg_note"] == "", hot["hypopg_note"]
    assert hot["uses_index"] and hot["cost_after"] < hot["cost_before"] / 10
    assert "missing_column" in broken["hypopg_note"] and pd.isna(broken["cost_before"])
    assert "CREATE EXTENSION hypopg" in bare["hypopg_note"] and not bare["uses_index"]
    assert PASSWORD not in " ".join(checked["hypopg_note"])
    # nothing was built: the hypothetical index lived only in the checking session
    assert server.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'orders'", dbname="app") == [(1,)]


def test_the_monitoring_role_alone_cannot_plan_and_is_told_so(server: PostgresServer) -> None:
    (note,) = check_suggestions(_target(server, "monitor"), _suggestions(("app", HOT_QUERY)))["hypopg_note"]
    assert note.startswith("not checked on postgresql (monitor@127.0.0.1:") and "permission denied" in note
