"""The slow-query tests' statement history and warehouse helpers, shared by the test modules of this folder:
a real PostgreSQL 15 whose statements regress, appear, spill and reset between snapshots collected by the real
collector; and hand-built pg_snapshots / pg_stat_statements rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import psycopg
from support.servers import PostgresServer

from sre_lib.collect.postgres_snapshot import collect_postgres
from sre_lib.config import DEFAULT_CONFIG_PATH, load_config
from sre_lib.warehouse.store import Warehouse, schema_sql

PASSWORD = "Analysis-Test-Pw-1"
CONFIG = load_config(DEFAULT_CONFIG_PATH)
REGRESS = "SELECT pg_sleep($1)"
STABLE = "SELECT pg_sleep($1), abs($2::int)"
NEW = "SELECT pg_sleep($1), length($2::text)"
XSS = "SELECT length($1::text) AS x /* <script>alert('pwned')</script> */"
ROWS = "SELECT generate_series($1::int, $2::int) AS many_rows"
CHATTY = "SELECT abs($1::int) AS chatty"
SPILL = "SELECT count(*) FROM (SELECT g FROM generate_series($1::int, $2::int) g ORDER BY g DESC) s"
READS = "SELECT count(*) FROM big_read"
BASELINE_SNAPSHOTS = WINDOW_SNAPSHOTS = 6


def _ps(text: str) -> str:
    """The statement with psycopg placeholders: the server sees $1, $2 again, as pg_stat_statements shows."""
    return text.replace("$1", "%s").replace("$2", "%s")


def env_for(pg: PostgresServer) -> dict[str, str]:
    """The collector's environment for ``pg``."""
    return {"PGHOST": "127.0.0.1", "PGPORT": str(pg.port), "PGUSER": "monitor", "PGDATABASE": "app",
            "PGPASSWORD": PASSWORD}  # fmt: skip


@dataclass(frozen=True)
class History:
    """A warehouse of snapshots: 0, six baseline intervals (1-6), six window intervals (7-12) in which
    REGRESS went from 1 ms to 60 ms and NEW (52 ms) appeared, then pg_stat_statements_reset() inside interval 13."""

    warehouse: Warehouse
    snaps: tuple[datetime, ...]
    ids: dict[str, int]

    def con(self) -> duckdb.DuckDBPyConnection:
        return self.warehouse.open_read_only()


def build_history(pg: PostgresServer, warehouse_path: Path) -> History:
    """Run the statements of each phase on ``pg``, collecting a snapshot after each, into a new warehouse."""
    warehouse = Warehouse(warehouse_path)
    snaps = [collect_postgres(warehouse, CONFIG, env=env_for(pg)).taken_at]
    with psycopg.connect(pg.dsn(dbname="app"), autocommit=True) as app:
        for phase in range(BASELINE_SNAPSHOTS + WINDOW_SNAPSHOTS):
            slow = phase >= BASELINE_SNAPSHOTS
            for _ in range(3):
                app.execute("SELECT pg_sleep(%s)", [0.06 if slow else 0.001])
                app.execute(_ps(STABLE), [0.01, 1])
            if slow:
                for _ in range(2):
                    app.execute(_ps(NEW), [0.052, "x"])
            if phase == BASELINE_SNAPSHOTS:
                app.execute(_ps(XSS), ["x"])
                app.execute(_ps(ROWS), [1, 5000])
                app.execute("SET work_mem = '64kB'")
                app.execute(_ps(SPILL), [1, 200_000])
                app.execute("RESET work_mem")
                app.execute(READS)
                for _ in range(60):
                    app.execute(_ps(CHATTY), [1])
            snaps.append(collect_postgres(warehouse, CONFIG, env=env_for(pg)).taken_at)
        app.execute("SELECT pg_stat_statements_reset()")
        for _ in range(2):
            app.execute("SELECT pg_sleep(%s)", [0.06])
            app.execute("SELECT pg_sleep(%s)", [0.06])
            snaps.append(collect_postgres(warehouse, CONFIG, env=env_for(pg)).taken_at)
    con = warehouse.open_read_only()
    try:
        texts = dict(con.execute("SELECT DISTINCT query, queryid FROM pg_stat_statements").fetchall())
    finally:
        con.close()
    ids = {name: texts[text] for name, text in
           {"regress": REGRESS, "stable": STABLE, "new": NEW, "xss": XSS, "rows": ROWS, "chatty": CHATTY,
            "spill": SPILL, "reads": READS}.items()}  # fmt: skip
    return History(warehouse=warehouse, snaps=tuple(snaps), ids=ids)


def _baseline_and_window(h: History) -> dict[str, datetime]:
    s = h.snaps
    return {"start": s[6], "end": s[12], "baseline_start": s[0], "baseline_end": s[6]}


def baseline_and_window(h: History) -> dict[str, datetime]:
    """The history's baseline (intervals 1-6) and window (7-12) as keyword arguments."""
    s = h.snaps
    return {"start": s[6], "end": s[12], "baseline_start": s[0], "baseline_end": s[6]}


def empty_warehouse() -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse with the schema and no rows, in UTC."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(schema_sql())
    return con


T0 = datetime(2026, 1, 1, tzinfo=UTC)


def insert_snapshots(
    con: duckdb.DuckDBPyConnection, dealloc: list[int], server: str = "db", reset_at: int | None = None
) -> None:
    """One pg_snapshots row per ``dealloc`` value, 15 minutes apart; stats_reset moves from ``reset_at`` on."""
    for i, evicted in enumerate(dealloc):
        stats_reset = T0 - timedelta(days=1) if reset_at is None or i < reset_at else T0 + timedelta(minutes=i)
        con.execute("INSERT INTO pg_snapshots VALUES (?, ?, 150000, '1.10', 100, ?, ?)",
                    [server, T0 + timedelta(minutes=15 * i), evicted, stats_reset])  # fmt: skip


def insert_statement(
    con: duckdb.DuckDBPyConnection, i: int, calls: int, total_ms: float, queryid: int = 7, toplevel: bool | None = True
) -> None:
    """Statement ``queryid`` at snapshot ``i``: cumulative ``calls`` and ``total_ms``."""
    con.execute(
        "INSERT INTO pg_stat_statements (server, taken_at, userid, dbid, queryid, toplevel, username, datname, query,"
        " calls, total_exec_time_ms, rows) VALUES ('db', ?, 10, 5, ?, ?, 'app', 'appdb', ?, ?, ?, ?)",
        [T0 + timedelta(minutes=15 * i), queryid, toplevel, f"SELECT {queryid}", calls, total_ms, calls],
    )
