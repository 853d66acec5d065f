"""Sequences near their limit (sre_lib.analysis.postgres.sequences) on the real scenario and hand-built snapshots."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from pg_checks_scenario import T0, Scenario, empty_warehouse, insert

from sre_lib.analysis.postgres import sequences


def test_sequences_near_their_limit_and_unreadable_ones(scenario: Scenario) -> None:
    con = scenario.con()
    try:
        found = sequences.sequences_near_limit(con).set_index("sequencename")
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


def test_sequences_honour_the_increment_sign_and_the_type() -> None:
    con = empty_warehouse()
    base = {"server": "db", "taken_at": T0, "datname": "d", "schemaname": "public"}
    insert(con, "pg_sequences", [
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
    found = sequences.sequences_near_limit(con, monitor_role="sre_monitor").set_index("sequencename")
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


def test_sequences_of_a_schema_1_snapshot_without_min_value_fall_back_to_the_type() -> None:
    con = empty_warehouse()
    con.execute("ALTER TABLE pg_sequences DROP COLUMN min_value")
    insert(con, "pg_sequences", [
        {"server": "db", "taken_at": T0, "datname": "d", "schemaname": "public", "sequencename": "down",
         "data_type": "integer", "last_value": -2_000_000_000, "max_value": -1, "increment_by": -1},
    ])  # fmt: skip
    found = sequences.sequences_near_limit(con).set_index("sequencename")
    assert found.loc["down", "used_ratio"] == pytest.approx(2_000_000_000 / 2**31)
    assert "AS bigint" in found.loc["down", "action"]


def test_a_sequence_near_its_limit_says_how_long_it_lasts_at_its_pace() -> None:
    con = empty_warehouse()
    base = {"server": "db", "datname": "d", "schemaname": "public", "data_type": "integer", "max_value": 2200,
            "increment_by": 1, "min_value": 1}  # fmt: skip
    insert(con, "pg_sequences", [
        {**base, "taken_at": T0 - timedelta(days=40), "sequencename": "ids", "last_value": 100},  # before the pace
        {**base, "taken_at": T0 - timedelta(days=10), "sequencename": "ids", "last_value": 1000},
        {**base, "taken_at": T0, "sequencename": "ids", "last_value": 2000},
        {**base, "taken_at": T0, "sequencename": "still", "last_value": 2100},  # no earlier snapshot: no pace
    ])  # fmt: skip
    found = sequences.sequences_near_limit(con).set_index("sequencename")
    assert found.loc["ids", "values_per_day"] == pytest.approx(100.0)  # 1,000 values in 10 days
    assert found.loc["ids", "days_left"] == pytest.approx(2.0)  # 200 left
    assert pd.isna(found.loc["still", "days_left"])
