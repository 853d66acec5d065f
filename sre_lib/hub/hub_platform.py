"""The Community Hub in a box: ``Hub.start(dir)`` starts the whole platform on loopback and ``hub.stop()`` (or
leaving the ``with`` block) stops every process it started, in order, and unmounts the media volume.

    with Hub.start(state_dir, base_port=0, cert_days=90) as hub:
        subprocess.run(["sre", "collect", "all", "--since", "15m"], env=hub.env)
        hub.fault("stop-app")

Secrets (the app's and the monitoring role's PostgreSQL passwords, Redis's) are generated at start, kept in
0600 files under ``<dir>/secrets`` and handed to servers only through their environment or a 0600 file.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sre_lib.hub import hub_monitoring as monitoring
from sre_lib.hub import hub_postgres as pg
from sre_lib.hub import hub_web as web
from sre_lib.hub.hub_settings import plan_ports, write_env_file, write_platform_toml
from sre_lib.hub.media_volume import mount_media, unmount_media
from sre_lib.hub.processes import HubError, Supervisor, kill_recorded

__all__ = ["Hub", "HubError", "default_state_dir", "stop_leftovers"]

STATE_MARKER = "hub.json"  # what says a folder is a hub's state, safe to wipe at the next start
SECRET_NAMES = ("hub_app.password", "sre_monitor.password", "redis.password")


def default_state_dir() -> Path:
    """Outside the repository, per uid, where the postgres account can reach it: /tmp/sre-hub-<uid>."""
    return Path(os.environ.get("SRE_HUB_DIR") or f"/tmp/sre-hub-{os.getuid()}")


def stop_leftovers(state_dir: Path) -> list[str]:
    """End whatever a crashed supervisor left in ``state_dir`` (recorded pids) and unmount its media volume."""
    ended = kill_recorded(state_dir)
    if unmount_media(state_dir):
        ended.append("media volume (unmounted)")
    return ended


def _prepare_state_dir(state_dir: Path) -> None:
    if state_dir.exists() and any(state_dir.iterdir()) and not (state_dir / STATE_MARKER).exists():
        raise HubError(f"--dir {state_dir}: not empty and not a hub's state folder; expected an empty or new folder")
    if state_dir.exists():
        stop_leftovers(state_dir)
        shutil.rmtree(state_dir)
    state_dir.mkdir(parents=True)
    state_dir.chmod(0o755)  # the postgres account must traverse it
    for parent in state_dir.resolve().parents:
        if os.geteuid() == 0 and not os.stat(parent).st_mode & 0o001:
            raise HubError(f"--dir {state_dir}: {parent} is not traversable by the postgres account")
    (state_dir / STATE_MARKER).write_text("{}")


def _write_secret(path: Path, value: str) -> None:
    path.parent.mkdir(mode=0o700, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(value + "\n")


@dataclass
class Hub:
    """A running hub: its state folder, ports, config and environment for ``sre``, and its faults."""

    state_dir: Path
    ports: dict[str, int]
    cert_days: int
    supervisor: Supervisor
    media_mount: Path | None = None
    media_note: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    backup_label: str = ""
    _passwords: dict[str, str] = field(default_factory=dict, repr=False)

    # -------------------------------------------------------------------------------------------- starting

    @classmethod
    def start(
        cls,
        state_dir: str | os.PathLike[str] | None = None,
        base_port: int = 0,
        cert_days: int = 90,
        progress: Callable[[str], None] | None = None,
    ) -> Hub:
        """Start every service; on a failure stop what was started and raise HubError naming the service."""
        if cert_days < 1:
            raise HubError(f"--cert-days: expected a number of days of 1 or more, got {cert_days}")
        folder = Path(state_dir) if state_dir else default_state_dir()
        folder = folder.absolute()
        _prepare_state_dir(folder)
        hub = cls(state_dir=folder, ports=plan_ports(base_port), cert_days=cert_days, supervisor=Supervisor(folder))
        try:
            hub._start_all(progress or (lambda _line: None))
        except BaseException:
            hub.stop()
            raise
        return hub

    def _step(self, progress: Callable[[str], None], what: str, port: int | None, action: Callable[[], Any]) -> None:
        started = time.monotonic()
        action()
        took = time.monotonic() - started
        self.timings[what] = took
        where = f"127.0.0.1:{port}" if port else ""
        progress(f"  {what:<34} {where:<16} {took:5.1f} s")

    def _start_all(self, progress: Callable[[str], None]) -> None:
        ports, logs, layout = self.ports, self.logs_dir, self.pg_layout
        logs.mkdir(exist_ok=True)
        for name, value in zip(SECRET_NAMES, (pg.new_password(), pg.new_password(), pg.new_password()), strict=True):
            self._passwords[name] = value
            _write_secret(self.secrets_dir / name, value)
        self._write_state()

        def media() -> None:
            self.media_mount, self.media_note = mount_media(self.state_dir)

        self._step(progress, "media volume media-1", None, media)
        if self.media_mount is None:
            progress(f"  media volume not mounted ({self.media_note}): media will read 'not monitored'")

        def primary() -> None:
            pg.init_primary(layout, ports["pg-1"])
            pg.write_pgbackrest_conf(layout, ports["pg-1"])
            pg.start_postgres(self.supervisor, "postgresql pg-1", layout.primary, ports["pg-1"], layout.sockets,
                              logs / "pg-1.log")  # fmt: skip
            pg.create_roles(ports["pg-1"], self._passwords["hub_app.password"], self._passwords["sre_monitor.password"])

        self._step(progress, "postgresql pg-1 (primary)", ports["pg-1"], primary)
        self._step(progress, "pgbackrest stanza, full backup", None, self._backup)
        self._step(
            progress, "pgbackrest restore test", ports["restore-test"],
            lambda: pg.restore_test(layout, self.supervisor, ports["restore-test"], self.backup_label),
        )  # fmt: skip

        def replica() -> None:
            pg.make_replica(layout, ports["pg-1"])
            pg.start_postgres(self.supervisor, "postgresql pg-2", layout.replica, ports["pg-2"], layout.sockets,
                              logs / "pg-2.log")  # fmt: skip

        self._step(progress, "postgresql pg-2 (streaming replica)", ports["pg-2"], replica)
        self._step(progress, "redis redis-1", ports["redis-1"], self._start_redis)

        def database() -> None:
            from sre_lib.hub.community_schema import prepare_database

            prepare_database(self.app_conninfo)
            pg.grant_monitor_sequences(ports["pg-1"])

        self._step(progress, "community_hub schema and seed", None, database)
        for name in ("app-1", "app-2"):
            self._step(progress, f"app server {name}", ports[name], lambda name=name: self._start_app(name))

        def nginx() -> None:
            cert, key = web.make_certificate(self.state_dir / "tls", self.cert_days)
            conf = web.write_nginx_conf(self.state_dir / "nginx", ports["nginx-https"], ports["nginx-status"],
                                        [ports["app-1"], ports["app-2"]], cert, key)  # fmt: skip
            web.start_nginx(
                self.supervisor, self.state_dir / "nginx", conf, ports["nginx-https"], ports["nginx-status"]
            )

        self._step(progress, f"nginx (TLS, {self.cert_days}-day certificate)", ports["nginx-https"], nginx)
        for server in monitoring.SERVERS:
            port = ports[f"node-exporter {server}"]
            self._step(progress, f"node-exporter {server}", port,
                       lambda s=server, p=port: monitoring.start_node_exporter(
                           self.supervisor, s, p, logs, self.media_mount))  # fmt: skip
        for server, pg_port in (("pg-1", ports["pg-1"]), ("pg-2", ports["pg-2"])):
            port = ports[f"postgres-exporter {server}"]
            self._step(progress, f"postgres-exporter {server}", port,
                       lambda s=server, p=port, q=pg_port: monitoring.start_postgres_exporter(
                           self.supervisor, s, p, q, self._passwords["sre_monitor.password"], logs))  # fmt: skip
        self._step(progress, "redis-exporter redis-1", ports["redis-exporter"],
                   lambda: monitoring.start_redis_exporter(self.supervisor, ports["redis-exporter"], ports["redis-1"],
                                                           self._passwords["redis.password"], logs))  # fmt: skip
        self._step(progress, "nginx-exporter nginx-1", ports["nginx-exporter"],
                   lambda: monitoring.start_nginx_exporter(self.supervisor, ports["nginx-exporter"],
                                                           ports["nginx-status"], logs))  # fmt: skip
        self._step(progress, "blackbox-exporter nginx-1", ports["blackbox"],
                   lambda: monitoring.start_blackbox_exporter(self.supervisor, ports["blackbox"],
                                                              self.state_dir / "blackbox", logs))  # fmt: skip

        def prometheus() -> None:
            conf = monitoring.write_prometheus_conf(
                self.state_dir / "prometheus", self.scrape_targets(), self.media_mount
            )
            monitoring.start_prometheus(self.supervisor, ports["prometheus"], conf,
                                        self.state_dir / "prometheus" / "data", logs)  # fmt: skip

        self._step(progress, "prometheus (scrapes every 2 s)", ports["prometheus"], prometheus)
        write_platform_toml(self)
        write_env_file(self)
        self._write_state()

    def _backup(self) -> None:
        self.backup_label = pg.full_backup(self.pg_layout)

    def _start_redis(self) -> None:
        folder = self.state_dir / "redis"
        folder.mkdir()
        conf = folder / "redis.conf"
        descriptor = os.open(conf, os.O_WRONLY | os.O_CREAT, 0o600)  # holds the password
        with os.fdopen(descriptor, "w") as handle:
            handle.write(
                f'bind 127.0.0.1\nport {self.ports["redis-1"]}\nsave ""\nappendonly no\ndir {folder}\n'
                f"maxmemory 8mb\nmaxmemory-policy allkeys-lru\nrequirepass {self._passwords['redis.password']}\n"
            )
        self.supervisor.start("redis redis-1", ["redis-server", str(conf)], self.logs_dir / "redis-1.log",
                              port=self.ports["redis-1"])  # fmt: skip

    def _start_app(self, name: str) -> None:
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HUB_PG_DSN": self.app_conninfo,
            "HUB_REDIS_URL": f"redis://:{self._passwords['redis.password']}@127.0.0.1:{self.ports['redis-1']}/0",
            "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        }
        web.start_app_server(self.supervisor, name, self.ports[name], self.logs_dir, environment)

    def _write_state(self) -> None:
        """hub.json: ports, paths and the supervisor's pid (no secrets), for `sre hub fault` and `sre hub down`."""
        state = {
            "supervisor": os.getpid(),
            "ports": self.ports,
            "cert_days": self.cert_days,
            "media_mount": str(self.media_mount) if self.media_mount else None,
            "media_note": self.media_note,
        }
        (self.state_dir / STATE_MARKER).write_text(json.dumps(state, indent=1))

    # -------------------------------------------------------------------------------------------- what it offers

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def secrets_dir(self) -> Path:
        return self.state_dir / "secrets"

    @property
    def pg_layout(self) -> pg.PostgresLayout:
        return pg.PostgresLayout(self.state_dir / "pg")

    @property
    def config_path(self) -> Path:
        return self.state_dir / "platform.toml"

    @property
    def env_path(self) -> Path:
        return self.state_dir / "env"

    @property
    def warehouse_path(self) -> Path:
        return self.state_dir / "warehouse.duckdb"

    @property
    def env(self) -> dict[str, str]:
        """The environment for `sre` subprocesses: this one, with SRE_CONFIG and SRE_WAREHOUSE set to the hub's."""
        return {**os.environ, "SRE_CONFIG": str(self.config_path), "SRE_WAREHOUSE": str(self.warehouse_path)}

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['prometheus']}"

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.ports['nginx-https']}"

    @property
    def stub_status_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['nginx-status']}/stub_status"

    @property
    def app_conninfo(self) -> str:
        """libpq conninfo of the app's role (holds its password: give it only to the app servers)."""
        password = self._passwords["hub_app.password"]
        return f"host=127.0.0.1 port={self.ports['pg-1']} dbname=community_hub user=hub_app password={password}"

    def superuser_conninfo(self, server: str = "pg-1", dbname: str = "postgres") -> str:
        """The postgres superuser over loopback (trusted; no password) on pg-1 or pg-2."""
        return pg.superuser_conninfo(self.ports[server], dbname)

    @property
    def redis_url(self) -> str:
        """Redis URL with its password (for tests and faults; never printed)."""
        return f"redis://:{self._passwords['redis.password']}@127.0.0.1:{self.ports['redis-1']}/0"

    @property
    def restore_log(self) -> Path:
        return self.pg_layout.restore_log

    @property
    def pgbackrest_conf(self) -> Path:
        return self.pg_layout.pgbackrest_conf

    def scrape_targets(self) -> list[monitoring.ScrapeTarget]:
        from sre_lib.hub.hub_settings import scrape_targets

        return scrape_targets(self.ports)

    def services(self) -> list[tuple[str, int]]:
        """Every running service and its port (0: none), in the order they started."""
        return [(child.name, child.port) for child in self.supervisor.children]

    def pids(self) -> list[int]:
        return [child.pid for child in self.supervisor.children]

    def fault(self, name: str) -> str:
        """Inject (or mend) a fault by name (see ``sre_lib.hub.hub_faults.FAULTS``); returns what it did."""
        from sre_lib.hub.hub_faults import apply_fault

        return apply_fault(self, name)

    def run_load(self, seconds: float, start_rps: float, end_rps: float, max_requests: int, stop: Any = None) -> Any:
        """The load generator (a ramp from start_rps to end_rps) against the https URL through nginx."""
        from sre_lib.hub.load import run_load

        return run_load(self.https_url, seconds, start_rps, end_rps, max_requests, verify_tls=False, stop=stop)

    # -------------------------------------------------------------------------------------------- stopping

    def stop_service(self, name: str) -> None:
        """Stop one service (a fault: the server is gone)."""
        self.supervisor.stop(name)

    def stop(self) -> None:
        """Stop every process, the last started first; unmount the media volume; remove the restore scratch."""
        self.supervisor.stop_all()
        unmount_media(self.state_dir)
        shutil.rmtree(self.pg_layout.root / "restore-scratch", ignore_errors=True)
        (self.state_dir / "pids").unlink(missing_ok=True)

    def __enter__(self) -> Hub:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
