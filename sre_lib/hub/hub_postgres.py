"""The hub's PostgreSQL 15: a primary with pg_stat_statements and WAL archived by pgBackRest, a streaming
replica, a full backup at start-up with its off-site copy (a second pgBackRest repository, another folder of the
state directory standing in for another region: the seed's weekly off-site copy), and a timed restore test; the
copy and the test are logged in the CSV format `sre backups load --log` reads.

Everything runs as the `postgres` account when we are root. The superuser trusts loopback and the socket;
the app's role `hub_app` and the monitoring role `sre_monitor` log in with passwords generated here.
"""

from __future__ import annotations

import csv
import os
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

from sre_lib.hub.processes import HubError, Supervisor, postgres_user

__all__ = [
    "PG_BIN",
    "STANZA",
    "PostgresLayout",
    "archive_command",
    "create_roles",
    "full_backup",
    "init_primary",
    "make_replica",
    "offsite_copy",
    "restore_test",
    "run_as_postgres",
    "start_postgres",
    "superuser_conninfo",
    "write_pgbackrest_conf",
]

PG_BIN = Path(os.environ.get("SRE_HUB_PG_BIN", "/usr/lib/postgresql/15/bin"))
STANZA = "hub"
APP_DATABASE = "community_hub"
RESTORE_LOG_HEADER = ("kind", "server", "backup_id", "started_at", "finished_at", "status", "destination", "notes")


@dataclass(frozen=True)
class PostgresLayout:
    """Where the hub keeps PostgreSQL's and pgBackRest's files, all under ``root`` (readable by postgres)."""

    root: Path

    @property
    def primary(self) -> Path:
        return self.root / "pg-1"

    @property
    def replica(self) -> Path:
        return self.root / "pg-2"

    @property
    def sockets(self) -> Path:
        return self.root / "sockets"

    @property
    def pgbackrest_conf(self) -> Path:
        return self.root / "pgbackrest" / "pgbackrest.conf"

    @property
    def restore_log(self) -> Path:
        """The CSV log of restore tests and off-site copies."""
        return self.root / "restore-tests.csv"

    @property
    def offsite_repo(self) -> Path:
        """pgBackRest's repo2: the off-site copy's destination (another region, on a real platform)."""
        return self.pgbackrest_conf.parent / "repo2-offsite"


def _chown_postgres(*paths: Path) -> None:
    account = postgres_user()
    if account:
        for path in paths:
            os.chown(path, account.pw_uid, account.pw_gid)


def run_as_postgres(argv: list[str], what: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL or pgBackRest command as the postgres account; HubError with its last output lines."""
    account = postgres_user()
    prefix = ["runuser", "-u", account.pw_name, "--"] if account else []
    result = subprocess.run(
        [*prefix, *argv], capture_output=True, text=True, timeout=timeout, cwd="/", stdin=subprocess.DEVNULL
    )
    if result.returncode != 0:
        tail = " | ".join((result.stderr or result.stdout).strip().splitlines()[-4:])
        raise HubError(f"{what} failed (exit {result.returncode}): {tail}")
    return result


def superuser_conninfo(port: int, dbname: str = "postgres") -> str:
    """The postgres superuser over loopback (trusted by the hub's pg_hba; no password)."""
    return f"host=127.0.0.1 port={port} user=postgres dbname={dbname} connect_timeout=5"


def archive_command(layout: PostgresLayout) -> str:
    """The archive_command that pushes each WAL segment to the hub's pgBackRest repository."""
    return f"pgbackrest --config={layout.pgbackrest_conf} --stanza={STANZA} archive-push %p"


def init_primary(layout: PostgresLayout, port: int) -> None:
    """initdb, then the settings the hub needs: pg_stat_statements, track_io_timing, archiving by pgBackRest."""
    for folder in (layout.root, layout.sockets):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)
        _chown_postgres(folder)
    run_as_postgres(
        [str(PG_BIN / "initdb"), "-D", str(layout.primary), "-U", "postgres", "--auth=trust", "--no-sync",
         "-E", "UTF8", "--locale=C"],
        "initdb",
    )  # fmt: skip
    (layout.primary / "pg_hba.conf").write_text(
        "local all postgres trust\n"
        "host all postgres 127.0.0.1/32 trust\n"
        "host replication postgres 127.0.0.1/32 trust\n"
        "host all all 127.0.0.1/32 scram-sha-256\n"
    )
    settings = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(port),
        "unix_socket_directories": f"'{layout.sockets}'",
        "shared_preload_libraries": "'pg_stat_statements'",
        "pg_stat_statements.track": "all",
        "track_io_timing": "on",
        "max_connections": "60",
        "fsync": "off",  # loopback test platform: speed over durability of the host
        "synchronous_commit": "off",
        "wal_level": "replica",
        "max_wal_senders": "5",
        "archive_mode": "on",
        "archive_command": f"'{archive_command(layout)}'",
        "archive_timeout": "60",
        "logging_collector": "off",
    }
    with open(layout.primary / "postgresql.conf", "a") as handle:
        handle.writelines(f"{key} = {value}\n" for key, value in settings.items())


def start_postgres(supervisor: Supervisor, name: str, datadir: Path, port: int, sockets: Path, log: Path) -> None:
    """Start a postmaster under the supervisor and wait until it answers a query."""
    supervisor.start(
        name,
        [str(PG_BIN / "postgres"), "-D", str(datadir), "-p", str(port), "-c", f"unix_socket_directories={sockets}"],
        log,
        port=port,
        as_postgres=True,
        stop_signal=signal.SIGINT,  # fast shutdown (SIGTERM is smart: it waits for every client to leave)
        death_signal=3,  # SIGQUIT: immediate shutdown when the supervisor dies
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with psycopg.connect(superuser_conninfo(port), autocommit=True) as con:
                con.execute("SELECT 1")
            return
        except psycopg.OperationalError as exc:  # "the database system is starting up"
            if time.monotonic() > deadline:
                raise HubError(f"{name} did not accept queries within 60 s: {exc}") from None
            time.sleep(0.1)


def create_roles(port: int, app_password: str, monitor_password: str) -> None:
    """The app's owner role and database, the monitoring role, and pg_stat_statements in the app database."""
    with psycopg.connect(superuser_conninfo(port), autocommit=True) as con:
        con.execute("SET pg_stat_statements.track_utility = off")  # keep the passwords out of the statistics
        con.execute(sql.SQL("CREATE ROLE hub_app LOGIN PASSWORD {}").format(sql.Literal(app_password)))
        con.execute(
            sql.SQL("CREATE ROLE sre_monitor LOGIN PASSWORD {} IN ROLE pg_monitor").format(
                sql.Literal(monitor_password)
            )
        )
        con.execute(f"CREATE DATABASE {APP_DATABASE} OWNER hub_app")
        con.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    with psycopg.connect(superuser_conninfo(port, APP_DATABASE), autocommit=True) as con:
        con.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")


def grant_monitor_sequences(port: int) -> None:
    """Let sre_monitor see sequence values (for "sequence near its limit"), once the app's tables exist."""
    with psycopg.connect(superuser_conninfo(port, APP_DATABASE), autocommit=True) as con:
        con.execute("GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO sre_monitor")


def write_pgbackrest_conf(layout: PostgresLayout, port: int) -> None:
    """A pgbackrest.conf of the hub's own: repository, logs and locks in the state directory."""
    folder = layout.pgbackrest_conf.parent
    for sub in (folder, folder / "repo", layout.offsite_repo, folder / "log", folder / "lock", folder / "spool"):
        sub.mkdir(parents=True, exist_ok=True)
        _chown_postgres(sub)
    layout.pgbackrest_conf.write_text(
        "[global]\n"
        f"repo1-path={folder / 'repo'}\n"
        "repo1-retention-full=2\n"
        f"repo2-path={layout.offsite_repo}\n"
        "repo2-retention-full=2\n"
        f"log-path={folder / 'log'}\n"
        f"lock-path={folder / 'lock'}\n"
        f"spool-path={folder / 'spool'}\n"
        "log-level-console=warn\n"
        "log-level-file=info\n"
        "start-fast=y\n"
        "compress-type=none\n"
        "\n"
        f"[{STANZA}]\n"
        f"pg1-path={layout.primary}\n"
        f"pg1-port={port}\n"
        f"pg1-socket-path={layout.sockets}\n"
        "pg1-user=postgres\n"
    )
    layout.pgbackrest_conf.chmod(0o644)


def pgbackrest(layout: PostgresLayout, *args: str, what: str) -> subprocess.CompletedProcess[str]:
    return run_as_postgres(["pgbackrest", f"--config={layout.pgbackrest_conf}", f"--stanza={STANZA}", *args], what)


def full_backup(layout: PostgresLayout) -> str:
    """stanza-create (both repositories), a full backup into repo1, then its off-site copy into repo2; returns
    the label of repo1's backup (the one the restore test restores)."""
    pgbackrest(layout, "stanza-create", what="pgbackrest stanza-create")
    pgbackrest(layout, "--repo=1", "--type=full", "backup", what="pgbackrest backup")
    label = latest_backup_label(layout, repo=1)
    offsite_copy(layout)
    return label


def offsite_copy(layout: PostgresLayout) -> str:
    """The off-site copy of the full backup: pgBackRest 2.45 copies no backup between repositories, so a full
    backup goes into repo2 (``backup --repo=2``), as pgBackRest's multi-repository setups do. Appends one
    ``offsite`` row (ok or failed) to the log and returns repo2's label."""
    started = datetime.now(UTC)
    status, label, notes = "failed", "", ""
    try:
        pgbackrest(layout, "--repo=2", "--type=full", "backup", what="pgbackrest backup --repo=2 (off-site copy)")
        label = latest_backup_label(layout, repo=2)
        status, notes = "ok", "full backup into pgBackRest repo2"
    except HubError as exc:
        notes = str(exc)[:200]
        raise
    finally:
        finished = datetime.now(UTC)
        _append_log_row(layout.restore_log, "offsite", label, started, finished, status,
                        f"pgbackrest repo2 {layout.offsite_repo}", notes)  # fmt: skip
    return label


def latest_backup_label(layout: PostgresLayout, repo: int = 1) -> str:
    """The newest backup's label in one repository."""
    import json

    info = json.loads(pgbackrest(layout, f"--repo={repo}", "--output=json", "info", what="pgbackrest info").stdout)
    backups = info[0].get("backup", []) if info else []
    if not backups:
        raise HubError(f"pgbackrest info shows no backup in stanza {STANZA}, repo{repo} ({layout.pgbackrest_conf})")
    return str(backups[-1]["label"])


def restore_test(layout: PostgresLayout, supervisor: Supervisor, port: int, label: str) -> float:
    """Restore ``label`` into a scratch directory, start it on ``port`` until it answers, stop and delete it.

    Appends one ``restore_test`` row to the restore-test log (ok or failed) and returns the seconds it took.
    """
    scratch = layout.root / "restore-scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(mode=0o700)
    _chown_postgres(scratch)
    started = datetime.now(UTC)
    status, notes = "failed", ""
    try:
        pgbackrest(
            layout, f"--pg1-path={scratch}", f"--set={label}", "--type=immediate", "--target-action=promote",
            "--archive-mode=off", "restore", what="pgbackrest restore",
        )  # fmt: skip
        start_postgres(supervisor, "restore-test", scratch, port, layout.sockets, layout.root / "restore-test.log")
        with psycopg.connect(superuser_conninfo(port, APP_DATABASE), autocommit=True) as con:
            tables = con.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
        status, notes = "ok", f"answered a query: {tables[0] if tables else 0} tables in {APP_DATABASE}"
    except HubError as exc:
        notes = str(exc)[:200]
        raise
    finally:
        if "restore-test" in supervisor.names():
            supervisor.stop("restore-test")
        shutil.rmtree(scratch, ignore_errors=True)
        finished = datetime.now(UTC)
        _append_log_row(layout.restore_log, "restore_test", label, started, finished, status, str(scratch), notes)
    return (finished - started).total_seconds()


def _append_log_row(
    log: Path,
    kind: str,
    label: str,
    started: datetime,
    finished: datetime,
    status: str,
    destination: str,
    notes: str,
) -> None:
    """One ``restore_test`` or ``offsite`` row of the backup log (with the header when the log is new)."""
    new = not log.exists()
    with open(log, "a", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(RESTORE_LOG_HEADER)
        writer.writerow(
            [kind, "postgresql", label, started.isoformat(timespec="seconds"),
             finished.isoformat(timespec="seconds"), status, destination, notes]
        )  # fmt: skip


def make_replica(layout: PostgresLayout, primary_port: int) -> None:
    """pg_basebackup -R from the primary into the replica's directory (streaming, no archive needed)."""
    run_as_postgres(
        [str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary_port), "-U", "postgres",
         "-D", str(layout.replica), "-R", "-X", "stream", "-c", "fast", "--no-sync"],
        "pg_basebackup for the replica",
    )  # fmt: skip


def new_password() -> str:
    return secrets.token_urlsafe(24)
