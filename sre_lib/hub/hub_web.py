"""The hub's web tier: a self-signed certificate, nginx terminating TLS in front of the two app servers (with
``stub_status`` on a port of its own), and the app servers themselves (``python -m sre_lib.hub.webapp``).

nginx runs from the Debian binary with a prefix and config in the state directory (no root paths): ``-p`` for the
prefix, ``-e`` for the early error log, and every temp path set.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from sre_lib.hub.processes import HubError, Supervisor

__all__ = ["make_certificate", "reload_nginx", "start_app_server", "start_nginx", "write_nginx_conf"]


def make_certificate(folder: Path, days: int) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost valid for ``days``; returns (cert, key) paths."""
    if days < 1:
        raise ValueError(f"certificate validity: expected at least 1 day, got {days}")
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "hub.crt", folder / "hub.key"
    result = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", str(days),
         "-subj", "/CN=localhost/O=Community Hub (sre hub)", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key) + ".new", "-out", str(cert) + ".new"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if result.returncode != 0:
        raise HubError(f"openssl could not make the hub's certificate: {result.stderr.strip()[-300:]}")
    os.chmod(str(key) + ".new", 0o600)
    os.replace(str(key) + ".new", key)  # replaced whole, so a reload never reads half a pair
    os.replace(str(cert) + ".new", cert)
    return cert, key


def write_nginx_conf(
    prefix: Path, https_port: int, status_port: int, app_ports: list[int], cert: Path, key: Path
) -> Path:
    """nginx.conf: TLS on ``https_port`` proxying round-robin to the app servers; stub_status on its own port."""
    for folder in ("logs", "temp"):
        (prefix / folder).mkdir(parents=True, exist_ok=True)
    upstreams = "".join(f"    server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;\n" for port in app_ports)
    temp = prefix / "temp"
    user = "user root root;\n" if os.geteuid() == 0 else ""  # workers need the prefix's temp folders
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'logs' / 'error.log'} warn;\n"
        "events { worker_connections 512; }\n"
        "http {\n"
        f"  access_log {prefix / 'logs' / 'access.log'};\n"
        f"  client_body_temp_path {temp / 'body'};\n  proxy_temp_path {temp / 'proxy'};\n"
        f"  fastcgi_temp_path {temp / 'fastcgi'};\n  uwsgi_temp_path {temp / 'uwsgi'};\n"
        f"  scgi_temp_path {temp / 'scgi'};\n"
        "  upstream app {\n" + upstreams + "  }\n"
        "  server {\n"
        f"    listen 127.0.0.1:{https_port} ssl;\n    server_name localhost;\n"
        f"    ssl_certificate {cert};\n    ssl_certificate_key {key};\n"
        "    location / {\n"
        "      proxy_pass http://app;\n"
        "      proxy_next_upstream error timeout http_502 http_503;\n"
        "      proxy_connect_timeout 2s;\n"
        "      proxy_set_header Host $host;\n"
        "      proxy_set_header X-Forwarded-Proto https;\n"
        "      add_header X-Hub-Upstream $upstream_addr always;\n"
        "    }\n"
        "  }\n"
        "  server {\n"
        f"    listen 127.0.0.1:{status_port};\n"
        "    location = /stub_status { stub_status; }\n"
        "  }\n"
        "}\n"
    )
    return conf


def start_nginx(supervisor: Supervisor, prefix: Path, conf: Path, https_port: int, status_port: int) -> None:
    """nginx with the hub's config (checked with `nginx -t` first, so a bad config is named, not a hang)."""
    check = subprocess.run(
        ["nginx", "-t", "-q", "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "logs" / "error.log")],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    if check.returncode != 0:
        raise HubError(f"nginx refused its config {conf}: {check.stderr.strip()[-300:]}")
    supervisor.start(
        "nginx", ["nginx", "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "logs" / "error.log")],
        prefix / "logs" / "nginx.out", port=https_port,
    )  # fmt: skip
    from sre_lib.hub.processes import wait_for_port

    wait_for_port(status_port, supervisor.child("nginx").process, timeout=30, what="nginx stub_status")


def reload_nginx(supervisor: Supervisor) -> None:
    """SIGHUP: nginx re-reads its config and certificate, starting new workers, with no connection lost."""
    os.kill(supervisor.child("nginx").pid, signal.SIGHUP)


def start_app_server(supervisor: Supervisor, name: str, port: int, logs: Path, environment: Mapping[str, str]) -> None:
    """``python -m sre_lib.hub.webapp`` with the PostgreSQL DSN and Redis URL only in its environment."""
    supervisor.start(
        name, [sys.executable, "-m", "sre_lib.hub.webapp", "--name", name, "--host", "127.0.0.1", "--port", str(port)],
        logs / f"{name}.log", port=port, env=environment,
    )  # fmt: skip
