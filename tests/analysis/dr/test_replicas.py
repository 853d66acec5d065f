"""Replicas: a standby to fail over to, its lag against the RPO, and replication slots."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from support.dr_platform import (
    SERVER,
    SYDNEY,
    T0,
    check,
    frame,
    replica,
)

from sre_lib.analysis.dr.replicas import REPLICA_GONE_LOOKBACK
from sre_lib.durations import human_duration


def test_no_replica_warns_that_recovery_relies_on_backups(tmp_path: Path) -> None:
    result = check(tmp_path, "replicas", pg_replication=None)
    assert result.status == "warn"
    assert "failover to read replica is not available; recovery relies on backups" in result.finding
    assert result.headline == "no replica for failover"


@pytest.mark.parametrize(
    ("lag", "state", "status"),
    [
        (2.0, "streaming", "pass"),
        (None, "streaming", "pass"),  # idle and caught up: PostgreSQL reports no lag
        (20 * 60.0, "streaming", "warn"),
        (2 * 3600.0, "streaming", "fail"),
        (1.0, "catchup", "warn"),
    ],
)
def test_replica_lag_against_the_rpo(tmp_path: Path, lag: float | None, state: str, status: str) -> None:
    result = check(tmp_path, "replicas", pg_replication=replica(lag, state))
    assert result.status == status
    assert f"standby-1: {state} (async)" in result.finding
    if lag:
        assert f"replay lag {human_duration(lag)}, 4.0 kB behind" in result.finding


def test_an_inactive_replication_slot_warns(tmp_path: Path) -> None:
    slots = frame([{"server": SERVER, "taken_at": T0, "slot_name": "old_standby", "slot_type": "physical",
                    "active": False, "retained_bytes": 3 * 1024**3}])  # fmt: skip
    result = check(tmp_path, "replicas", pg_replication_slots=slots)
    assert result.status == "warn"
    assert "old_standby (3.0 GB)" in result.finding


def test_a_wal_receiver_is_not_a_replica_to_fail_over_to(tmp_path: Path) -> None:
    receiver = replica(10.0).assign(application_name="pg_receivewal", client_addr="10.0.0.9", replay_lsn=None)
    result = check(tmp_path, "replicas", pg_replication=receiver)
    assert result.status == "warn" and result.headline == "no replica for failover"
    assert "WAL is streamed to pg_receivewal, which cannot be promoted" in result.finding
    both = check(tmp_path / "both", "replicas", pg_replication=pd.concat([replica(), receiver], ignore_index=True))
    assert both.status == "pass" and "1 replica(s)" in both.finding and "standby-1" in both.finding


def test_a_logical_subscriber_is_not_a_standby(tmp_path: Path) -> None:
    subscriber = replica().assign(application_name="analytics_sub", slot_type="logical")
    result = check(tmp_path, "replicas", pg_replication=subscriber)
    assert result.status == "warn" and result.headline == "no replica for failover"
    assert "WAL is streamed to analytics_sub, which cannot be promoted" in result.finding
    standby = check(tmp_path / "s", "replicas", pg_replication=replica().assign(slot_type="physical"))
    assert standby.status == "pass"


def test_a_lost_slot_says_its_replica_must_be_re_seeded(tmp_path: Path) -> None:
    slots = frame([{"server": SERVER, "taken_at": T0, "slot_name": "standby_2", "slot_type": "physical",
                    "active": False, "retained_bytes": 0, "wal_status": "lost"}])  # fmt: skip
    result = check(tmp_path, "replicas", pg_replication_slots=slots)
    assert result.status == "warn"
    assert "replication slot(s) that lost the WAL their replica needs (it must be re-seeded): standby_2" in (
        result.finding
    )
    assert "holding WAL" not in result.finding and "Re-seed the replica of a lost slot" in result.action


def test_a_slot_that_reserves_no_wal_holds_nothing_back(tmp_path: Path) -> None:
    slots = frame([{"server": SERVER, "taken_at": T0, "slot_name": "unused", "slot_type": "physical",
                    "active": False, "retained_bytes": 0}])  # fmt: skip
    result = check(tmp_path, "replicas", pg_replication_slots=slots)
    assert result.status == "pass" and "unused" not in result.finding


def test_a_replica_that_was_connected_and_is_gone_fails_naming_it_and_when(tmp_path: Path) -> None:
    seen = pd.concat([replica(taken_at=T0 - timedelta(hours=h)) for h in (3, 2, 1)], ignore_index=True)
    result = check(tmp_path, "replicas", pg_replication=seen)  # the snapshot at T0 sees no replica
    assert result.status == "fail"
    last_seen = (T0 - timedelta(hours=1)).astimezone(SYDNEY).strftime("%Y-%m-%d %H:%M %Z")
    assert f"standby-1 (10.0.0.7), last seen at {last_seen}" in result.finding
    assert result.headline == f"replica standby-1 (10.0.0.7) gone since {last_seen}"
    assert "recovery relies on backups" in result.finding and "Restart it" in result.action
    assert [g["last_seen_at"] for g in result.evidence["gone_replicas"]] == [T0 - timedelta(hours=1)]


def test_one_of_two_replicas_gone_fails_and_names_the_one_still_connected(tmp_path: Path) -> None:
    before = pd.concat([replica(taken_at=T0 - timedelta(hours=1)), replica(taken_at=T0 - timedelta(hours=1),
                       name="standby-2")], ignore_index=True)  # fmt: skip
    result = check(tmp_path, "replicas", pg_replication=pd.concat([before, replica()], ignore_index=True))
    assert result.status == "fail"
    assert "standby-2 (10.0.0.7), last seen at" in result.finding
    assert "still connected: standby-1 (10.0.0.7)" in result.finding


def test_a_replica_reconnected_or_retired_long_ago_is_not_gone(tmp_path: Path) -> None:
    back = pd.concat([replica(taken_at=T0 - timedelta(hours=1)), replica()], ignore_index=True)
    assert check(tmp_path / "back", "replicas", pg_replication=back).status == "pass"
    retired = replica(taken_at=T0 - REPLICA_GONE_LOOKBACK - timedelta(minutes=1))
    result = check(tmp_path / "retired", "replicas", pg_replication=retired)
    assert result.status == "warn" and result.headline == "no replica for failover"
    # a WAL receiver that left was never a failover target
    receiver = replica(taken_at=T0 - timedelta(hours=1)).assign(replay_lsn=None)
    assert check(tmp_path / "receiver", "replicas", pg_replication=receiver).status == "warn"
