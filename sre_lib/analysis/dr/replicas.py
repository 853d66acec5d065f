"""Replicas: a streaming standby to fail over to, its replay lag against the RPO, and replication slots.

None warns (recovery relies on backups), lag above the wal_age warning threshold warns, above the RPO fails;
inactive replication slots that hold WAL, or lost the WAL their replica needs, warn.
"""

from __future__ import annotations

from typing import Any

from sre_lib.analysis.dr.check_context import CheckContext
from sre_lib.analysis.dr.check_result import FAIL, NO_ACTION, PASS, WARN, DrCheck, bytes_text, hours_text, worst
from sre_lib.durations import human_duration

__all__ = ["check_replicas"]


def check_replicas(ctx: CheckContext) -> DrCheck:
    """Replica presence, state and replay lag against the RPO; inactive replication slots."""
    name, title = "replicas", "Replica and lag"
    latest = ctx.rows(
        """
        SELECT max(t) AS taken_at FROM (
            SELECT max(taken_at) AS t FROM pg_snapshots WHERE server = $1 AND taken_at <= $2
            UNION ALL SELECT max(taken_at) FROM pg_archiver WHERE server = $1 AND taken_at <= $2
            UNION ALL SELECT max(taken_at) FROM pg_replication WHERE server = $1 AND taken_at <= $2
        )
        """,
        [ctx.server, ctx.as_of],
    )[0]["taken_at"]
    warn_lag, fail_lag = ctx.wal_warn_age, ctx.rpo
    evidence: dict[str, Any] = {
        "taken_at": latest,
        "warn_above_seconds": warn_lag.total_seconds(),
        "fail_above_seconds": fail_lag.total_seconds(),
    }
    if latest is None:
        return DrCheck(
            name,
            title,
            WARN,
            "replica status unknown",
            f"no PostgreSQL snapshot of {ctx.server} at or before {ctx.local(ctx.as_of)}: replica status unknown",
            "Collect a PostgreSQL snapshot (sre collect postgres).",
            evidence,
        )
    connected = ctx.rows(
        "SELECT application_name, client_addr, state, sync_state, replay_lsn, replay_lag_bytes, replay_lag_seconds, "
        "slot_type FROM pg_replication WHERE server = ? AND taken_at = ? ORDER BY application_name, client_addr",
        [ctx.server, latest],
    )
    # A standby reports the WAL it has replayed. pg_receivewal and a base backup's WAL stream replay nothing (no
    # replay_lsn), and a logical subscriber (CDC, a logical replica) applies changes to a database of its own:
    # none of them can be promoted in the primary's place.
    promotable = [row["replay_lsn"] is not None and row["slot_type"] != "logical" for row in connected]
    replicas = [row for row, standby in zip(connected, promotable, strict=True) if standby]
    receivers = [row for row, standby in zip(connected, promotable, strict=True) if not standby]
    slots = ctx.rows(
        "SELECT slot_name, slot_type, active, retained_bytes, wal_status FROM pg_replication_slots "
        "WHERE server = ? AND taken_at = ? ORDER BY slot_name",
        [ctx.server, latest],
    )
    # A slot that has reserved no WAL yet (retained 0) holds nothing back; an unknown amount may; a lost one
    # holds nothing either, but the replica using it can no longer catch up.
    inactive = [
        s for s in slots
        if not s["active"] and (s["retained_bytes"] is None or s["retained_bytes"] > 0 or s["wal_status"] == "lost")
    ]  # fmt: skip
    lost = [s for s in inactive if s["wal_status"] == "lost"]
    holding = [s for s in inactive if s["wal_status"] != "lost"]
    evidence |= {"replicas": replicas, "wal_receivers": receivers, "inactive_slots": inactive}
    seen = f"pg_stat_replication at {ctx.local(latest)}"
    slot_note = ""
    if holding:
        slot_note += "; inactive replication slot(s) holding WAL on the primary: " + ", ".join(
            f"{s['slot_name']} ({bytes_text(s['retained_bytes'])})" for s in holding
        )
    if lost:
        slot_note += "; replication slot(s) that lost the WAL their replica needs (it must be re-seeded): " + ", ".join(
            s["slot_name"] for s in lost
        )
    if not replicas:
        streamed = ""
        if receivers:
            names = ", ".join(row["application_name"] or row["client_addr"] or "a client" for row in receivers)
            streamed = (
                f"; WAL is streamed to {names}, which cannot be promoted (a WAL archive or a logical subscriber, "
                "not a standby)"
            )
        return DrCheck(
            name,
            title,
            WARN,
            "no replica for failover",
            f"no replica is connected ({seen}): failover to read replica is not available; recovery relies on "
            "backups" + streamed + slot_note,
            "Accept restore-from-backup as the recovery path (and keep the restore tests inside the RTO), or add "
            "a streaming replica that can be promoted."
            + (" Drop replication slots no replica uses." if inactive else ""),
            evidence,
        )
    statuses, parts = [], []
    for replica in replicas:
        label = replica["application_name"] or replica["client_addr"] or "replica"
        lag = replica["replay_lag_seconds"]
        lag_bytes = replica["replay_lag_bytes"]
        if lag is None or lag != lag:  # NULL when idle and caught up
            lag_text = "no replay lag reported (idle)"
            lag_status = PASS
        else:
            lag_text = f"replay lag {human_duration(lag)}"
            lag_status = FAIL if lag > fail_lag.total_seconds() else WARN if lag > warn_lag.total_seconds() else PASS
        if lag_bytes is not None:
            lag_text += f", {bytes_text(lag_bytes)} behind"
        state_status = PASS if replica["state"] == "streaming" else WARN
        statuses.append(worst([lag_status, state_status]))
        parts.append(f"{label}: {replica['state']} ({replica['sync_state']}), {lag_text}")
    status = worst([*statuses, WARN if inactive else PASS])
    finding = (
        f"{len(replicas)} replica(s) ({seen}): "
        + "; ".join(parts)
        + f" (warn above {human_duration(warn_lag)}, fail above the {hours_text(ctx.config.recovery.rpo_hours)} RPO)"
        + slot_note
    )
    if status == PASS:
        action, headline = NO_ACTION, "replica streaming within the RPO"
    else:
        action = (
            "Find why the replica lags or is not streaming (network, replica I/O, long queries with "
            "hot_standby_feedback, a conflicting recovery); a failover now would lose the lag."
        )
        if holding:
            action += " Drop or reconnect inactive replication slots before they fill the primary's disk."
        if lost:
            action += " Re-seed the replica of a lost slot from a new base backup, or drop the slot."
        headline = "replica lagging or not streaming" if any(s != PASS for s in statuses) else "inactive slot"
    return DrCheck(name, title, status, headline, finding, action, evidence)
