"""Table and database growth (sre_lib.analysis.postgres.growth) on the real scenario and hand-built snapshots."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pg_checks_scenario import PHASES, T0, Scenario, empty_warehouse, insert

from sre_lib.analysis.postgres import growth


def test_growth_per_week_is_a_least_squares_slope(scenario: Scenario) -> None:
    con = scenario.con()
    try:
        tables = growth.table_growth(con).set_index("relname")
        databases = growth.database_growth(con).set_index("datname")
    finally:
        con.close()
    assert tables.loc["growing", "bytes_per_week"] > 0
    assert tables.loc["growing", "last_bytes"] > tables.loc["growing", "first_bytes"]
    assert tables.loc["growing", "snapshots"] == PHASES + 1
    assert tables.loc["clean", "bytes_per_week"] == 0
    assert databases.loc["app", "bytes_per_week"] > 0
    assert tables.index[0] == "growing"  # fastest growing first


def test_growth_slope_over_hand_built_sizes() -> None:
    con = empty_warehouse()
    insert(con, "pg_databases", [
        {"server": "db", "taken_at": T0 + timedelta(days=d), "datname": "d", "size_bytes": 10**9 + d * 2**20}
        for d in range(10)
    ])  # fmt: skip
    grown = growth.database_growth(con)
    assert grown["bytes_per_week"].iloc[0] == pytest.approx(7 * 2**20)
    assert grown["r2"].iloc[0] == pytest.approx(1.0)
    assert growth.database_growth(con, start=T0 + timedelta(days=9))["bytes_per_week"].isna().all()  # one snapshot
