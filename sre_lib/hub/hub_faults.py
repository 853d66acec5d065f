"""Faults to inject into a running hub (and their mends), each showing at the platform level within seconds.

``apply_fault(hub, name)`` works on a ``Hub`` started in this process, and on one started by another process
(``sre hub fault NAME``): then ``hub`` is a ``RunningHub`` read from the state folder, which stops a service by
its recorded process group.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import psycopg

from sre_lib.hub import hub_postgres as pg
from sre_lib.hub.hub_web import make_certificate
from sre_lib.hub.processes import PIDS_FILE, HubError

__all__ = ["FAULTS", "FaultTarget", "RunningHub", "apply_fault"]

SHORT_CERT_DAYS = 10
BROKEN_ARCHIVE_COMMAND = "/bin/false"  # fails every segment; `mend-archiving` resets the pgBackRest command


class FaultTarget(Protocol):
    state_dir: Path
    ports: dict[str, int]

    def superuser_conninfo(self, server: str = "pg-1", dbname: str = "postgres") -> str: ...

    @property
    def redis_url(self) -> str: ...

    def stop_service(self, name: str) -> None: ...


def _switch_wal(hub: FaultTarget) -> None:
    """Write a little WAL and switch segments, so the archiver tries a segment now."""
    with psycopg.connect(hub.superuser_conninfo(), autocommit=True) as con:
        con.execute("CREATE TABLE IF NOT EXISTS sre_hub_wal_marker (at timestamptz)")
        con.execute("INSERT INTO sre_hub_wal_marker VALUES (now())")
        con.execute("SELECT pg_switch_wal()")


def _set_archive_command(hub: FaultTarget, command: str | None) -> None:
    with psycopg.connect(hub.superuser_conninfo(), autocommit=True) as con:
        if command is None:
            con.execute("ALTER SYSTEM RESET archive_command")
        else:
            con.execute(psycopg.sql.SQL("ALTER SYSTEM SET archive_command = {}").format(psycopg.sql.Literal(command)))
        con.execute("SELECT pg_reload_conf()")
    time.sleep(0.2)  # the archiver reads the reloaded setting on its next wake-up
    _switch_wal(hub)


def break_archiving(hub: FaultTarget) -> str:
    _set_archive_command(hub, BROKEN_ARCHIVE_COMMAND)
    return f"archive_command set to {BROKEN_ARCHIVE_COMMAND} and WAL switched: archiving fails"


def mend_archiving(hub: FaultTarget) -> str:
    _set_archive_command(hub, None)
    return "archive_command back to pgbackrest archive-push and WAL switched: archiving succeeds"


def drop_index(hub: FaultTarget) -> str:
    from sre_lib.hub.community_schema import HOT_INDEX

    with psycopg.connect(hub.superuser_conninfo(dbname=pg.APP_DATABASE), autocommit=True) as con:
        con.execute(f"DROP INDEX IF EXISTS {HOT_INDEX}")
    return f"index {HOT_INDEX} dropped: the app's hottest read now scans"


def restore_index(hub: FaultTarget) -> str:
    from sre_lib.hub.community_schema import HOT_INDEX, HOT_INDEX_DDL

    with psycopg.connect(hub.superuser_conninfo(dbname=pg.APP_DATABASE), autocommit=True) as con:
        con.execute("SET ROLE hub_app")  # the app's tables are hub_app's, so its index is too
        con.execute(HOT_INDEX_DDL)
    return f"index {HOT_INDEX} recreated"


def redis_pressure(hub: FaultTarget, megabytes: int = 24) -> str:
    """Write ``megabytes`` of 64 KiB values (past the 8 MB maxmemory) so allkeys-lru evicts keys."""
    import redis

    client = redis.Redis.from_url(hub.redis_url, socket_timeout=10)
    try:
        before = int(client.info("stats")["evicted_keys"])
        value = secrets.token_bytes(64 * 1024)
        pipe = client.pipeline(transaction=False)
        for number in range(megabytes * 16):
            pipe.set(f"sre-hub:pressure:{number}", value)
            if number % 32 == 31:
                pipe.execute()
        pipe.execute()
        after = int(client.info("stats")["evicted_keys"])
    finally:
        client.close()
    return f"{megabytes} MB written to Redis: {after - before} keys evicted"


def stop_app(hub: FaultTarget) -> str:
    hub.stop_service("app-2")
    hub.stop_service("node-exporter app-2")
    return "app-2 and its node exporter stopped: the server is gone"


def stop_replica(hub: FaultTarget) -> str:
    hub.stop_service("postgresql pg-2")
    return "replica pg-2 stopped: it leaves pg_stat_replication"


def short_cert(hub: FaultTarget) -> str:
    make_certificate(hub.state_dir / "tls", SHORT_CERT_DAYS)
    pid = _recorded_pid(hub.state_dir, "nginx")
    os.kill(pid, signal.SIGHUP)  # nginx reloads its config and certificate
    return f"certificate reissued for {SHORT_CERT_DAYS} days and nginx reloaded"


FAULTS: dict[str, Callable[[FaultTarget], str]] = {
    "break-archiving": break_archiving,
    "mend-archiving": mend_archiving,
    "drop-index": drop_index,
    "restore-index": restore_index,
    "redis-pressure": redis_pressure,
    "stop-app": stop_app,
    "stop-replica": stop_replica,
    "short-cert": short_cert,
}


def apply_fault(hub: FaultTarget, name: str) -> str:
    """Apply the fault ``name``; ValueError naming the known faults if there is no such fault."""
    if name not in FAULTS:
        raise ValueError(f"fault {name!r}: expected one of {', '.join(FAULTS)}")
    try:
        return FAULTS[name](hub)
    except psycopg.Error as exc:
        raise HubError(f"fault {name}: PostgreSQL refused: {str(exc).strip().splitlines()[0]}") from None


def _recorded_pid(state_dir: Path, name: str) -> int:
    try:
        recorded = json.loads((state_dir / PIDS_FILE).read_text())
    except (OSError, ValueError):
        raise HubError(
            f"{state_dir}: no running hub (no readable {PIDS_FILE} file); start one with `sre hub up`"
        ) from None
    for row in recorded.get("children", []):
        if row["name"] == name:
            return int(row["pid"])
    raise HubError(f"{state_dir}: service {name!r} is not running in this hub")


@dataclass
class RunningHub:
    """A hub started by another process, seen through its state folder (ports, pids, secret files)."""

    state_dir: Path
    ports: dict[str, int]

    @classmethod
    def open(cls, state_dir: Path) -> RunningHub:
        try:
            state = json.loads((state_dir / "hub.json").read_text())
        except (OSError, ValueError):
            raise HubError(
                f"--dir {state_dir}: no hub state (hub.json); start one with `sre hub up --dir {state_dir}`"
            ) from None
        if not (state_dir / PIDS_FILE).is_file():
            raise HubError(f"--dir {state_dir}: the hub is not running (no {PIDS_FILE} file)")
        return cls(state_dir=state_dir, ports={k: int(v) for k, v in state["ports"].items()})

    def superuser_conninfo(self, server: str = "pg-1", dbname: str = "postgres") -> str:
        return pg.superuser_conninfo(self.ports[server], dbname)

    @property
    def redis_url(self) -> str:
        password = (self.state_dir / "secrets" / "redis.password").read_text().strip()
        return f"redis://:{password}@127.0.0.1:{self.ports['redis-1']}/0"

    def stop_service(self, name: str) -> None:
        pid = _recorded_pid(self.state_dir, name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                    break  # exited; the supervisor reaps it
            time.sleep(0.05)
