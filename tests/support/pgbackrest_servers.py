"""A real PostgreSQL 15 archiving its WAL through pgBackRest into a repository in a scratch folder.

Built on ``servers.postgres_server``: archive_mode on, archive_command ``pgbackrest archive-push``, a stanza
created, and a pgbackrest.conf of its own (repository, log and lock folders in the scratch folder), so nothing
is read or written outside it. pgBackRest runs as the ``postgres`` user (``runuser`` when the tests run as
root), as PostgreSQL's own archive_command does. Everything is removed when the context ends.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from support.servers import PostgresServer, postgres_server, require

STANZA = "main"
#: How long ``pgbackrest check`` waits for a WAL segment to reach the archive: short, so a broken archive_command
#: is seen in seconds (pgBackRest's default is 60 s).
ARCHIVE_TIMEOUT_SECONDS = 3


@dataclass
class PgBackRestCluster:
    """A PostgreSQL server, its pgBackRest stanza and repository, and how to run pgBackRest on them."""

    server: PostgresServer
    scratch: Path
    config_path: Path
    stanza: str
    archive_command: str

    @property
    def command_prefix(self) -> tuple[str, ...]:
        """What runs pgBackRest as the postgres user (empty when the tests are not root)."""
        return ("runuser", "-u", "postgres", "--") if os.geteuid() == 0 else ()

    def pgbackrest(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run ``pgbackrest --config=... --stanza=... <args>`` as the postgres user."""
        argv = [*self.command_prefix, "pgbackrest", f"--config={self.config_path}", f"--stanza={self.stanza}", *args]
        return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=timeout)

    def backup(self, kind: str = "full") -> None:
        self.pgbackrest("backup", f"--type={kind}")

    def break_archiving(self) -> None:
        """archive_command fails from now on (ALTER SYSTEM and a reload): it pushes to a repository that is not
        there, as when the archive's storage is lost or unmounted."""
        lost = self.archive_command.replace(" archive-push", f" --repo1-path={self.scratch / 'lost-repo'} archive-push")
        self.server.reconfigure(archive_command=lost)

    def mend_archiving(self) -> None:
        self.server.reconfigure(archive_command=self.archive_command)

    def source_settings(self) -> dict[str, object]:
        """A ``[sources.pgbackrest]`` section for this stanza, as a platform config holds it."""
        return {
            "stanza": self.stanza,
            "config": str(self.config_path),
            "command_prefix": list(self.command_prefix),
            "timeout_seconds": 60.0,
        }


def _owned_by_postgres(path: Path, mode: int = 0o750) -> Path:
    path.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(path, pw.pw_uid, pw.pw_gid)
    path.chmod(mode)
    return path


@contextlib.contextmanager
def pgbackrest_cluster(stanza: str = STANZA) -> Iterator[PgBackRestCluster]:
    """PostgreSQL 15 with WAL archived by pgBackRest into a fresh repository, stanza created (no backup yet)."""
    require("pgbackrest")
    scratch = _owned_by_postgres(Path(tempfile.mkdtemp(prefix="sre-pgbackrest-")), 0o755)
    for folder in ("repo", "log", "lock"):
        _owned_by_postgres(scratch / folder)
    config_path = scratch / "pgbackrest.conf"
    archive_command = f"pgbackrest --config={config_path} --stanza={stanza} archive-push %p"
    try:
        with postgres_server(
            {"archive_mode": "on", "archive_command": f"'{archive_command}'", "wal_level": "replica"}
        ) as server:
            config_path.write_text(
                "[global]\n"
                f"repo1-path={scratch / 'repo'}\nlog-path={scratch / 'log'}\nlock-path={scratch / 'lock'}\n"
                "log-level-console=warn\nlog-level-file=off\nstart-fast=y\ncompress-type=none\n"
                f"archive-timeout={ARCHIVE_TIMEOUT_SECONDS}\n"
                f"[{stanza}]\npg1-path={server.datadir}\npg1-port={server.port}\n"
                f"pg1-socket-path={server.datadir.parent}\npg1-user=postgres\n"
            )
            config_path.chmod(0o644)
            cluster = PgBackRestCluster(server, scratch, config_path, stanza, archive_command)
            cluster.pgbackrest("stanza-create")
            yield cluster
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
