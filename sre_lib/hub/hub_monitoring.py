"""The hub's exporters and its Prometheus, with the label contract the default catalogue is written against.

Every scrape target carries ``job`` = the workbench component (nginx, app, postgresql, redis, media),
``instance`` = the hub server (nginx-1, app-1, app-2, pg-1, pg-2, redis-1, media-1) and ``exporter`` = node,
app, postgres, redis, nginx or blackbox; blackbox probes also carry ``probe`` (https, tls).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from sre_lib.hub.processes import Supervisor

__all__ = [
    "SERVERS",
    "ScrapeTarget",
    "start_blackbox_exporter",
    "start_nginx_exporter",
    "start_node_exporter",
    "start_postgres_exporter",
    "start_prometheus",
    "start_redis_exporter",
    "write_prometheus_conf",
]

#: Each hub server and the workbench component (scrape job) it belongs to.
SERVERS: dict[str, str] = {
    "nginx-1": "nginx",
    "app-1": "app",
    "app-2": "app",
    "pg-1": "postgresql",
    "pg-2": "postgresql",
    "redis-1": "redis",
    "media-1": "media",
}
SCRAPE_INTERVAL = "2s"
# node_exporter's own default, less the media volume, which only the media server reports
DEFAULT_MOUNT_EXCLUDE = "^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)"


@dataclass(frozen=True)
class ScrapeTarget:
    """One target of the hub's Prometheus: an address with the contract's labels (and any extra, e.g. probe)."""

    job: str
    instance: str
    exporter: str
    address: str
    extra: dict[str, str] = field(default_factory=dict)


def start_node_exporter(supervisor: Supervisor, server: str, port: int, logs: Path, media: Path | None) -> None:
    """A node exporter for one hub server (cpu, meminfo, filesystem, loadavg); the media mount only on media-1."""
    exclude = DEFAULT_MOUNT_EXCLUDE
    if media is not None and SERVERS[server] != "media":
        exclude = f"{exclude}|^{re.escape(str(media))}($|/)"
    supervisor.start(
        f"node-exporter {server}",
        ["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{port}", "--collector.disable-defaults",
         "--collector.cpu", "--collector.meminfo", "--collector.filesystem", "--collector.loadavg",
         f"--collector.filesystem.mount-points-exclude={exclude}"],
        logs / f"node-exporter-{server}.log", port=port,
    )  # fmt: skip


def start_postgres_exporter(
    supervisor: Supervisor, server: str, port: int, pg_port: int, monitor_password: str, logs: Path
) -> None:
    """postgres_exporter as sre_monitor; the password travels only in its environment (DATA_SOURCE_PASS)."""
    environment = {
        "PATH": "/usr/bin:/bin",
        "DATA_SOURCE_URI": f"127.0.0.1:{pg_port}/postgres?sslmode=disable",
        "DATA_SOURCE_USER": "sre_monitor",
        "DATA_SOURCE_PASS": monitor_password,
    }
    supervisor.start(
        f"postgres-exporter {server}",
        ["prometheus-postgres-exporter", f"--web.listen-address=127.0.0.1:{port}"],
        logs / f"postgres-exporter-{server}.log", port=port, env=environment,
    )  # fmt: skip


def start_redis_exporter(supervisor: Supervisor, port: int, redis_port: int, redis_password: str, logs: Path) -> None:
    """redis_exporter for redis-1; the password reaches it through its environment, never its command line."""
    environment = {"PATH": "/usr/bin:/bin", "REDIS_PASSWORD": redis_password}
    supervisor.start(
        "redis-exporter redis-1",
        ["prometheus-redis-exporter", f"-redis.addr=redis://127.0.0.1:{redis_port}",
         f"-web.listen-address=127.0.0.1:{port}"],
        logs / "redis-exporter.log", port=port, env=environment,
    )  # fmt: skip


def start_nginx_exporter(supervisor: Supervisor, port: int, status_port: int, logs: Path) -> None:
    """nginx-prometheus-exporter reading nginx's stub_status page."""
    supervisor.start(
        "nginx-exporter nginx-1",
        ["prometheus-nginx-exporter", f"-nginx.scrape-uri=http://127.0.0.1:{status_port}/stub_status",
         f"-web.listen-address=127.0.0.1:{port}"],
        logs / "nginx-exporter.log", port=port,
    )  # fmt: skip


def start_blackbox_exporter(supervisor: Supervisor, port: int, folder: Path, logs: Path) -> None:
    """Blackbox with two modules: an HTTPS GET expecting 2xx, and a TLS handshake (both skip verification)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "blackbox.yml"
    tls = {"insecure_skip_verify": True}
    http = {"preferred_ip_protocol": "ip4", "tls_config": tls}
    tcp = {"preferred_ip_protocol": "ip4", "tls": True, "tls_config": tls}
    modules = {
        "modules": {
            "http_2xx": {"prober": "http", "timeout": "2s", "http": http},
            "tls_connect": {"prober": "tcp", "timeout": "2s", "tcp": tcp},
        }
    }
    config.write_text(json.dumps(modules, indent=1))  # YAML is a superset of JSON
    supervisor.start(
        "blackbox-exporter nginx-1",
        ["prometheus-blackbox-exporter", f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"],
        logs / "blackbox-exporter.log", port=port,
    )  # fmt: skip


def write_prometheus_conf(folder: Path, targets: list[ScrapeTarget], media: Path | None = None) -> Path:
    """prometheus.yml: one scrape job per component; each target's labels set in its static config.

    The media job keeps only the media volume's filesystem series: media-1 is a volume, not a machine, and
    shares the host's other mounts (the root disk would otherwise count as media).
    """
    folder.mkdir(parents=True, exist_ok=True)
    jobs: dict[str, list[dict[str, object]]] = {}
    for target in targets:
        labels = {"instance": target.instance, "exporter": target.exporter, **target.extra}
        jobs.setdefault(target.job, []).append({"targets": [target.address], "labels": labels})
    config = {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "scrape_timeout": SCRAPE_INTERVAL,
                   "evaluation_interval": "15s"},
        "scrape_configs": [
            {"job_name": job, "static_configs": groups, **_media_only(job, media)} for job, groups in jobs.items()
        ],
    }  # fmt: skip
    path = folder / "prometheus.yml"
    path.write_text(json.dumps(config, indent=1))
    return path


def _media_only(job: str, media: Path | None) -> dict[str, object]:
    if job != "media" or media is None:
        return {}
    volume_only = {"source_labels": ["__name__"], "regex": "node_filesystem_.+", "action": "keep"}
    this_mount = {"source_labels": ["mountpoint"], "regex": re.escape(str(media)), "action": "keep"}
    return {"metric_relabel_configs": [volume_only, this_mount]}


def start_prometheus(supervisor: Supervisor, port: int, config: Path, storage: Path, logs: Path) -> None:
    """Prometheus with the hub's scrape config, its storage in the state folder (7 days kept)."""
    storage.mkdir(parents=True, exist_ok=True)
    supervisor.start(
        "prometheus",
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={storage}",
         f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=7d", "--web.enable-lifecycle"],
        logs / "prometheus.log", port=port,
    )  # fmt: skip
