"""Replicas: a streaming standby to fail over to, its replay lag against the RPO, and replication slots.

A replica that was connected in the last REPLICA_GONE_LOOKBACK (7 d) and is connected no more fails, naming it
and the last snapshot that saw it; never having had one (in that time) warns: recovery relies on backups. Lag
above the wal_age warning threshold warns, above the RPO fails; inactive replication slots that hold WAL, or
lost the WAL their replica needs, warn.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sre_lib.analysis.dr.check_context import CheckContext
from sre_lib.analysis.dr.check_result import FAIL, NO_ACTION, PASS, WARN, DrCheck, bytes_text, hours_text, worst
from sre_lib.durations import human_duration

__all__ = ["REPLICA_GONE_LOOKBACK", "check_replicas", "vanished_replicas"]

#: A replica seen this recently and not connected now has vanished (fail); one seen only before (a standby
#: retired on purpose) no longer counts, and a platform with none reads "no replica" (warn).
REPLICA_GONE_LOOKBACK = timedelta(days=7)


def _label(row: dict[str, Any]) -> str:
    """A replica as pg_stat_replication names it: application_name (client address)."""
    name, address = row["application_name"], row["client_addr"]
    if name and address:
        return f"{name} ({address})"
    return name or address or "a replica"


def _gone_label(gone: dict[str, Any]) -> str:
    return _label(gone) + (f" (x{gone['count']})" if gone["count"] > 1 else "")


def _promotable(row: dict[str, Any]) -> bool:
    # A standby reports the WAL it has replayed. pg_receivewal and a base backup's WAL stream replay nothing (no
    # replay_lsn), and a logical subscriber (CDC, a logical replica) applies changes to a database of its own:
    # none of them can be promoted in the primary's place.
    return row["replay_lsn"] is not None and row["slot_type"] != "logical"


def vanished_replicas(ctx: CheckContext, latest: datetime, connected: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Standbys seen in the REPLICA_GONE_LOOKBACK before ``latest`` that are not among ``connected`` now.

    A standby is known by its application_name and client address; each one gone comes with the last snapshot
    that saw it (``last_seen_at``). Two standbys of one name and address count as two.
    """
    seen = ctx.rows(
        "SELECT taken_at, application_name, client_addr, replay_lsn, slot_type, state FROM pg_replication "
        "WHERE server = ? AND taken_at >= ? AND taken_at < ? ORDER BY taken_at",
        [ctx.server, latest - REPLICA_GONE_LOOKBACK, latest],
    )
    now = Counter((row["application_name"], row["client_addr"]) for row in connected if _promotable(row))
    by_snapshot: dict[datetime, Counter[tuple[Any, Any]]] = {}
    for row in seen:
        if _promotable(row):
            by_snapshot.setdefault(row["taken_at"], Counter())[(row["application_name"], row["client_addr"])] += 1
    gone: dict[tuple[Any, Any], dict[str, Any]] = {}
    for taken_at, counts in by_snapshot.items():  # in time order: the last snapshot that saw each one wins
        for key, count in counts.items():
            missing = count - now[key]
            if missing > 0:
                gone[key] = {"application_name": key[0], "client_addr": key[1], "last_seen_at": taken_at,
                             "count": missing}  # fmt: skip
    return sorted(gone.values(), key=lambda g: (g["last_seen_at"], str(g["application_name"])))


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
    promotable = [_promotable(row) for row in connected]
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
    gone = vanished_replicas(ctx, latest, connected)
    evidence |= {"replicas": replicas, "wal_receivers": receivers, "inactive_slots": inactive, "gone_replicas": gone}
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
    if gone:
        return _vanished(ctx, name, title, seen, replicas, gone, slot_note, evidence)
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


def _vanished(
    ctx: CheckContext,
    name: str,
    title: str,
    seen: str,
    replicas: list[dict[str, Any]],
    gone: list[dict[str, Any]],
    slot_note: str,
    evidence: dict[str, Any],
) -> DrCheck:
    """A standby that was connected is gone: the DR setup lost its failover target (or one of them)."""
    names = "; ".join(f"{_gone_label(g)}, last seen at {ctx.local(g['last_seen_at'])}" for g in gone)
    still = (
        f"; still connected: {', '.join(_label(r) for r in replicas)}"
        if replicas
        else "; no replica is connected now: failover is not available and recovery relies on backups"
    )
    first = gone[0]
    return DrCheck(
        name,
        title,
        FAIL,
        f"replica {_label(first)} gone since {ctx.local(first['last_seen_at'])}",
        f"{len(gone)} replica(s) that were streaming are no longer connected ({seen}): {names}" + still + slot_note,
        "Find why the replica disconnected: is its server running, and what do its log and the primary's say "
        "(authentication, network, a WAL segment the primary has removed)? Restart it, or re-seed it from a new "
        "base backup if it cannot catch up; if it was retired on purpose, it stops counting "
        f"{human_duration(REPLICA_GONE_LOOKBACK)} after it was last seen.",
        evidence,
    )
