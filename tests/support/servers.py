"""Real servers for integration tests: started on a free loopback port, torn down afterwards.

PostgreSQL refuses to run as root, so when the tests run as root the server runs as the `postgres` user.
When a server binary is missing the fixture skips, and under CI=true that skip is a failure (conftest).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_BIN = Path(os.environ.get("SRE_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30.0, what: str = "server") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout} s")


def require(binary: str | Path) -> str:
    found = shutil.which(str(binary))
    if not found:
        pytest.skip(f"{binary} is not installed (.ci/run installs it)")
    return found


def _stop(process: subprocess.Popen, timeout: float = 10.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class PostgresServer:
    """A throwaway PostgreSQL with pg_stat_statements preloaded. Superuser `postgres` trusts loopback."""

    port: int
    datadir: Path
    process: subprocess.Popen
    run_as: str | None

    def dsn(self, user: str = "postgres", password: str | None = None, dbname: str = "postgres") -> str:
        secret = f" password={password}" if password else ""
        return f"host=127.0.0.1 port={self.port} user={user} dbname={dbname}{secret}"

    def execute(self, sql: str, dbname: str = "postgres") -> list[tuple]:
        import psycopg

        with psycopg.connect(self.dsn(dbname=dbname), autocommit=True) as con:
            cursor = con.execute(sql)
            return cursor.fetchall() if cursor.description else []

    def command(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL client binary (pgbench, psql) against this server as the postgres user."""
        argv = [str(PG_BIN / args[0]) if (PG_BIN / args[0]).exists() else args[0], *args[1:]]
        env = {**os.environ, "PGHOST": "127.0.0.1", "PGPORT": str(self.port), "PGUSER": "postgres"}
        return subprocess.run(argv, env=env, capture_output=True, text=True, check=check, timeout=300)

    def reconfigure(self, **settings: str) -> None:
        """ALTER SYSTEM each setting and reload (settings needing a restart need restart())."""
        for name, value in settings.items():
            self.execute(f"ALTER SYSTEM SET {name} = '{value}'")
        self.execute("SELECT pg_reload_conf()")


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@contextlib.contextmanager
def postgres_server(extra_conf: dict[str, str] | None = None) -> Iterator[PostgresServer]:
    require(PG_BIN / "postgres")
    base = Path(tempfile.mkdtemp(prefix="sre-pg-"))
    datadir = base / "data"
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(base, pw.pw_uid, pw.pw_gid)
    base.chmod(0o755)
    subprocess.run(
        _as_postgres(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(datadir),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ]
        ),
        check=True,
        capture_output=True,
        text=True,
    )
    hba = datadir / "pg_hba.conf"
    hba.write_text(
        "local all postgres trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
        "host replication postgres 127.0.0.1/32 trust\n"  # pg_receivewal in the DR tests
    )
    port = free_port()
    conf = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(port),
        "unix_socket_directories": f"'{base}'",
        "shared_preload_libraries": "'pg_stat_statements'",
        "pg_stat_statements.track": "all",
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "max_connections": "50",
        "track_io_timing": "on",
        "logging_collector": "off",
        **(extra_conf or {}),
    }
    with open(datadir / "postgresql.conf", "a") as handle:
        handle.writelines(f"{key} = {value}\n" for key, value in conf.items())
    log = open(base / "postgres.log", "w")  # noqa: SIM115 - closed in finally
    if os.geteuid() == 0:
        os.chown(base / "postgres.log", pwd.getpwnam("postgres").pw_uid, -1)
    process = subprocess.Popen(
        _as_postgres([str(PG_BIN / "postgres"), "-D", str(datadir)]), stdout=log, stderr=subprocess.STDOUT
    )
    server = PostgresServer(
        port=port, datadir=datadir, process=process, run_as="postgres" if os.geteuid() == 0 else None
    )
    try:
        wait_for_port(port, process, what="postgres")
        _wait_until_accepting(server)
        server.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        yield server
    finally:
        _stop(process)
        log.close()
        shutil.rmtree(base, ignore_errors=True)


def _wait_until_accepting(server: PostgresServer, timeout: float = 30.0) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            server.execute("SELECT 1")
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@dataclass
class RedisServer:
    port: int
    password: str
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def benchmark(self, requests: int, tests: str = "set,get") -> subprocess.CompletedProcess[str]:
        binary = require("redis-benchmark")
        return subprocess.run(
            [binary, "-h", "127.0.0.1", "-p", str(self.port), "-a", self.password, "-n", str(requests),
             "-t", tests, "-c", "4", "-q"],
            capture_output=True, text=True, check=True, timeout=120,
        )  # fmt: skip


@contextlib.contextmanager
def redis_server(password: str = "test-redis-secret", maxmemory: str = "64mb") -> Iterator[RedisServer]:
    binary = require("redis-server")
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="sre-redis-"))
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--requirepass", password, "--maxmemory", maxmemory, "--dir", str(workdir), "--daemonize", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_port(port, process, what="redis-server")
        yield RedisServer(port=port, password=password, process=process)
    finally:
        _stop(process)
        shutil.rmtree(workdir, ignore_errors=True)
